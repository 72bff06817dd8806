"""Real webhook payloads (@octokit/webhooks-examples) and their schemas (@octokit/openapi-webhooks).

Events and actions are named as in the ``X-GitHub-Event`` header and the payload's ``action``
(``pull_request`` / ``opened``, ``check_run`` / ``requested_action``); the hyphenated names of the
OpenAPI description (``pull-request/opened``) are derived from them.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from . import _files
from .rest import ConformanceError
from .schema import convert_schema, describe_errors, fill_missing_required, make_registry, make_validator

DEFAULT_WEBHOOKS_DESCRIPTION = "api.github.com"


class WebhookConformanceError(ConformanceError):
    """A webhook payload that does not match GitHub's published schema for its event/action."""


def _key(name: str) -> str:
    return name.replace("_", "-").lower()


@functools.cache
def _examples(description: str = DEFAULT_WEBHOOKS_DESCRIPTION) -> dict[str, list[dict[str, Any]]]:
    path = _files.package_file(_files.WEBHOOKS_EXAMPLES_PACKAGE, description, "index.json")
    return {entry["name"]: entry["examples"] for entry in _files.load_json(path)}


def webhook_events() -> list[str]:
    """Event names that have examples in @octokit/webhooks-examples."""
    return sorted(_examples())


def webhook_example(
    event: str, action: str | None = None, index: int = 0, *, complete: bool = True
) -> dict[str, Any]:
    """A deep copy of the ``index``-th real example payload for ``event`` (and ``action``, if given).

    The examples in @octokit/webhooks-examples 7.6.1 are community-contributed and older than the
    schemas in @octokit/openapi-webhooks: many lack properties GitHub has since made required (e.g.
    ``pull_request.auto_merge``, ``repository.has_discussions``, ``comment.reactions``). With
    ``complete`` (the default) exactly those missing *required* properties are added, as ``null`` where
    the schema allows it, else a minimal value; nothing present in the example is changed. Use
    ``complete=False`` for the payload exactly as published.
    """
    examples = _examples()
    if event not in examples:
        raise KeyError(f"no webhook examples for event {event!r}; events: {sorted(examples)}")
    candidates = [ex for ex in examples[event] if action is None or ex.get("action") == action]
    if not candidates:
        actions = sorted({str(ex.get("action")) for ex in examples[event]})
        raise KeyError(f"no {event} example with action {action!r}; example actions: {actions}")
    if not -len(candidates) <= index < len(candidates):
        raise IndexError(f"{event}.{action}: only {len(candidates)} example(s), asked for index {index}")
    payload = copy.deepcopy(candidates[index])
    if complete:
        load_webhook_schemas().complete(event, payload)
    return payload


class WebhookSchemas:
    """The webhook schemas of one @octokit/openapi-webhooks description (OpenAPI 3.1)."""

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        name: str = DEFAULT_WEBHOOKS_DESCRIPTION,
        check_formats: bool = True,
    ) -> None:
        self.name = name
        self.version = str(document.get("info", {}).get("version", "?"))
        self.check_formats = check_formats
        openapi30 = str(document.get("openapi", "")).startswith("3.0")
        self._ref_base = f"urn:github-webhooks:{name}"
        schemas = {
            key: convert_schema(value, self._ref_base, openapi30=openapi30)
            for key, value in document.get("components", {}).get("schemas", {}).items()
        }
        self._registry = make_registry({"components": {"schemas": schemas}}, self._ref_base)
        # (event, action or None) -> converted body schema
        self._schemas: dict[tuple[str, str | None], dict[str, Any]] = {}
        for item in document.get("webhooks", {}).values():
            op = item.get("post", {})
            event, _, action = str(op.get("operationId", "")).partition("/")
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is not None:
                converted = convert_schema(schema, self._ref_base, openapi30=openapi30)
                self._schemas[(event, action or None)] = converted
        self._validators: dict[tuple[str, str | None], Draft202012Validator] = {}

    @classmethod
    def load(cls, description: str = DEFAULT_WEBHOOKS_DESCRIPTION) -> WebhookSchemas:
        path = _files.package_file(_files.OPENAPI_WEBHOOKS_PACKAGE, "generated", f"{description}.json")
        return cls(_files.load_json(path), name=description)

    def actions(self, event: str) -> list[str | None]:
        return sorted((a for e, a in self._schemas if e == _key(event)), key=lambda a: a or "")

    def validator(self, event: str, action: str | None) -> Draft202012Validator:
        key = (_key(event), action)
        if key not in self._schemas and action is not None:
            key = (_key(event), _key(action))
        if key not in self._schemas:
            known = self.actions(event)
            if not known:
                raise WebhookConformanceError(f"GitHub documents no webhook event {event!r} ({self.name})")
            raise WebhookConformanceError(
                f"GitHub documents no {event!r} webhook with action {action!r}; documented actions: {known}"
            )
        validator = self._validators.get(key)
        if validator is None:
            validator = make_validator(self._schemas[key], self._registry, check_formats=self.check_formats)
            self._validators[key] = validator
        return validator

    def _action(self, event: str, payload: Mapping[str, Any]) -> str | None:
        documented = self.actions(event)
        if documented in ([], [None]):
            return None
        action = payload.get("action")
        if not isinstance(action, str):
            raise WebhookConformanceError(f"{event} payload needs an 'action', one of {documented}")
        return action

    def complete(self, event: str, payload: dict[str, Any]) -> list[str]:
        """Add the missing required properties (see `webhook_example`); return their JSON paths."""
        validator = self.validator(event, self._action(event, payload))
        return fill_missing_required(validator, self._registry, payload)

    def validate(self, event: str, payload: Mapping[str, Any]) -> None:
        action = self._action(event, payload)
        errors = list(self.validator(event, action).iter_errors(payload))
        if errors:
            label = f"{event}.{action}" if action else event
            raise WebhookConformanceError(
                f"{label} payload does not match @octokit/openapi-webhooks {self.version} ({self.name}):\n"
                + describe_errors(errors)
            )


@functools.cache
def load_webhook_schemas(description: str = DEFAULT_WEBHOOKS_DESCRIPTION) -> WebhookSchemas:
    return WebhookSchemas.load(description)


def validate_webhook(event: str, payload: Mapping[str, Any]) -> None:
    """Validate a (possibly modified) payload against the schema for ``event`` and its ``action``."""
    load_webhook_schemas().validate(event, payload)
