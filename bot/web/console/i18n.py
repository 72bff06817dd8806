"""The console's languages: English (the msgids themselves) and Russian (locales/ru/LC_MESSAGES/
console.po), compiled from the .po file when the console starts (Babel), so there is no build step and
no compiled file to keep in step with its source. The language comes from the ``modbot_lang`` cookie
(the language switch) or else the browser's ``Accept-Language``."""

from __future__ import annotations

import gettext
import io
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANG_COOKIE",
    "catalogue_path",
    "language_of",
    "load_translations",
]

LANGUAGES: Final = ("en", "ru")
DEFAULT_LANGUAGE: Final = "en"
LANG_COOKIE: Final = "modbot_lang"
DOMAIN: Final = "console"
_LOCALES = Path(__file__).resolve().parent / "locales"


def catalogue_path(language: str) -> Path:
    return _LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: none, its msgids are the text)."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def language_of(cookie: str | None, accept_language: str | None) -> str:
    """The chosen language: the cookie when it names one we have, else the best of Accept-Language
    (RFC 9110 weights; ``ru-RU`` counts as ``ru``), else English."""
    if cookie in LANGUAGES:
        return cookie
    best, best_weight = DEFAULT_LANGUAGE, 0.0
    for item in (accept_language or "")[:500].split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        # strictly greater: of two equal weights the earlier wins, as the browser listed them
        if primary in LANGUAGES and weight > best_weight:
            best, best_weight = primary, weight
    return best
