"""GitHub's JSON to modbot's forge values (REST answers and the objects webhooks carry), and modbot's
values to the REST bodies GitHub takes. Pure: no request is made here."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from bot.forge import (
    Annotation,
    CheckRun,
    Comment,
    CommitInfo,
    Deployment,
    DeploymentStatus,
    ForgeError,
    PullRequest,
    Ref,
    Review,
    TagObject,
    WorkflowRun,
)
from bot.forge.github.limits import MAX_ANNOTATIONS_PER_REQUEST, truncate_output
from bot.forge.values import PERMISSIONS, Permission
from bot.forge.vocabulary import (
    check_deployment_request,
    check_deployment_state,
    status_description,
)


# --- JSON → our types ---------------------------------------------------------------------------------
def blob_bytes(blob: Mapping[str, Any]) -> bytes:
    encoding, content = blob.get("encoding"), str(blob.get("content") or "")
    if encoding == "base64":
        return base64.b64decode(content)
    if encoding in ("utf-8", "utf8"):
        return content.encode("utf-8")
    raise ForgeError("get_file", None, f"blob {blob.get('sha')} has an unknown encoding {encoding!r}")


def login_from_json(user: Any) -> str | None:
    return str(user["login"]) if isinstance(user, dict) and user.get("login") else None


def pull_from_json(repo: str, data: Mapping[str, Any]) -> PullRequest:
    head, base = data["head"], data["base"]
    head_repo = head.get("repo")
    return PullRequest(
        repo=repo,
        number=int(data["number"]),
        state=str(data["state"]),
        merged=bool(data.get("merged") or data.get("merged_at")),
        draft=bool(data.get("draft")),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        author=login_from_json(data.get("user")) or "",
        html_url=str(data["html_url"]),
        head_sha=str(head["sha"]),
        head_ref=str(head["ref"]),
        head_repo=str(head_repo["full_name"]) if isinstance(head_repo, dict) else None,
        base_sha=str(base["sha"]),
        base_ref=str(base["ref"]),
        merge_commit_sha=str(data["merge_commit_sha"]) if data.get("merge_commit_sha") else None,
    )


def comment_from_json(data: Mapping[str, Any]) -> Comment:
    user = data.get("user") or {}
    return Comment(
        id=int(data["id"]),
        body=str(data.get("body") or ""),
        author=login_from_json(user) or "",
        author_type=str(user.get("type") or ""),
        html_url=str(data.get("html_url") or ""),
    )


def check_run_from_json(data: Mapping[str, Any]) -> CheckRun:
    output = data.get("output") or {}
    return CheckRun(
        id=int(data["id"]),
        name=str(data["name"]),
        head_sha=str(data["head_sha"]),
        status=str(data["status"]),
        conclusion=data.get("conclusion"),
        html_url=data.get("html_url"),
        annotations_count=int(output.get("annotations_count") or 0),
    )


def ref_from_json(data: Mapping[str, Any]) -> Ref:
    return Ref(ref=str(data["ref"]), sha=str(data["object"]["sha"]), object_type=str(data["object"]["type"]))


def commit_info_from_json(data: Mapping[str, Any]) -> CommitInfo:
    git = data.get("commit") or {}
    return CommitInfo(
        sha=str(data["sha"]),
        author_login=login_from_json(data.get("author")),
        committer_login=login_from_json(data.get("committer")),
        author_email=str((git.get("author") or {}).get("email") or ""),
        committer_email=str((git.get("committer") or {}).get("email") or ""),
    )


def time_from_json(value: Any) -> datetime:
    """GitHub's ISO 8601 timestamp as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ForgeError("reading GitHub's answer", None, f"not a timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def url_from_json(value: Any) -> str | None:
    return str(value) if value else None  # GitHub sends "" for a URL never set


def review_from_json(data: Mapping[str, Any]) -> Review:
    submitted = data.get("submitted_at")
    return Review(
        id=int(data["id"]),
        author=login_from_json(data.get("user")),
        state=str(data["state"]),
        commit_id=str(data["commit_id"]) if data.get("commit_id") else None,
        submitted_at=time_from_json(submitted) if submitted else None,
    )


def _deployment_payload(value: Any) -> dict[str, Any]:
    """GitHub keeps a payload sent as a JSON string as that string; modbot's own are objects."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def deployment_from_json(data: Mapping[str, Any]) -> Deployment:
    """A Deployment object, as the REST API answers it and the `deployment_status` webhook carries it."""
    description = data.get("description")
    return Deployment(
        id=int(data["id"]),
        sha=str(data["sha"]),
        ref=str(data["ref"]),
        environment=str(data["environment"]),
        task=str(data["task"]),
        description=str(description) if description is not None else None,
        payload=_deployment_payload(data.get("payload")),
        creator=login_from_json(data.get("creator")),
        created_at=time_from_json(data["created_at"]),
    )


def deployment_status_from_json(data: Mapping[str, Any]) -> DeploymentStatus:
    """A Deployment status object, as the REST API answers it and the `deployment_status` webhook
    carries it."""
    return DeploymentStatus(
        id=int(data["id"]),
        state=str(data["state"]),
        description=str(data.get("description") or ""),
        log_url=url_from_json(data.get("log_url")) or url_from_json(data.get("target_url")),
        environment_url=url_from_json(data.get("environment_url")),
        creator=login_from_json(data.get("creator")),
        created_at=time_from_json(data["created_at"]),
    )


def tag_object_from_json(data: Mapping[str, Any]) -> TagObject:
    target = data["object"]
    return TagObject(
        sha=str(data["sha"]),
        tag=str(data["tag"]),
        message=str(data.get("message") or ""),
        object_sha=str(target["sha"]),
        object_type=str(target["type"]),
    )


def workflow_run_from_json(data: Mapping[str, Any]) -> WorkflowRun:
    """A workflow run object, as the REST API answers it and the `workflow_run` webhook carries it."""
    return WorkflowRun(
        id=int(data["id"]),
        name=str(data["name"]) if data.get("name") is not None else None,
        path=str(data.get("path") or ""),  # older payloads lack it: then no workflow file of ours matches
        head_sha=str(data["head_sha"]),
        head_branch=str(data["head_branch"]) if data.get("head_branch") is not None else None,
        event=str(data["event"]),
        status=str(data["status"]) if data.get("status") is not None else None,
        conclusion=str(data["conclusion"]) if data.get("conclusion") is not None else None,
        html_url=str(data["html_url"]),
        run_attempt=int(data.get("run_attempt") or 1),
        created_at=time_from_json(data["created_at"]),
    )


# --- our values → GitHub's REST bodies ---------------------------------------------------------
def annotation_batches(annotations: Sequence[Annotation]) -> list[Sequence[Annotation]]:
    if not annotations:
        return [()]
    size = MAX_ANNOTATIONS_PER_REQUEST
    return [annotations[i : i + size] for i in range(0, len(annotations), size)]


def check_output(
    title: str, summary: str, text: str | None, annotations: Sequence[Annotation]
) -> dict[str, Any] | None:
    if not (title or summary or text or annotations):
        return None
    if not title or not summary:
        raise ValueError("a check run output needs a title and a summary")
    output: dict[str, Any] = {"title": title[:255], "summary": truncate_output(summary)}
    if text:
        output["text"] = truncate_output(text)
    if annotations:
        output["annotations"] = [annotation_json(a) for a in annotations]
    return output


def annotation_json(a: Annotation) -> dict[str, Any]:
    data: dict[str, Any] = {
        "path": a.path,
        "start_line": a.start_line,
        "end_line": a.end_line,
        "annotation_level": a.level,
        "message": a.message,
    }
    if a.title:
        data["title"] = a.title
    return data


def deployment_request(
    *,
    ref: str,
    environment: str,
    description: str,
    payload: Mapping[str, Any],
    task: str,
    production_environment: bool | None,
) -> dict[str, Any]:
    """The exact ``POST /deployments`` body for `Forge.create_deployment` (ValueError on bad input)."""
    checked_description, checked_payload = check_deployment_request(
        ref=ref, environment=environment, description=description, payload=payload, task=task
    )
    body: dict[str, Any] = {
        "ref": ref,
        "task": task,
        "auto_merge": False,  # never let GitHub merge the default branch into what we deploy
        "required_contexts": [],  # modbot checks its own rules; GitHub must not block on contexts
        "payload": checked_payload,
        "environment": environment,
        "description": checked_description,
        "transient_environment": False,
    }
    if production_environment is not None:
        body["production_environment"] = production_environment
    return body


def deployment_status_request(
    state: str, description: str, log_url: str | None, environment_url: str | None, auto_inactive: bool
) -> dict[str, Any]:
    """The exact ``POST /deployments/{id}/statuses`` body (ValueError on bad input)."""
    check_deployment_state(state)
    body: dict[str, Any] = {
        "state": state,
        "description": status_description(description),
        "auto_inactive": auto_inactive,
    }
    if log_url is not None:
        body["log_url"] = log_url
    if environment_url is not None:
        body["environment_url"] = environment_url
    return body


def permission_from(permission: str | None, role_name: str | None) -> Permission:
    """The collaborator-permission answer as one role: ``role_name`` when it is a built-in role (GitHub's
    ``permission`` field folds maintain into write and triage into read), else the base ``permission``
    a custom role extends; anything unknown is ``none`` (fail closed)."""
    for candidate in (role_name, permission):
        if candidate in PERMISSIONS:
            return cast(Permission, candidate)
    return "none"
