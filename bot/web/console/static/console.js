// modbot console: live updates only. Pages work without this file; with it, a region marked
// data-live="<events URL>" is refreshed when the server says something changed: the page is fetched
// again and each [data-live] region is swapped for its new version (same id). No inline code (CSP).
"use strict";
(function () {
  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live][id]").forEach(function (region) {
          var next = fresh.getElementById(region.id);
          if (next) { region.replaceChildren.apply(region, Array.from(next.childNodes)); }
        });
      })
      .catch(function () { /* the next event tries again */ });
  }
  document.querySelectorAll("[data-live][id]").forEach(function (region) {
    if (!window.EventSource) { return; }
    var source = new EventSource(region.getAttribute("data-live"));
    source.addEventListener("changed", refresh);
    region.setAttribute("aria-live", "polite");
  });
})();
