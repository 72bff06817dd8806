"""Admin intents -> the PR that carries them (pure part)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.app.proposals import Intent, ModuleChange, plan_change, read_intent_marker
from bot.manifest import validate_text
from bot.manifest.edit import EditRefused
from tests.corpus import LATEST, read

TEXT = read(LATEST)
SHA = "c" * 40


def intent(**kwargs: object) -> Intent:
    return Intent.model_validate({"requested_by": "alice", "reason": "tenants asked", **kwargs})


def test_install_plan() -> None:
    wanted = intent(
        action="install",
        slug="forum2",
        module={"crate": "rustok-forum2", "source": "crates-io", "version": "0.1"},
        enable=False,
    )
    plan = plan_change(wanted, TEXT, manifest_path="modules.toml", base_sha=SHA)
    assert plan.branch == "modbot/install-forum2"
    assert plan.title == "modbot: install +forum2@0.1"
    assert validate_text(plan.text).valid
    assert "| Requested by | alice |" in plan.body
    assert "| ➕ | `forum2` | installed |" in plan.body
    marker = read_intent_marker(plan.body)
    assert marker is not None
    assert marker["action"] == "install" and marker["slug"] == "forum2" and marker["base_sha"] == SHA
    assert marker["module"] == {"crate": "rustok-forum2", "source": "crates-io", "version": "0.1"}
    assert marker["manifest_hash"] == validate_text(plan.text).manifest_hash
    assert "Requested-by: alice" in plan.commit_message


def test_marker_cannot_be_closed_by_values() -> None:
    wanted = intent(action="enable", slug="seo", requested_by="eve --> <script>")
    plan = plan_change(wanted, TEXT, manifest_path="modules.toml", base_sha=SHA)
    first_line = plan.body.splitlines()[0]
    assert first_line.count("-->") == 1 and first_line.endswith("-->")
    assert "<script>" not in plan.body
    assert read_intent_marker(plan.body)["requested_by"] == "eve --> <script>"  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"action": "uninstall", "slug": "outbox"}, "required"),
        ({"action": "uninstall", "slug": "taxonomy"}, "`product`"),
        ({"action": "install", "slug": "x", "module": {"crate": "x"}}, "`source`"),
        (
            {
                "action": "install",
                "slug": "seo",
                "module": {"crate": "rustok-seo", "source": "path", "path": "crates/s"},
            },
            "already installed",
        ),
        ({"action": "enable", "slug": "seo", "module": {"version": "1"}}, "takes no module fields"),
        ({"action": "upgrade", "slug": "seo", "module": {"rev": "$(id)"}}, "invalid"),
        ({"action": "enable", "slug": "ai"}, "extension"),
    ],
)
def test_refused_intents(kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(EditRefused) as refused:
        plan_change(intent(**kwargs), TEXT, manifest_path="modules.toml", base_sha=SHA)
    assert reason in " ".join(refused.value.reasons)


@pytest.mark.parametrize(
    "bad",
    [
        {"action": "deploy", "slug": "x"},
        {"action": "install", "slug": "Bad Slug"},
        {"action": "install", "slug": "x", "module": {"crate": "x", "unknown": 1}},
        {"action": "install", "slug": "x", "requested_by": "a\nb"},
        {"action": "install", "slug": "x", "requested_by": ""},
        {"action": "install", "slug": "x", "module": {"required": "yes"}},
    ],
)
def test_malformed_intents_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Intent.model_validate({"requested_by": "alice", **bad})


def test_module_change_fields() -> None:
    assert ModuleChange(version="0.2").fields() == {"version": "0.2"}
