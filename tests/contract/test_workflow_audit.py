"""The workflow audit harness: our own CI is clean, and each tool really runs and really reports.

Every bad workflow is written into a temporary directory, never into the repo. The audits are
batched: one harness call (one process per tool) for all the schema-valid bad workflows, one
for the schema-invalid ones.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from workflow_audit import HELPERS, TOOLS, AuditError, Finding, audit_workflows, default_bin_dir

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).resolve().parents[1] / "workflow_audit.py"
OWN_WORKFLOWS = sorted([*REPO.glob(".github/workflows/*.yml"), *REPO.glob(".github/workflows/*.yaml")])

# A real pinned checkout, so the bad workflows below differ from a clean one in one respect only.
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
_PERSIST = "        with:\n          persist-credentials: false\n"

HEADER = """\
name: bad
on:
  pull_request:
permissions: {}
concurrency:
  group: bad-${{ github.ref }}
jobs:
  job:
    name: job
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions:
      contents: read
    steps:
"""

CLEAN = HEADER + f"      - uses: {CHECKOUT}\n" + _PERSIST

SCHEMA_VALID = {
    # pull_request_target runs with a write token and secrets, here on the PR author's code.
    "pr_target.yml": HEADER.replace("  pull_request:\n", "  pull_request_target:\n")
    + f"""\
      - uses: {CHECKOUT}
        with:
          ref: ${{{{ github.event.pull_request.head.sha }}}}
          persist-credentials: false
      - run: make test
""",
    "unpinned.yml": HEADER
    + """\
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
""",
    "injection.yml": HEADER + "      - run: echo ${{ github.event.pull_request.title }}\n",
    "no_permissions.yml": HEADER.replace("permissions: {}\n", "")
    .replace("    permissions:\n      contents: read\n", "")
    .replace("  pull_request:\n", "  push:\n")
    + '      - run: echo "hello"\n',
    "shellcheck.yml": HEADER + "      - run: |\n          files=$(ls)\n          echo $files\n",
    "pyflakes.yml": HEADER + "      - shell: python\n        run: |\n          print(undefined_name)\n",
    "suppressed.yml": HEADER
    + "      - run: echo ${{ github.event.pull_request.title }} # zizmor: ignore[template-injection]\n",
}

SCHEMA_INVALID = {
    "no_runs_on.yml": HEADER.replace("    runs-on: ubuntu-24.04\n", "") + '      - run: echo "hi"\n',
    "bogus_event.yml": HEADER.replace("on:\n  pull_request:\n", "on: [bogus_event]\n")
    + '      - run: echo "hi"\n',
}


def _write(directory: Path, workflows: dict[str, str]) -> list[Path]:
    paths = []
    for name, text in workflows.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bad_workflows")
    _write(directory, {**SCHEMA_VALID, **SCHEMA_INVALID})
    return directory


@pytest.fixture(scope="module")
def valid_findings(bad_dir: Path) -> list[Finding]:
    return audit_workflows([bad_dir / name for name in SCHEMA_VALID])


@pytest.fixture(scope="module")
def invalid_findings(bad_dir: Path) -> list[Finding]:
    return audit_workflows([bad_dir / name for name in SCHEMA_INVALID])


def _rules(findings: list[Finding], name: str) -> set[tuple[str, str]]:
    return {(f.tool, f.rule) for f in findings if Path(f.file).name == name}


def _show(findings: list[Finding]) -> str:
    return "\n".join(map(str, findings)) or "(no findings)"


# --- our own workflows -------------------------------------------------------------------------


def test_own_workflows_exist() -> None:
    assert OWN_WORKFLOWS, "expected .github/workflows/*.yml"


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_own_workflows_have_zero_findings(persona: str) -> None:
    findings = audit_workflows(OWN_WORKFLOWS, persona=persona)
    assert findings == [], _show(findings)


_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
_VERSION_COMMENT = re.compile(r"^\s+# v\d+\.\d+\.\d+$")


@pytest.mark.parametrize("workflow", OWN_WORKFLOWS, ids=lambda p: p.name)
def test_own_workflows_pin_full_shas_with_version_comments(workflow: Path) -> None:
    # zizmor checks the pin; the "# vX.Y.Z" comment that says which release it is is ours.
    uses = [m for line in workflow.read_text().splitlines() if (m := _USES.match(line))]
    assert uses
    for m in uses:
        if m["ref"].startswith("./"):
            continue
        assert _PINNED.match(m["ref"]), m.group(0)
        assert _VERSION_COMMENT.match(m["rest"]), m.group(0)


@pytest.mark.parametrize("workflow", OWN_WORKFLOWS, ids=lambda p: p.name)
def test_own_workflows_structure(workflow: Path) -> None:
    from ruamel.yaml import YAML  # comes with check-jsonschema

    doc = YAML(typ="safe").load(workflow.read_text())
    assert doc["permissions"] == {}
    assert "concurrency" in doc
    assert "pull_request_target" not in doc["on"]
    for name, job in doc["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), name
        assert "permissions" in job, name
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
            assert "${{" not in str(step.get("run", "")), f"{name}: expression in run:, use env:"


# --- each tool really runs and the harness really reports ---------------------------------------


@pytest.mark.parametrize(
    ("workflow", "tool", "rule"),
    [
        ("pr_target.yml", "zizmor", "dangerous-triggers"),
        ("unpinned.yml", "zizmor", "unpinned-uses"),
        ("injection.yml", "zizmor", "template-injection"),
        ("injection.yml", "actionlint", "expression"),
        ("no_permissions.yml", "zizmor", "excessive-permissions"),
        ("shellcheck.yml", "actionlint", "shellcheck"),
        ("pyflakes.yml", "actionlint", "pyflakes"),
        # --no-ignores: the comment hides nothing, and is reported itself.
        ("suppressed.yml", "zizmor", "template-injection"),
        ("suppressed.yml", "harness", "suppression-comment"),
    ],
)
def test_bad_workflow_is_reported(valid_findings: list[Finding], workflow: str, tool: str, rule: str) -> None:
    assert (tool, rule) in _rules(valid_findings, workflow), _show(valid_findings)


@pytest.mark.parametrize(
    ("workflow", "tool", "rule"),
    [
        ("no_runs_on.yml", "check-jsonschema", "schema"),
        ("no_runs_on.yml", "actionlint", "syntax-check"),
        ("no_runs_on.yml", "zizmor", "input-rejected"),
        ("bogus_event.yml", "check-jsonschema", "schema"),
        ("bogus_event.yml", "actionlint", "events"),
        ("bogus_event.yml", "zizmor", "input-rejected"),
    ],
)
def test_schema_invalid_workflow_is_reported(
    invalid_findings: list[Finding], workflow: str, tool: str, rule: str
) -> None:
    assert (tool, rule) in _rules(invalid_findings, workflow), _show(invalid_findings)


def test_findings_carry_file_line_and_message(
    valid_findings: list[Finding], invalid_findings: list[Finding], bad_dir: Path
) -> None:
    (sc2086,) = [f for f in valid_findings if f.rule == "shellcheck" and "SC2086" in f.message]
    assert (sc2086.file, sc2086.line) == (str(bad_dir / "shellcheck.yml"), 17)  # the `echo $files` line
    (schema,) = [f for f in invalid_findings if f.tool == "check-jsonschema" and "no_runs_on" in f.file]
    assert schema.line == 8  # the job missing runs-on
    assert "runs-on" in schema.message


def test_every_bad_workflow_fails_and_the_clean_one_passes(
    valid_findings: list[Finding], invalid_findings: list[Finding]
) -> None:
    reported = {Path(f.file).name for f in [*valid_findings, *invalid_findings]}
    assert reported == set(SCHEMA_VALID) | set(SCHEMA_INVALID)


def test_a_clean_variant_of_the_bad_workflows_passes(tmp_path: Path) -> None:
    # The shared header is clean, so each bad workflow's findings come from its one defect.
    (clean,) = _write(tmp_path, {"clean.yml": CLEAN})
    assert audit_workflows([clean], persona="pedantic") == []


def test_one_rejected_file_does_not_hide_findings_in_the_others(bad_dir: Path) -> None:
    findings = audit_workflows([bad_dir / "injection.yml", bad_dir / "no_runs_on.yml"])
    assert ("zizmor", "template-injection") in _rules(findings, "injection.yml"), _show(findings)
    assert ("zizmor", "input-rejected") in _rules(findings, "no_runs_on.yml"), _show(findings)


# --- fail closed -------------------------------------------------------------------------------


def _fake_bin(tmp_path: Path, *, drop: str = "", replace: dict[str, str] | None = None) -> Path:
    """A bin dir with the real tools symlinked in, one dropped or replaced by a script."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in (*TOOLS, *HELPERS):
        if name == drop:
            continue
        target = bin_dir / name
        if replace and name in replace:
            target.write_text(f"#!/bin/sh\n{replace[name]}\n")
            target.chmod(0o755)
        else:
            target.symlink_to(default_bin_dir() / name)
    return bin_dir


@pytest.mark.parametrize("tool", [*TOOLS, *HELPERS])
def test_a_missing_tool_is_an_error(tmp_path: Path, tool: str) -> None:
    (clean,) = _write(tmp_path, {"clean.yml": CLEAN})
    with pytest.raises(AuditError, match=re.escape(tool)):
        audit_workflows([clean], bin_dir=_fake_bin(tmp_path, drop=tool))


@pytest.mark.parametrize(
    ("tool", "script"),
    [
        ("zizmor", "echo 'not json'"),
        ("zizmor", "echo boom >&2; exit 1"),
        ("actionlint", "echo boom >&2; exit 3"),
        ("actionlint", "echo '[]'; exit 1"),
        ("check-jsonschema", "exit 1"),
        ("check-jsonschema", 'echo \'{"status": "fail", "errors": []}\'; exit 1'),
    ],
)
def test_a_failing_tool_is_an_error(tmp_path: Path, tool: str, script: str) -> None:
    (clean,) = _write(tmp_path, {"clean.yml": CLEAN})
    with pytest.raises(AuditError, match=re.escape(tool)):
        audit_workflows([clean], bin_dir=_fake_bin(tmp_path, replace={tool: script}))


def test_no_files_or_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no workflow files"):
        audit_workflows([])
    with pytest.raises(AuditError, match="no such workflow file"):
        audit_workflows([tmp_path / "missing.yml"])


# --- command line, with the network off where this machine allows it ----------------------------


def _offline_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-n"]
    return []


def _cli(prefix: list[str], files: list[Path]) -> subprocess.CompletedProcess[str]:
    cmd = [*prefix, sys.executable, str(HARNESS), *map(str, files)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def test_cli_exit_codes(bad_dir: Path) -> None:
    bad = _cli([], [bad_dir / "injection.yml"])
    assert bad.returncode == 1, bad.stderr
    assert "[zizmor/template-injection]" in bad.stdout
    ok = _cli([], OWN_WORKFLOWS)
    assert (ok.returncode, ok.stdout) == (0, ""), ok.stdout + ok.stderr


def test_cli_with_the_network_off(bad_dir: Path) -> None:
    prefix = _offline_prefix()
    if not prefix:
        pytest.skip("`unshare -n` is not permitted here: offline operation not re-checked")
    proc = _cli(prefix, [bad_dir / n for n in ("injection.yml", "shellcheck.yml", "bogus_event.yml")])
    assert proc.returncode == 1, proc.stderr
    for tool in TOOLS:
        assert f"[{tool}/" in proc.stdout, proc.stdout
    assert "[actionlint/shellcheck]" in proc.stdout, proc.stdout


def test_cli_cannot_run_is_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(HARNESS), str(tmp_path / "missing.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "could not run" in proc.stderr
