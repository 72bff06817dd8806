"""A request URL as its route template (``/repos/{owner}/{repo}/issues/{issue_number}/comments``): the
label of the GitHub call latency metric. A label must have few values, so no id, sha, login, ref or
path of a request ever reaches it; the names are GitHub's own (its OpenAPI description's templates,
which a test checks). Pure: a string in, a string out.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["route_template"]

# The path segments of the routes GitHubForge calls. Anything else in a path is a value.
_LITERALS = frozenset(
    {
        "access_tokens",
        "actions",
        "app",
        "blobs",
        "check-runs",
        "collaborators",
        "comments",
        "commits",
        "compare",
        "contents",
        "deployments",
        "files",
        "git",
        "installations",
        "issues",
        "matching-refs",
        "memberships",
        "orgs",
        "permission",
        "pulls",
        "reactions",
        "ref",
        "refs",
        "rerun",
        "reviews",
        "runs",
        "statuses",
        "tags",
        "teams",
        "trees",
        "user",
        "workflows",
    }
)
# the value after a literal, by (the literal before it, that literal); "" matches any
_PARAMETERS = {
    ("git", "blobs"): "file_sha",
    ("git", "commits"): "commit_sha",
    ("git", "tags"): "tag_sha",
    ("git", "trees"): "tree_sha",
    ("issues", "comments"): "comment_id",
    ("", "check-runs"): "check_run_id",
    ("", "collaborators"): "username",
    ("", "commits"): "ref",
    ("", "deployments"): "deployment_id",
    ("", "installations"): "installation_id",
    ("", "issues"): "issue_number",
    ("", "memberships"): "username",
    ("", "orgs"): "org",
    ("", "pulls"): "pull_number",
    ("", "runs"): "run_id",
    ("", "statuses"): "sha",
    ("", "teams"): "team_slug",
    ("", "workflows"): "workflow_id",
}
# the value after these takes the rest of the path (a file path, a ref with slashes, base...head)
_GREEDY = {"contents": "path", "ref": "ref", "refs": "ref", "matching-refs": "ref", "compare": "basehead"}


def route_template(url: str) -> str:
    """The route of ``url`` (absolute, or a path; the query is dropped) with every value replaced by its
    parameter name, e.g. ``/repos/o/r/git/ref/tags/deploy/prod`` → ``/repos/{owner}/{repo}/git/ref/{ref}``.
    An API base path (GitHub Enterprise's ``/api/v3``) is dropped."""
    path = urlsplit(url).path
    segments = [s for s in path.split("/") if s]
    for start, segment in enumerate(segments):  # skip a base path: the route starts at its first word
        if segment in ("repos", "repositories", "orgs", "app", "user"):
            segments = segments[start:]
            break
    out: list[str] = []
    index = 0
    if segments[:1] == ["repos"] and len(segments) >= 3:
        out, index = ["repos", "{owner}", "{repo}"], 3
    elif segments[:1] == ["repositories"] and len(segments) >= 2:  # the form of GitHub's next-page links
        out, index = ["repositories", "{repository_id}"], 2
    previous = ""
    while index < len(segments):
        segment = segments[index]
        if segment in _LITERALS:
            out.append(segment)
            if segment in _GREEDY and index + 1 < len(segments):
                out.append("{" + _GREEDY[segment] + "}")
                return "/" + "/".join(out)
            before = previous
            previous = segment
            index += 1
            if index < len(segments) and segments[index] not in _LITERALS:
                name = _PARAMETERS.get((before, segment)) or _PARAMETERS.get(("", segment)) or "id"
                out.append("{" + name + "}")
                index += 1
            continue
        out.append("{id}")
        index += 1
    return "/" + "/".join(out)
