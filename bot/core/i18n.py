"""Translations from the gettext catalogs in `locales/<lang>/LC_MESSAGES/messages.po`.

Russian is the source language: message ids are the Russian texts written in
the code and in `dialogs/*.yaml`. Other languages translate them in their
catalog; a missing or fuzzy translation falls back to Russian (and
`family-window dialogs check` reports it).
"""

from __future__ import annotations

import logging
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

SOURCE_LANGUAGE = "ru"


def N_(message: str) -> str:
    """Mark a string for extraction into the catalogs; translate it later with `Translator`."""
    return message


class Translator:
    def __init__(self, locales_dir: Path, default: str = SOURCE_LANGUAGE) -> None:
        self.default = default
        self.catalogs: dict[str, dict[str, str]] = {}
        if locales_dir.is_dir():
            for po in sorted(locales_dir.glob("*/LC_MESSAGES/messages.po")):
                lang = po.parent.parent.name
                self.catalogs[lang] = self._read(po)
        self.catalogs.setdefault(SOURCE_LANGUAGE, {})
        others = sorted(lang for lang in self.catalogs if lang != SOURCE_LANGUAGE)
        self.languages: tuple[str, ...] = (SOURCE_LANGUAGE, *others)

    @staticmethod
    def _read(po: Path) -> dict[str, str]:
        with po.open("rb") as fh:
            catalog = read_po(fh)
        messages: dict[str, str] = {}
        for message in catalog:
            if not message.id or message.fuzzy or not isinstance(message.id, str):
                continue
            if isinstance(message.string, str) and message.string:
                messages[message.id] = message.string
        return messages

    def gettext(self, language: str, message: str) -> str:
        if not message:
            return message
        return self.catalogs.get(language, {}).get(message, message)

    def has(self, language: str, message: str) -> bool:
        return language == SOURCE_LANGUAGE or message in self.catalogs.get(language, {})

    def pick(self, hint: str | None) -> str:
        """The best supported language for a messenger's language code ('en-US' → 'en')."""
        if hint:
            code = hint.replace("_", "-").split("-")[0].lower()
            if code in self.languages:
                return code
        return self.default if self.default in self.languages else SOURCE_LANGUAGE

    def native_name(self, language: str) -> str:
        try:
            name = Locale.parse(language).get_display_name(language) or language
        except (UnknownLocaleError, ValueError):
            return language
        return name[:1].upper() + name[1:]
