// Live progress of a build page (templates/console/build.html.j2): follows the server-sent events of
// GET /console/builds/{id}/events and writes each state into the page. Without JavaScript the page
// shows the same facts and a refresh link; this file only keeps them current.
(function () {
  "use strict";
  var live = document.getElementById("build-live");
  if (!live || !window.EventSource || live.getAttribute("data-finished") === "true") {
    return;
  }
  // the words of the page's language, read from the page itself (it was rendered in that language)
  function words(attribute) {
    var out = {};
    var raw = live.getAttribute(attribute);
    if (raw) {
      try { out = JSON.parse(raw); } catch (e) { out = {}; }
    }
    return out;
  }
  var statusWords = words("data-status-words");
  var stageWords = words("data-stage-words");
  var stepWords = words("data-step-words");
  var statusMarks = words("data-status-marks");

  function field(name) {
    return live.querySelector('[data-field="' + name + '"]');
  }

  function apply(state) {
    var status = field("status");
    if (status) {
      status.className = "status status-" + state.status;
      status.textContent = (statusMarks[state.status] || "") + " " + (statusWords[state.status] || state.status);
    }
    var stage = field("stage");
    if (stage) { stage.textContent = stageWords[state.stage] || state.stage; }
    var progress = field("progress");
    if (progress) { progress.textContent = String(state.progress); }
    var bar = field("progress-bar");
    if (bar) { bar.value = state.progress; bar.textContent = state.progress + "%"; }
    state.timeline.forEach(function (step) {
      var item = live.querySelector('[data-stage="' + step.stage + '"]');
      if (!item) { return; }
      item.className = "step step-" + step.state;
      var text = item.querySelector('[data-field="step-state"]');
      if (text) { text.textContent = stepWords[step.state] || step.state; }
    });
    var note = field("live-note");
    if (note && state.finished) {
      note.textContent = live.getAttribute("data-finished-words") || "";
    }
    live.setAttribute("data-status", state.status);
    live.setAttribute("data-stage", state.stage);
  }

  var source = new EventSource(live.getAttribute("data-events-url"));
  source.addEventListener("build", function (event) {
    var state = JSON.parse(event.data);
    apply(state);
    if (state.finished) {
      source.close();
      live.setAttribute("data-finished", "true");
    }
  });
})();
