"""The console in English and Russian: every msgid of templates/console/ translated in the Russian
catalogue (proper plural forms), every page rendered in both languages with no English msgid left in
the Russian one, and the language taken from the switch's cookie or else Accept-Language."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.render import templates_dir
from bot.store import Store
from bot.web.console.i18n import LANG_COOKIE, catalogue_path, language_of, load_translations
from tests.chatops_world import World
from tests.console_world import PASSWORD, Console, console_settings
from tests.store_helpers import FakeClock


def template_msgids() -> set[str]:
    """The msgids the templates use, extracted as `make console-messages` does (singular forms)."""
    found = extract_from_dir(
        str(templates_dir()),
        method_map=[("console/**.j2", "jinja2")],
        options_map={"console/**.j2": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}},
    )
    return {message[2] if isinstance(message[2], str) else message[2][0] for message in found}


def test_every_template_message_has_a_russian_translation() -> None:
    with catalogue_path("ru").open("rb") as po:
        catalogue = read_po(po, locale="ru")
    translated = {
        message.id if isinstance(message.id, str) else message.id[0]: message.string
        for message in catalogue
        if message.id and "fuzzy" not in message.flags
    }
    msgids = template_msgids()
    assert len(msgids) > 90  # the extraction found the templates
    missing = sorted(
        m
        for m in msgids
        if not translated.get(m) or (isinstance(translated[m], tuple) and not all(translated[m]))
    )
    assert missing == []
    assert catalogue.num_plurals == 3  # one, few, many


def test_russian_plurals_follow_russian_rules() -> None:
    russian = load_translations("ru")
    message = ("%(num)d entry on this page", "%(num)d entries on this page")
    words = {n: russian.ngettext(*message, n) % {"num": n} for n in (1, 3, 5, 11, 21, 22, 25)}
    assert words == {
        1: "1 запись на этой странице",
        3: "3 записи на этой странице",
        5: "5 записей на этой странице",
        11: "11 записей на этой странице",
        21: "21 запись на этой странице",
        22: "22 записи на этой странице",
        25: "25 записей на этой странице",
    }


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, "ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        (None, "en-US,en;q=0.9,ru;q=0.8", "en"),
        (None, "de-DE,ru;q=0.5,en;q=0.4", "ru"),
        (None, "de, fr", "en"),
        (None, None, "en"),
        (None, "ru;q=bogus, en;q=0.1", "en"),
        ("ru", "en", "ru"),
        ("xx", "ru", "ru"),
    ],
)
def test_the_language_comes_from_the_cookie_or_the_browser(
    cookie: str | None, header: str | None, expected: str
) -> None:
    assert language_of(cookie, header) == expected


def english_phrases() -> list[str]:
    """The msgids that cannot be the same in Russian: two words or more, of letters."""
    return sorted(m for m in template_msgids() if re.search(r"[A-Za-z]+ [A-Za-z]+", m) and "%(" not in m)


def pages(console: Console) -> dict[str, str]:
    client = console.client
    answers = {
        "overview": client.get("/console/"),
        "audit": client.get("/console/audit"),
        "not_found": client.get("/console/nowhere"),
    }
    for name, answer in answers.items():
        assert answer.status_code == (404 if name == "not_found" else 200), name
    return {name: answer.text for name, answer in answers.items()}


def test_every_page_renders_in_both_languages(store: Store, clock: FakeClock) -> None:
    store.add_user("alice", PASSWORD, "write", actor="cli:root")
    world = World.create(store, clock)
    console = Console.start(world, console_settings("local"))
    signin = {
        lang: console.client.get("/console/login", headers={"accept-language": lang}).text
        for lang in ("en", "ru")
    }
    assert console.sign_in_local("alice") == 303
    rendered = {}
    for lang in ("en", "ru"):
        console.client.cookies.set(LANG_COOKIE, lang, path="/console")
        rendered[lang] = {"signin": signin[lang], **pages(console)}
        rendered[lang]["forbidden"] = console.client.post("/console/logout", data={"csrf_token": "x"}).text
    for name, html in rendered["ru"].items():
        assert '<html lang="ru">' in html, name
        left = [phrase for phrase in english_phrases() if phrase in html]
        assert left == [], f"{name}: English text on the Russian page"
    assert "Обзор" in rendered["ru"]["overview"] and "Overview" in rendered["en"]["overview"]
    assert "Вход в modbot" in rendered["ru"]["signin"]


def test_the_language_switch_keeps_the_page(store: Store, clock: FakeClock) -> None:
    console = Console.start(World.create(store, clock))
    console.sign_in_github("alice", "read")
    answer = console.client.get("/console/language/ru?next=/console/audit", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/audit"
    assert f"{LANG_COOKIE}=ru" in answer.headers["set-cookie"]
    assert "Аудит" in console.client.get("/console/audit").text
    away = console.client.get("/console/language/en?next=https://evil.example/", follow_redirects=False)
    assert away.headers["location"] == "/console/"
