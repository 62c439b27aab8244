"""Every text a family can read exists in every language we offer."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.core.i18n import Translator

ROOT = Path(__file__).resolve().parents[2]


def extracted() -> set[str]:
    """What `make messages` would extract now, from the code and the journeys."""
    method_map = [("bot/**.py", "python"), ("dialogs/*.yaml", "dialogs")]
    found = extract_from_dir(
        str(ROOT), method_map=method_map, keywords={"N_": None}, comment_tags=()
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str) and message}


def test_catalogs_are_up_to_date_and_complete() -> None:
    wanted = extracted()
    translator = Translator(ROOT / "locales")
    assert translator.languages == ("ru", "en")
    with (ROOT / "locales" / "messages.pot").open("rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    assert wanted <= template, f"run `make messages`: {sorted(wanted - template)[:5]}"
    missing = sorted(m for m in wanted if not translator.has("en", m))
    assert not missing, f"untranslated into English: {missing[:5]}"


def test_language_choice() -> None:
    translator = Translator(ROOT / "locales")
    assert translator.pick("en-US") == "en"
    assert translator.pick("ru") == "ru"
    assert translator.pick("uk") == "ru"  # not offered: the default
    assert translator.pick(None) == "ru"
    assert translator.native_name("en") == "English"
    assert translator.native_name("ru") == "Русский"
