"""The Modules page's read model (bot/app/queries/modules.py) on RusToK's real manifests: badges,
dependents, and every button's verdict from the admin action's own plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.proposals import Intent, plan_change
from bot.app.queries.modules import ModulesView, modules_view, verdict, view_ready
from bot.manifest.edit import EditRefused

HISTORY = Path(__file__).resolve().parents[1] / "fixtures" / "rustok-history"
NEWEST = sorted(HISTORY.glob("*.toml"))[-1]
CATALOG = b"""schema = 1
[modules.forum]
crate = "rustok-forum"
source = "crates-io"
version = "0.2"
description = "Forum from crates.io"
[modules.wiki]
crate = "rustok-wiki"
source = "crates-io"
version = "0.1"
depends_on = ["content"]
description = "Wiki"
[modules.needs_nothing_there]
crate = "rustok-nt"
source = "crates-io"
version = "0.1"
depends_on = ["no_such_module"]
"""


@pytest.fixture(scope="module")
def view() -> ModulesView:
    return modules_view(NEWEST.read_text(), manifest_path="modules.toml", catalog_raw=CATALOG)


def _row(view: ModulesView, slug: str):  # type: ignore[no-untyped-def]
    return next(row for row in view.modules if row.slug == slug)


def test_every_module_with_its_badges_and_dependents(view: ModulesView) -> None:
    text = NEWEST.read_text()
    assert view.valid and view.manifest_hash and not view.problems
    assert [row.slug for row in view.modules] == sorted(row.slug for row in view.modules)
    outbox = _row(view, "outbox")
    assert outbox.required and outbox.source == "path" and outbox.location == "crates/rustok-outbox"
    assert {"events", "rbac", "media"} <= set(outbox.dependents)
    content = _row(view, "content")
    assert content.enabled and not content.required
    assert set(content.dependents) == {"blog", "forum", "pages", "seo", "taxonomy"}
    assert len(view.modules) == text.count('crate = "')


def test_the_buttons_say_what_the_manifest_core_says(view: ModulesView) -> None:
    outbox = _row(view, "outbox").verdicts
    assert not outbox["uninstall"].allowed
    assert outbox["uninstall"].reasons[0] == "`outbox` is a required module and cannot be uninstalled"
    assert "depend on `outbox`; uninstall them first" in outbox["uninstall"].reasons[1]
    content = _row(view, "content").verdicts
    assert not content["uninstall"].allowed and "depend on `content`" in content["uninstall"].reasons[0]
    assert "enable" not in content  # enabled: the page offers Disable, and only that is planned
    # disabling content would leave enabled modules that need it: the validation of the result refuses
    assert "would make the manifest invalid" in content["disable"].reasons[0]
    seo = _row(view, "seo").verdicts
    assert seo["uninstall"].allowed and seo["uninstall"].summary == "-seo"
    assert seo["enable"].allowed and seo["enable"].summary == "default_enabled:+seo"


def test_each_verdict_is_the_admin_actions_own_plan(view: ModulesView) -> None:
    """Cross-check against plan_change directly: every button agrees with it, refused or not."""
    text = NEWEST.read_text()
    for row in view.modules:
        for action, shown in row.verdicts.items():
            if action == "upgrade":
                continue
            intent = Intent(action=action, slug=row.slug, requested_by="x")  # type: ignore[arg-type]
            if not shown.allowed:
                with pytest.raises(EditRefused) as refused:
                    plan_change(intent, text, manifest_path="modules.toml", base_sha="1" * 40)
                assert shown.reasons == tuple(refused.value.reasons), (row.slug, action)
            else:
                plan = plan_change(intent, text, manifest_path="modules.toml", base_sha="1" * 40)
                assert shown.allowed and shown.summary == plan.delta.summary, (row.slug, action)


def test_the_catalog_offers_install_and_upgrade(view: ModulesView) -> None:
    offers = {row.slug: row for row in view.catalog}
    assert offers["wiki"].install.allowed and offers["wiki"].install.summary == "+wiki@0.1"
    assert offers["forum"].installed and not offers["forum"].install.allowed
    assert "already installed" in offers["forum"].install.reasons[0]
    missing = offers["needs_nothing_there"].install
    assert not missing.allowed and "`no_such_module`, which is not in [modules]" in missing.reasons[0]
    forum = _row(view, "forum")
    assert forum.upgrade_to is not None and forum.upgrade_to.version == "0.2"
    assert forum.verdicts["upgrade"].allowed and forum.verdicts["upgrade"].summary == "~forum@0.2"
    assert "upgrade" not in _row(view, "seo").verdicts  # the catalog offers nothing else for it


def test_a_broken_catalog_is_reported_and_the_modules_still_shown() -> None:
    view = modules_view(NEWEST.read_text(), manifest_path="modules.toml", catalog_raw=b"schema = 1\n[x")
    assert view.valid and view.modules and not view.catalog
    assert view.catalog_problems and "not valid TOML" in view.catalog_problems[0]


def test_an_invalid_manifest_offers_no_button() -> None:
    text = NEWEST.read_text().replace('depends_on = ["content"] }', 'depends_on = ["nowhere"] }', 1)
    view = modules_view(text, manifest_path="modules.toml", catalog_raw=None)
    assert not view.valid and any("nowhere" in problem for problem in view.problems)
    assert view.modules and all(not row.verdicts for row in view.modules)


def test_every_historical_manifest_gets_a_view() -> None:
    """RusToK's 48 manifests (schema 1 and 2): each is either shown with buttons or with its problems."""
    for path in sorted(HISTORY.glob("*.toml"))[::8]:
        view = modules_view(path.read_text(), manifest_path="modules.toml", catalog_raw=None)
        assert view.modules, path.name
        assert view.valid == bool(view.manifest_hash), path.name
        assert view.valid or view.problems, path.name


def test_install_from_a_form_goes_through_the_same_checks() -> None:
    text = NEWEST.read_text()
    bad_git = verdict(
        "install",
        "gallery",
        text,
        manifest_path="modules.toml",
        module={"crate": "rustok-gallery", "source": "git", "git": "ftp://example.com/x"},
    )
    assert not bad_git.allowed and "ftp" in bad_git.reasons[0]
    no_source = verdict("install", "gallery", text, manifest_path="modules.toml", module={"crate": "x"})
    assert no_source.reasons == ("install needs `source` in the module spec",)
    good = verdict(
        "install",
        "gallery",
        text,
        manifest_path="modules.toml",
        module={"crate": "rustok-gallery", "source": "crates-io", "version": "1.2"},
    )
    assert good.allowed and good.summary == "+gallery@1.2"


def test_a_large_manifest_answers_at_once_while_its_verdicts_are_planned() -> None:
    """The page does not wait seconds for every button: a pending view (no verdicts) answers, the
    planning goes on in the background once, and then the same inputs give the full view."""
    text = NEWEST.read_text().replace("# Core modules", "# Core modules (a copy: not cached yet)", 1)
    assert text != NEWEST.read_text()
    pending = modules_view(text, manifest_path="modules.toml", catalog_raw=CATALOG, wait_seconds=0)
    assert (
        pending.pending
        and pending.valid
        and len(pending.modules) == len(NEWEST.read_text().split('crate = "')) - 1
    )
    assert all(not row.verdicts for row in pending.modules)
    assert all(offer.install is None for offer in pending.catalog)
    assert not view_ready(pending.key)
    full = modules_view(text, manifest_path="modules.toml", catalog_raw=CATALOG)
    assert not full.pending and full.key == pending.key and view_ready(full.key)
    assert all(row.verdicts for row in full.modules)
    again = modules_view(text, manifest_path="modules.toml", catalog_raw=CATALOG, wait_seconds=0)
    assert again is full  # computed once
