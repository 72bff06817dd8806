"""GitHub's REST description (@octokit/openapi) as a request/response checker.

`GitHubAPI` loads one description (``api.github.com`` by default, or ``ghec`` / ``ghes-3.19`` ...: the
plain, non-dereferenced ``generated/<name>.json`` of the npm package), indexes every operation by HTTP
method and path template (compiled regexes, bucketed by first path segment) and validates:

* ``find_operation(method, url)``: the endpoint exists (else `UnknownEndpointError`, or
  `MethodNotAllowedError` when the path exists for other methods only);
* ``check_request(method, url, body)``: path parameters (integers must be integers), query parameters
  (unknown names are reported, see below), and the JSON body against ``requestBody``;
* ``check_response(method, url, status, body)``: the status is documented for the operation and the
  JSON body matches that status's schema.

URLs may be absolute (``https://api.github.com:443/repos/o/r``, a GHES ``https://ghe.example.com/api/v3``
base, optionally with an explicit default port) or API paths (``/repos/o/r``). Query strings never take
part in finding the operation. Unknown query parameters *are* reported by ``check_request`` (GitHub
silently ignores them, so a typo such as ``?stat=closed`` would go unnoticed in production); pass
``strict_query=False`` to `GitHubAPI` to turn that off. Formats ``date-time``, ``date``, ``uri`` and
``email`` are checked (see `schema.FORMAT_CHECKERS`); pass ``check_formats=False`` to turn that off.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jsonschema import Draft202012Validator

from . import _files
from .schema import (
    Schema,
    convert_schema,
    describe_errors,
    fill_missing_required,
    make_registry,
    make_validator,
)

DEFAULT_DESCRIPTION = "api.github.com"
PUBLIC_API_HOST = "api.github.com"
GHES_PATH_PREFIX = "/api/v3"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Path parameters whose values routinely contain "/" unencoded (git refs such as `tags/v1`, file paths,
# branch names, `base...head`). They may span several segments, but only if no template matches with
# every parameter confined to one segment.
SLASHY_PARAMETERS = frozenset({"ref", "path", "branch", "basehead", "base", "head"})
_PARAM = re.compile(r"\{([^{}]+)\}")
_NO_BODY = object()


class ConformanceError(AssertionError):
    """A request or response that does not conform to GitHub's published REST description."""


class UnknownEndpointError(ConformanceError):
    """GitHub has no operation for this method and path."""


class MethodNotAllowedError(UnknownEndpointError):
    """The path exists, but not for this HTTP method."""


class RequestConformanceError(ConformanceError):
    """The request's parameters or body do not match the operation."""


class ResponseConformanceError(ConformanceError):
    """The status is not documented for the operation, or the body does not match its schema."""


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # "path" | "query" | "header" | "cookie"
    required: bool
    schema: Schema | None


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    template: str  # "/repos/{owner}/{repo}/issues/comments/{comment_id}"
    operation_id: str  # "issues/update-comment"
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    parameters: tuple[Parameter, ...] = field(repr=False, compare=False)
    strict_regex: re.Pattern[str] = field(repr=False, compare=False)
    slashy_regex: re.Pattern[str] | None = field(repr=False, compare=False)
    specificity: int = field(repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.method} {self.template} ({self.operation_id})"

    @property
    def statuses(self) -> tuple[str, ...]:
        return tuple(self.raw.get("responses", {}))

    def query_parameters(self) -> dict[str, Parameter]:
        return {p.name: p for p in self.parameters if p.location == "query"}


@dataclass(frozen=True)
class Match:
    operation: Operation
    path: str  # the API path, without base path or query
    path_params: dict[str, str]
    query: dict[str, list[str]]


def _template_regex(template: str, *, slashy: bool) -> re.Pattern[str]:
    pattern = ""
    pos = 0
    for m in _PARAM.finditer(template):
        pattern += re.escape(template[pos : m.start()])
        name = m.group(1)
        group = re.sub(r"\W", "_", name)
        pattern += f"(?P<{group}>.+?)" if slashy and name in SLASHY_PARAMETERS else f"(?P<{group}>[^/]+)"
        pos = m.end()
    pattern += re.escape(template[pos:])
    return re.compile(pattern)


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") and len(path) > 1 else ""


def _strip_default_port(scheme: str, netloc: str) -> str:
    default = {"https": ":443", "http": ":80"}.get(scheme)
    if default and netloc.endswith(default):
        return netloc[: -len(default)]
    return netloc


def normalize_base_url(base_url: str) -> tuple[str, str, str]:
    """(scheme, host[:port], base path without trailing slash) with default ports dropped."""
    parts = urlsplit(base_url)
    return (
        parts.scheme.lower(),
        _strip_default_port(parts.scheme, parts.netloc.lower()),
        parts.path.rstrip("/"),
    )


def split_url(url: str, base_url: str | None = None) -> tuple[str, dict[str, list[str]]]:
    """The API path (e.g. ``/repos/o/r``) and parsed query of an absolute URL or a path.

    With ``base_url`` the URL must live under it. Without, ``api.github.com`` URLs are taken as they are
    and any other host must use the GHES ``/api/v3`` prefix.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    if not parts.scheme:
        if not parts.path.startswith("/"):
            raise UnknownEndpointError(f"not an absolute URL nor an API path starting with '/': {url!r}")
        return parts.path, query
    scheme = parts.scheme.lower()
    netloc = _strip_default_port(scheme, parts.netloc.lower())
    path = parts.path or "/"
    if base_url is not None:
        base_scheme, base_netloc, base_path = normalize_base_url(base_url)
        if (scheme, netloc) != (base_scheme, base_netloc) or not (
            path == base_path or path.startswith(base_path + "/")
        ):
            raise UnknownEndpointError(f"{url} is not under the GitHub API base URL {base_url}")
        return path[len(base_path) :] or "/", query
    if netloc == PUBLIC_API_HOST:
        return path, query
    if path.startswith(GHES_PATH_PREFIX + "/"):
        return path[len(GHES_PATH_PREFIX) :], query
    raise UnknownEndpointError(
        f"{url}: not api.github.com and not a GitHub Enterprise Server URL under {GHES_PATH_PREFIX}/"
    )


def _coerce_query_value(value: str, schema: Schema) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds and re.fullmatch(r"-?\d+", value):
        return int(value)
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            return value
    if "boolean" in kinds and value in ("true", "false"):
        return value == "true"
    if "array" in kinds:
        return value.split(",")
    return value


class GitHubAPI:
    """One GitHub REST description, indexed for fast lookups and validation."""

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        name: str = DEFAULT_DESCRIPTION,
        base_url: str | None = None,
        strict_query: bool = True,
        check_formats: bool = True,
    ) -> None:
        self.name = name
        self.document = document
        self.version = str(document.get("info", {}).get("version", "?"))
        self.openapi_version = str(document.get("openapi", "?"))
        self.base_url = base_url
        self.strict_query = strict_query
        self.check_formats = check_formats
        self._openapi30 = self.openapi_version.startswith("3.0")
        self._ref_base = f"urn:github-rest:{name}"
        components = document.get("components", {})
        converted = {
            key: convert_schema(value, self._ref_base, openapi30=self._openapi30)
            for key, value in components.get("schemas", {}).items()
        }
        self._registry = make_registry({"components": {"schemas": converted}}, self._ref_base)
        self._validators: dict[tuple[str, ...], Draft202012Validator] = {}
        self._operations: list[Operation] = []
        self._by_id: dict[str, Operation] = {}
        # first path segment -> operations (all methods); "" holds templates starting with a parameter
        self._buckets: dict[str, list[Operation]] = {}
        for template, item in document.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method in HTTP_METHODS:
                raw = item.get(method)
                if raw is None:
                    continue
                op = Operation(
                    method=method.upper(),
                    template=template,
                    operation_id=str(raw.get("operationId", f"{method} {template}")),
                    raw=raw,
                    parameters=self._parameters([*shared, *raw.get("parameters", [])]),
                    strict_regex=_template_regex(template, slashy=False),
                    slashy_regex=(
                        _template_regex(template, slashy=True)
                        if SLASHY_PARAMETERS & set(_PARAM.findall(template))
                        else None
                    ),
                    specificity=len(_PARAM.sub("", template)),
                )
                self._operations.append(op)
                self._by_id[op.operation_id] = op
                first = _first_segment(template)
                self._buckets.setdefault("" if first.startswith("{") else first, []).append(op)
        for ops in self._buckets.values():
            ops.sort(key=lambda op: -op.specificity)

    # --- loading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, description: str = DEFAULT_DESCRIPTION, **kwargs: Any) -> GitHubAPI:
        """Load ``node_modules/@octokit/openapi/generated/<description>.json``."""
        path = _files.package_file(_files.OPENAPI_PACKAGE, "generated", f"{description}.json")
        return cls(_files.load_json(path), name=description, **kwargs)

    # --- lookups -------------------------------------------------------------------------------
    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(self._operations)

    def operation(self, operation_id: str) -> Operation:
        try:
            return self._by_id[operation_id]
        except KeyError:
            close = difflib.get_close_matches(operation_id, self._by_id, n=3)
            raise UnknownEndpointError(f"no operation {operation_id!r} (close: {close})") from None

    def _deref(self, obj: Any) -> Any:
        seen = 0
        while isinstance(obj, dict) and isinstance(obj.get("$ref"), str) and seen < 20:
            target: Any = self.document
            for part in obj["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            obj = target
            seen += 1
        return obj

    def _parameters(self, raw_params: list[Any]) -> tuple[Parameter, ...]:
        params: dict[tuple[str, str], Parameter] = {}
        for raw in raw_params:
            p = self._deref(raw)
            schema = p.get("schema")
            params[(p["in"], p["name"])] = Parameter(
                name=p["name"],
                location=p["in"],
                required=bool(p.get("required", p["in"] == "path")),
                schema=convert_schema(schema, self._ref_base, openapi30=self._openapi30) if schema else None,
            )
        return tuple(params.values())

    def _candidates(self, path: str) -> list[Operation]:
        return self._buckets.get(_first_segment(path), []) + self._buckets.get("", [])

    def resolve(self, method: str, url: str, *, base_url: str | None = None) -> Match:
        """Find the operation for ``method url`` and split out its path and query parameters."""
        method = method.upper()
        path, query = split_url(url, base_url if base_url is not None else self.base_url)
        candidates = self._candidates(path)
        problems: list[str] = []
        other_methods: list[Operation] = []
        for slashy in (False, True):
            for op in candidates:
                regex = op.slashy_regex if slashy else op.strict_regex
                m = regex.fullmatch(path) if regex is not None else None
                if m is None:
                    continue
                if op.method != method:
                    other_methods.append(op)
                    continue
                names = _PARAM.findall(op.template)
                values = {name: unquote(value) for name, value in zip(names, m.groups(), strict=True)}
                problem = self._path_param_problem(op, values)
                if problem:
                    problems.append(f"{op}: {problem}")
                    continue
                return Match(operation=op, path=path, path_params=values, query=query)
        if problems:
            raise RequestConformanceError(f"{method} {path}: bad path parameter\n  " + "\n  ".join(problems))
        if other_methods:
            allowed = sorted({op.method for op in other_methods})
            raise MethodNotAllowedError(
                f"GitHub has no {method} {path}; the path exists only for {', '.join(allowed)} "
                f"({', '.join(sorted({str(op) for op in other_methods}))}) in the {self.name} description"
            )
        close = self._closest_templates(path)
        raise UnknownEndpointError(
            f"GitHub has no endpoint {method} {path} in the {self.name} description "
            f"(@octokit/openapi {self.version}); closest templates: {close}"
        )

    def _closest_templates(self, path: str, n: int = 3) -> list[str]:
        segments = path.strip("/").split("/")

        def segment_score(tmpl: str, seg: str) -> float:
            if tmpl == seg:
                return 2.0
            if tmpl.startswith("{"):
                return 1.0
            ratio = difflib.SequenceMatcher(None, tmpl, seg).ratio()
            return 2 * ratio if ratio >= 0.6 else 0.0

        def score(template: str) -> tuple[float, str]:
            parts = template.strip("/").split("/")
            same = sum(segment_score(t, p) for t, p in zip(parts, segments, strict=False))
            return (same - 2 * abs(len(parts) - len(segments)), template)

        bucket = self._buckets.get(_first_segment(path)) or self._operations
        templates = {op.template for op in bucket}
        return [t for _, t in sorted((score(t) for t in templates), key=lambda st: (-st[0], st[1]))[:n]]

    def find_operation(self, method: str, url: str, *, base_url: str | None = None) -> Operation:
        """The operation for ``method url``; raises `UnknownEndpointError` if GitHub has none."""
        return self.resolve(method, url, base_url=base_url).operation

    def _path_param_problem(self, op: Operation, values: Mapping[str, str]) -> str | None:
        for param in op.parameters:
            if param.location != "path" or param.schema is None or param.name not in values:
                continue
            value = _coerce_query_value(values[param.name], param.schema)
            errors = list(
                self._validator(("param", op.operation_id, "path", param.name), param.schema).iter_errors(
                    value
                )
            )
            if errors:
                return f"{{{param.name}}}={values[param.name]!r}: {errors[0].message}"
        return None

    # --- validation ----------------------------------------------------------------------------
    def _validator(self, key: tuple[str, ...], schema: Schema) -> Draft202012Validator:
        validator = self._validators.get(key)
        if validator is None:
            validator = make_validator(schema, self._registry, check_formats=self.check_formats)
            self._validators[key] = validator
        return validator

    def _schema_validator(self, key: tuple[str, ...], raw_schema: Schema) -> Draft202012Validator:
        validator = self._validators.get(key)
        if validator is None:
            schema = convert_schema(raw_schema, self._ref_base, openapi30=self._openapi30)
            validator = self._validator(key, schema)
        return validator

    def check_query(self, match: Match) -> None:
        op = match.operation
        known = op.query_parameters()
        problems: list[str] = []
        if self.strict_query:
            unknown = sorted(set(match.query) - set(known))
            if unknown:
                problems.append(f"unknown query parameter(s) {unknown}; documented: {sorted(known)}")
        for name, param in known.items():
            values = match.query.get(name)
            if values is None:
                if param.required:
                    problems.append(f"missing required query parameter {name!r}")
                continue
            if param.schema is None:
                continue
            validator = self._validator(("param", op.operation_id, "query", name), param.schema)
            for value in values:
                errors = list(validator.iter_errors(_coerce_query_value(value, param.schema)))
                if errors:
                    problems.append(f"query parameter {name}={value!r}: {errors[0].message}")
        if problems:
            raise RequestConformanceError(
                f"{op.method} {match.path} ({op.operation_id}): " + "; ".join(problems)
            )

    def check_request(
        self,
        method: str,
        url: str,
        body: bytes | str | None = None,
        *,
        content_type: str | None = None,
        base_url: str | None = None,
    ) -> Match:
        """Validate a request's endpoint, path and query parameters and JSON body; return the match."""
        match = self.resolve(method, url, base_url=base_url)
        op = match.operation
        self.check_query(match)
        request_body = self._deref(op.raw.get("requestBody"))
        where = f"{op.method} {match.path} ({op.operation_id})"
        if body is None or body in (b"", ""):
            if request_body and request_body.get("required"):
                raise RequestConformanceError(f"{where} requires a request body, none was sent")
            return match
        if not request_body:
            raise RequestConformanceError(f"{where} takes no request body, got {_preview(body)}")
        content = request_body.get("content", {})
        media = _pick_media(content, content_type)
        if media is None:
            return match  # a documented non-JSON body (octet-stream, text/plain)
        try:
            instance = json.loads(body)
        except ValueError as exc:
            raise RequestConformanceError(f"{where}: body is not JSON ({exc}): {_preview(body)}") from None
        schema = content[media].get("schema")
        if schema is None:
            return match
        validator = self._schema_validator(("request", op.operation_id, media), schema)
        errors = list(validator.iter_errors(instance))
        if errors:
            raise RequestConformanceError(
                f"{where}: request body does not match the {media} schema:\n{describe_errors(errors)}"
            )
        return match

    def response_spec(self, op: Operation, status: int | str) -> dict[str, Any]:
        responses = op.raw.get("responses", {})
        key = str(status)
        spec = responses.get(key) or responses.get(f"{key[:1]}XX") or responses.get("default")
        if spec is None:
            raise ResponseConformanceError(
                f"{op}: status {status} is not documented; documented: {', '.join(responses)}"
            )
        return dict(self._deref(spec))

    def default_status(self, op: Operation) -> int:
        """The first documented 2xx status (201 for most creates, 204 for deletes, 200 otherwise)."""
        for status in op.statuses:
            if status.isdigit() and status.startswith("2"):
                return int(status)
        raise ResponseConformanceError(f"{op}: no 2xx status documented")

    def check_response(
        self,
        method: str,
        url: str,
        status: int,
        body: Any = _NO_BODY,
        *,
        content_type: str | None = None,
        base_url: str | None = None,
    ) -> Operation:
        """Validate a response: ``status`` must be documented and ``body`` (JSON text, bytes or an
        already-decoded value) must match its schema. A body-less status must come without a body."""
        op = self.resolve(method, url, base_url=base_url).operation
        self.validate_response_body(op, status, body, content_type=content_type)
        return op

    def validate_response_body(
        self, op: Operation, status: int, body: Any = _NO_BODY, *, content_type: str | None = None
    ) -> None:
        spec = self.response_spec(op, status)
        content = spec.get("content") or {}
        where = f"{op} -> {status}"
        empty = body is _NO_BODY or body is None or body in (b"", "")
        if not content:
            if not empty:
                raise ResponseConformanceError(f"{where}: documented without a body, got {_preview(body)}")
            return
        media = _pick_media(content, content_type)
        if media is None:
            return  # text/html, diff, patch ...: nothing to validate
        if empty:
            raise ResponseConformanceError(f"{where}: documented with a {media} body, got none")
        instance = body
        if isinstance(body, bytes | str):
            try:
                instance = json.loads(body)
            except ValueError as exc:
                raise ResponseConformanceError(
                    f"{where}: body is not JSON ({exc}): {_preview(body)}"
                ) from None
        schema = content[media].get("schema")
        if schema is None:
            return
        validator = self._schema_validator(("response", op.operation_id, str(status), media), schema)
        errors = list(validator.iter_errors(instance))
        if errors:
            raise ResponseConformanceError(
                f"{where}: response body does not match the {media} schema:\n{describe_errors(errors)}"
            )

    def example(
        self,
        method: str,
        url: str,
        status: int | None = None,
        *,
        name: str | None = None,
        repair: bool = True,
    ) -> Any:
        """A deep copy of the documented example response body (``components/examples``).

        About a fifth of GitHub's documented examples do not match their own schemas, mostly by leaving
        out *required* properties (e.g. ``repos/get`` lacks ``language``, ``pulls/get`` lacks
        ``requested_teams[].type``). With ``repair`` (the default) such missing required properties are
        filled with ``null`` where the schema allows it, else a minimal value of the right type, and the
        result is checked; any other mismatch raises `ResponseConformanceError`.
        """
        op = self.resolve(method, url).operation
        status = status if status is not None else self.default_status(op)
        content = self.response_spec(op, status).get("content") or {}
        media = _pick_media(content, None)
        if media is None:
            raise ResponseConformanceError(f"{op} -> {status}: no JSON response documented")
        media_obj = content[media]
        if "examples" in media_obj:
            examples = media_obj["examples"]
            chosen = examples.get(name) if name else examples.get("default", next(iter(examples.values())))
            if chosen is None:
                raise ResponseConformanceError(
                    f"{op} -> {status}: no example {name!r}; have {list(examples)}"
                )
            value = copy.deepcopy(self._deref(chosen)["value"])
        elif "example" in media_obj:
            value = copy.deepcopy(media_obj["example"])
        else:
            raise ResponseConformanceError(f"{op} -> {status}: no example documented")
        schema = media_obj.get("schema")
        if not repair or schema is None:
            return value
        validator = self._schema_validator(("response", op.operation_id, str(status), media), schema)
        fill_missing_required(validator, self._registry, value)
        self.validate_response_body(op, status, value, content_type=media)
        return value


def _pick_media(content: Mapping[str, Any], content_type: str | None) -> str | None:
    if content_type:
        wanted = content_type.split(";", 1)[0].strip().lower()
        if wanted in content:
            return wanted if _is_json(wanted) else None
    if "application/json" in content:
        return "application/json"
    for media in content:
        if _is_json(media):
            return str(media)
    return None


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _preview(body: Any, limit: int = 160) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else repr(body)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@functools.cache
def load_api(description: str = DEFAULT_DESCRIPTION) -> GitHubAPI:
    """The process-wide shared `GitHubAPI` for a description (loaded and indexed once)."""
    return GitHubAPI.load(description)
