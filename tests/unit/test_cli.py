"""The `modbot` command line: exit codes, formats, edits in place, no tracebacks for bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.corpus import HISTORY, LATEST, MINI_MANIFEST, ROOT, version_number


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def history(number: int) -> str:
    return str(next(p for p in HISTORY if version_number(p) == number))


def test_validate_valid_and_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(LATEST))
    assert code == 0
    assert "valid" in out and "manifest_hash" in out
    code, out, _ = run(capsys, "validate", history(19))
    assert code == 1
    assert ":68: error[default-enabled-closure]" in out
    assert "\033[" not in out  # no colour when not a terminal


def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", history(19), "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert data["valid"] is False and data["manifest_hash"] is None
    assert data["problems"] == [
        {
            "severity": "error",
            "rule": "default-enabled-closure",
            "path": "settings.default_enabled[3]",
            "line": 68,
            "message": data["problems"][0]["message"],
        }
    ]


def test_validate_defaults_to_modules_toml(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(LATEST, tmp_path / "modules.toml")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "validate")[0] == 0


def test_io_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "validate", str(tmp_path / "missing.toml"))
    assert code == 2
    assert "missing.toml" in err and "Traceback" not in err
    code, _, err = run(capsys, "validate", str(tmp_path))
    assert code == 2 and "directory" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--format", "yaml"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["bogus"])
    assert exit_info.value.code == 2


def test_hash(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "hash", str(LATEST))
    assert code == 0
    digest = out.strip()
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert run(capsys, "hash", history(19))[0] == 1


def test_diff_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", history(37), history(38), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["summary"] == "+events,+iggy_connector,-social_graph"
    assert [a["slug"] for a in data["added"]] == ["events", "iggy_connector"]
    assert [r["slug"] for r in data["removed"]] == ["social_graph"]
    assert data["default_enabled"] == {"added": [], "removed": []}
    code, out, _ = run(capsys, "diff", history(37), history(38), "--format", "markdown")
    assert "| ➕ | `events` | installed |" in out
    code, out, _ = run(capsys, "diff", history(37), history(38))
    assert out.splitlines()[0] == "+events,+iggy_connector,-social_graph"
    assert run(capsys, "diff", history(18), history(19))[0] == 1  # the head is invalid


def test_edit_commands_in_place(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    manifest = tmp_path / "modules.toml"
    shutil.copy(MINI_MANIFEST, manifest)
    original = manifest.read_text()
    code, out, _ = run(
        capsys,
        "install",
        "forum",
        "--crate",
        "rustok-forum",
        "--source",
        "path",
        "--path",
        "crates/rustok-forum",
        "--depends-on",
        "content",
        "--enable",
        "--manifest",
        str(manifest),
    )
    assert code == 0, out
    assert "+forum" in out
    text = manifest.read_text()
    assert (
        'forum = { crate = "rustok-forum", source = "path", path = "crates/rustok-forum", depends_on = ["content"] }'
        in text
    )
    assert run(capsys, "disable", "forum", "--manifest", str(manifest))[0] == 0
    assert run(capsys, "uninstall", "forum", "--manifest", str(manifest))[0] == 0
    assert manifest.read_text() == original


def test_refused_edit_leaves_the_file_alone(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    manifest = tmp_path / "modules.toml"
    shutil.copy(LATEST, manifest)
    before = manifest.read_bytes()
    code, out, _ = run(capsys, "uninstall", "outbox", "--manifest", str(manifest))
    assert code == 1
    assert "refused" in out and "required" in out
    code, out, _ = run(capsys, "upgrade", "seo", "--rev", "x;id", "--manifest", str(manifest))
    assert code == 1
    assert manifest.read_bytes() == before


def test_dry_run_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    manifest = tmp_path / "modules.toml"
    shutil.copy(LATEST, manifest)
    before = manifest.read_bytes()
    code, out, _ = run(capsys, "enable", "seo", "--manifest", str(manifest), "--dry-run")
    assert code == 0
    assert "+default_enabled = [" in out
    assert manifest.read_bytes() == before


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema
    import tomli

    code, out, _ = run(capsys, "schema")
    schema = json.loads(out)
    assert code == 0
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in HISTORY:
        assert not list(validator.iter_errors(tomli.loads(path.read_text()))), path.name
    bad = tomli.loads(LATEST.read_text())
    bad["modules"]["seo"]["source"] = "npm"
    assert list(validator.iter_errors(bad))


def test_entry_point_does_not_import_server_or_github_code() -> None:
    code = (
        "import sys; from bot.cli import main; main(['validate', sys.argv[1]]);"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'github', 'sqlalchemy', 'tomlkit', 'jinja2')];"
        "print(heavy)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(LATEST)], capture_output=True, text=True, env=env, check=False
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
