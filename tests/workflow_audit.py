"""Audit GitHub Actions workflow files with zizmor, actionlint and check-jsonschema.

``audit_workflows(paths)`` runs each tool once over all the given files and returns their
findings as one list. The tools are looked up beside ``sys.executable`` (the venv's bin dir,
where ``pip install -e '.[dev]'`` puts them); a missing tool, a tool that crashes, or output
that cannot be read raises ``AuditError``: the audit fails closed, it never passes silently.

Everything runs offline: zizmor with ``--offline``, check-jsonschema against its vendored
``vendor.github-workflows`` schema, actionlint with shellcheck and pyflakes from the same venv.
No suppression is honoured: zizmor runs with ``--no-config --no-ignores``, actionlint with an
empty config file (so a repo's ``.github/actionlint.yaml`` cannot ignore anything), and a
``# zizmor: ignore`` or ``# shellcheck disable`` comment is itself reported as a finding.

Command line: ``python tests/workflow_audit.py FILE...`` prints the findings and exits 1 if
there are any, 2 if the audit could not run, 0 if every file is clean.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

TOOLS = ("zizmor", "actionlint", "check-jsonschema")
# actionlint silently skips its shellcheck/pyflakes integration when the command is missing,
# so both are required here as well.
HELPERS = ("shellcheck", "pyflakes")
PERSONAS = ("regular", "pedantic", "auditor")
TIMEOUT_S = 300

# Inline suppressions our standard forbids. zizmor ignores its own with --no-ignores; shellcheck
# has no switch to ignore its directives, so both are reported as findings instead.
_SUPPRESSION = re.compile(r"#\s*(zizmor\s*:\s*ignore\b|shellcheck\s+disable\b)", re.IGNORECASE)
# Collection failures zizmor reports (with --strict-collection) for a file it cannot load.
_ZIZMOR_REJECTED = ("failed to load", "failed to validate", "failed to parse", "no inputs collected")


class AuditError(RuntimeError):
    """An audit tool is missing, crashed, or produced output that could not be read."""


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    tool: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.tool}/{self.rule}] {self.message}"


def default_bin_dir() -> Path:
    # Not resolved: a venv's python is usually a symlink out of the venv.
    return Path(sys.executable).parent


def find_tool(name: str, bin_dir: Path | None = None) -> Path:
    path = (bin_dir or default_bin_dir()) / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise AuditError(
            f"{name} is not installed in {path.parent} (install the dev extras: pip install -e '.[dev]')"
        )
    return path


def audit_workflows(
    paths: Sequence[Path], *, persona: str = "regular", bin_dir: Path | None = None
) -> list[Finding]:
    """Run zizmor, actionlint and check-jsonschema (one process each) over ``paths``."""
    if not paths:
        raise ValueError("no workflow files given: refusing to report an empty audit as clean")
    if persona not in PERSONAS:
        raise ValueError(f"unknown zizmor persona {persona!r}; one of {', '.join(PERSONAS)}")
    files = [Path(p) for p in paths]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise AuditError(f"no such workflow file: {', '.join(missing)}")
    tools = {name: find_tool(name, bin_dir) for name in (*TOOLS, *HELPERS)}
    names = _Names(files)
    findings = [
        *_suppression_comments(files),
        *_run_zizmor(tools["zizmor"], files, persona, names),
        *_run_actionlint(tools, files, names),
        *_run_check_jsonschema(tools["check-jsonschema"], files, names),
    ]
    return sorted(set(findings))


class _Names:
    """Maps a path as a tool prints it back to the path as the caller gave it."""

    def __init__(self, files: Iterable[Path]) -> None:
        self._by_real = {os.path.realpath(f): str(f) for f in files}

    def __call__(self, reported: str) -> str:
        if reported.startswith("file://"):
            reported = reported[len("file://") :]
        return self._by_real.get(os.path.realpath(reported), reported)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(NO_COLOR="1", ZIZMOR_OFFLINE="true")
    return env


def _run(cmd: Sequence[str | Path]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(c) for c in cmd],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=_env(),
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AuditError(f"could not run {Path(cmd[0]).name}: {exc}") from exc


def _fail(tool: str, proc: subprocess.CompletedProcess[str], why: str) -> AuditError:
    detail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
    return AuditError(f"{tool} {why} (exit {proc.returncode}): {detail}")


def _suppression_comments(files: Iterable[Path]) -> list[Finding]:
    out = []
    for f in files:
        for lineno, text in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            m = _SUPPRESSION.search(text)
            if m:
                out.append(
                    Finding(
                        str(f),
                        lineno,
                        "harness",
                        "suppression-comment",
                        f"suppression comment {m.group(0)!r} is not allowed: fix the finding instead",
                    )
                )
    return out


# --- zizmor ------------------------------------------------------------------------------------


def _zizmor_cmd(exe: Path, persona: str, files: Sequence[Path]) -> list[str | Path]:
    return [
        exe,
        "--offline",
        "--no-config",
        "--no-ignores",
        "--strict-collection",
        "--no-exit-codes",
        "--no-progress",
        "--color=never",
        f"--persona={persona}",
        "--format=json",
        *files,
    ]


def _run_zizmor(exe: Path, files: Sequence[Path], persona: str, names: _Names) -> list[Finding]:
    proc = _run(_zizmor_cmd(exe, persona, files))
    if proc.returncode == 0:
        return _parse_zizmor(proc, names)
    if not _zizmor_rejected(proc):
        raise _fail("zizmor", proc, "failed")
    # With --strict-collection one unloadable file stops the whole run, so audit each file alone
    # to report which ones zizmor rejects and still get findings for the rest. Only on failure.
    out: list[Finding] = []
    for f in files:
        single = _run(_zizmor_cmd(exe, persona, [f]))
        if single.returncode == 0:
            out.extend(_parse_zizmor(single, names))
        elif _zizmor_rejected(single):
            out.append(Finding(str(f), 0, "zizmor", "input-rejected", _zizmor_reason(single.stderr)))
        else:
            raise _fail("zizmor", single, "failed")
    return out


def _zizmor_rejected(proc: subprocess.CompletedProcess[str]) -> bool:
    return "no audit was performed" in proc.stderr and any(s in proc.stderr for s in _ZIZMOR_REJECTED)


def _zizmor_reason(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.split("Stack backtrace:", maxsplit=1)[0].splitlines()]
    noise = ("INFO", "WARN", "fatal:", "Caused by:")
    keep = [re.sub(r"^\d+: ", "", ln) for ln in lines if ln and not ln.startswith(noise)]
    return " | ".join(keep)[:600] or "zizmor could not load this file as a workflow"


def _parse_zizmor(proc: subprocess.CompletedProcess[str], names: _Names) -> list[Finding]:
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise _fail("zizmor", proc, f"printed unreadable JSON ({exc})") from exc
    if not isinstance(data, list):
        raise _fail("zizmor", proc, "printed JSON that is not a list of findings")
    out = []
    for item in data:
        try:
            out.append(_zizmor_finding(item, names))
        except (KeyError, TypeError, IndexError) as exc:
            raise AuditError(f"zizmor finding in an unexpected shape ({exc!r}): {item!r}"[:2000]) from exc
    return out


def _zizmor_finding(item: dict[str, Any], names: _Names) -> Finding:
    locations = item["locations"]
    primary = next((loc for loc in locations if loc["symbolic"]["kind"] == "Primary"), locations[0])
    key = primary["symbolic"]["key"]
    path = key["Local"]["verbatim_path"] if "Local" in key else json.dumps(key)
    row = int(primary["concrete"]["location"]["start_point"]["row"]) + 1  # zizmor rows are 0-based
    det = item.get("determinations", {})
    annotation = primary["symbolic"].get("annotation") or ""
    message = f"{item['desc']}: {annotation}" if annotation else item["desc"]
    message += f" (severity {det.get('severity', '?')}, confidence {det.get('confidence', '?')})"
    return Finding(names(path), row, "zizmor", item["ident"], message)


# --- actionlint --------------------------------------------------------------------------------


def _run_actionlint(tools: dict[str, Path], files: Sequence[Path], names: _Names) -> list[Finding]:
    cmd: list[str | Path] = [
        tools["actionlint"],
        # An empty config replaces any .github/actionlint.yaml, whose `ignore:` could hide errors.
        "-config-file",
        os.devnull,
        f"-shellcheck={tools['shellcheck']}",
        f"-pyflakes={tools['pyflakes']}",
        "-no-color",
        "-format",
        "{{json .}}",
        *files,
    ]
    proc = _run(cmd)
    if proc.returncode not in (0, 1):  # 0 clean, 1 errors found; 2 bad flags, 3 fatal
        raise _fail("actionlint", proc, "failed")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise _fail("actionlint", proc, f"printed unreadable JSON ({exc})") from exc
    if not isinstance(data, list) or (proc.returncode == 1) != bool(data):
        raise _fail("actionlint", proc, "exit status and output disagree")
    try:
        return [
            Finding(names(e["filepath"]), int(e["line"]), "actionlint", e["kind"], e["message"]) for e in data
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail("actionlint", proc, f"printed an error in an unexpected shape ({exc!r})") from exc


# --- check-jsonschema --------------------------------------------------------------------------


def _run_check_jsonschema(exe: Path, files: Sequence[Path], names: _Names) -> list[Finding]:
    # The builtin schema ships inside the package: no download, no cache, works offline.
    cmd: list[str | Path] = [
        exe,
        "--builtin-schema",
        "vendor.github-workflows",
        "--output-format",
        "json",
        *files,
    ]
    proc = _run(cmd)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise _fail("check-jsonschema", proc, f"printed unreadable JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("status") not in ("ok", "fail"):
        raise _fail("check-jsonschema", proc, "printed JSON without a status")
    errors, parse_errors = data.get("errors", []), data.get("parse_errors", [])
    if (proc.returncode == 0) != (data["status"] == "ok") or (data["status"] == "fail") != bool(
        errors or parse_errors
    ):
        raise _fail("check-jsonschema", proc, "exit status and output disagree")
    out = []
    for e in errors:
        best = e.get("best_deep_match") or e.get("best_match") or e
        json_path, msg = best.get("path", e["path"]), best.get("message", e["message"])
        out.append(
            Finding(
                names(e["filename"]),
                _line_of(Path(e["filename"]), json_path),
                "check-jsonschema",
                "schema",
                f"{json_path}: {msg}",
            )
        )
    out += [
        Finding(names(e["filename"]), 0, "check-jsonschema", "parse-error", e["message"])
        for e in parse_errors
    ]
    return out


_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[\"((?:[^\"\\]|\\.)*)\"\]|\['((?:[^'\\]|\\.)*)'\]")


def _line_of(file: Path, json_path: str) -> int:
    """Best-effort 1-based line of a check-jsonschema ``$.a.b[0]`` path; 0 if not found."""
    try:
        from ruamel.yaml import YAML  # installed with check-jsonschema

        node: Any = YAML(typ="rt").load(file.read_text(encoding="utf-8"))
    except Exception:
        return 0
    line = 0
    for m in _PATH_PART.finditer(json_path.removeprefix("$")):
        key: str | int
        key = int(m.group(2)) if m.group(2) is not None else next(g for g in m.groups() if g is not None)
        try:
            if isinstance(key, int) and isinstance(node, list):
                line = cast(Any, node).lc.item(key)[0] + 1
            elif isinstance(node, dict) and key in node:
                line = cast(Any, node).lc.key(key)[0] + 1
            else:
                break
            node = node[key]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line


# --- command line ------------------------------------------------------------------------------


def tool_versions(bin_dir: Path | None = None) -> dict[str, str]:
    out = {}
    for name in (*TOOLS, *HELPERS):
        proc = _run([find_tool(name, bin_dir), "--version"])
        lines = (proc.stdout or proc.stderr).strip().splitlines() if proc.returncode == 0 else ["?"]
        # shellcheck prints a banner first and "version: X" on a later line.
        out[name] = next((ln for ln in lines if ln.startswith("version:")), lines[0] if lines else "?")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="*", type=Path, help="workflow files to audit")
    parser.add_argument("--persona", default="regular", choices=PERSONAS, help="zizmor persona")
    parser.add_argument("--versions", action="store_true", help="print the tool versions and exit")
    args = parser.parse_args(argv)
    try:
        if args.versions:
            for name, version in tool_versions().items():
                print(f"{name}: {version}")
            return 0
        findings = audit_workflows(args.files, persona=args.persona)
    except (AuditError, ValueError) as exc:
        print(f"workflow audit could not run: {exc}", file=sys.stderr)
        return 2
    for f in findings:
        print(f)
    by_tool = {t: sum(f.tool == t for f in findings) for t in (*TOOLS, "harness")}
    summary = ", ".join(f"{t} {n}" for t, n in by_tool.items())
    print(f"{len(findings)} finding(s) in {len(args.files)} file(s) ({summary})", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
