"""Text normalisation shared by crisis triage and the knowledge search.

People type in messengers in every possible way: caps lock, «ё» or «е», stretched
letters («помогииите»), Latin letters that look Cyrillic (a phone keyboard switched
mid-word, or text written to dodge filters: «пoмoгитe»), digits for letters
(«п0м0гите», «хо4у»), emoji and punctuation glued to words. :func:`normalize` folds
all of that into one plain form so that simple word-stem patterns can match it.

Decisions, so that every caller can rely on them:

* Output is lowercase, «ё» becomes «е», words are separated by single spaces.
* Hyphens and dashes split words («по-моему» → «по моему», «ребёнок-инвалид» →
  «ребенок инвалид»): people write these both ways, splitting makes them equal.
* Digits are kept. A dot or comma between two digits is kept as «.» so that
  «37,2» and «37.2» both become the token «37.2». Every other punctuation mark,
  emoji, symbol and «_» becomes a space; «№» is dropped («№3» → «3»).
* Stress marks, zero-width and other invisible format characters are removed
  (they can sit inside a word and would otherwise split it).
* Homoglyphs are fixed in words that mix Latin and Cyrillic letters. A word with
  Cyrillic-only letters (б, г, д, ж, и, л, п, ч, ы, я …) is Russian: its Latin
  lookalikes become Cyrillic («пoмoгитe» → «помогите»). A word with Latin-only
  letters (d, f, g, i, l, n, r, s, u …) and no Cyrillic-only ones is English typed
  with a stray Cyrillic letter: its Cyrillic lookalikes become Latin («kіll» →
  «kill»). A word made only of shared shapes («сар», «tо») follows the script of
  the whole message, Cyrillic on a tie. Only true lookalikes are mapped (``u`` is
  not «и», ``n`` is not «п»).
* 0/3/4/6 between two Cyrillic letters become о/з/ч/б («п0м0гите», «уб6ю» is left).
* A run of 3 or more identical letters becomes one («ааааа» → «а»). Doubled
  letters are left alone: Russian has many legitimate doubles («ссора», «масса»).

Everything is precompiled; each step is a linear regex pass or a C-level string
method, so the cost grows linearly with the text (no backtracking blow-up on long or
hostile inputs).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "tokens"]

# Invisible characters that may sit inside a word: soft hyphen, zero-width
# spaces/joiners, bidi marks, variation selectors, BOM, tag characters, and
# combining marks left after NFKC (stress marks such as «у́мер»).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff\u0300-\u036f\u0483-\u0489"
    "\U000e0000-\U000e0fff]+"
)

# Latin (and a few Greek) letters that look exactly like Cyrillic ones, lowercase.
_LATIN_TO_CYRILLIC = str.maketrans(
    "aeopcxykmthbαεορτκχ",
    "аеорсхукмтнваеорткх",
)
# Cyrillic lookalikes of Latin letters, incl. Ukrainian/Serbian і, ј, ѕ (spoofing).
_CYRILLIC_TO_LATIN = str.maketrans("аеорсхукмтнвіјѕ", "aeopcxykmthbijs")

# Letters that have no lookalike in the other script: they decide a word's script.
_CYRILLIC_ONLY = frozenset("бгджзийлпфцчшщъыьэюя")
_LATIN_ONLY = frozenset("dfgijlnqrsuvwz")
_CYRILLIC_ONLY_RE = re.compile("[бгджзийлпфцчшщъыьэюя]")
_LATIN_ONLY_RE = re.compile("[dfgijlnqrsuvwz]")

# Cheap gate: most Russian messages have no Latin letter at all.
_LATIN = re.compile("[a-zαεορτκχ]")
# A Latin letter next to a Cyrillic one, possibly with digits between («y6ью»).
_MIXED_PAIR = re.compile(r"[a-zαεορτκχ]\d*[а-яіјѕ]|[а-яіјѕ]\d*[a-zαεορτκχ]")
# The whole mixed word. Anchored at a word start and lazy: each word scanned once.
_MIXED_WORD = re.compile(r"\b\w*?(?:[a-zαεορτκχ]\d*[а-яіјѕ]|[а-яіјѕ]\d*[a-zαεορτκχ])\w*")

# Digits used as letters, only when both neighbours are Cyrillic letters. The
# pattern starts with the digit so that the regex engine can skip ahead fast.
_DIGIT_IN_CYRILLIC = re.compile(r"[0346](?<=[а-я][0346])(?=[а-я])")
_DIGIT_AS_LETTER = {"0": "о", "3": "з", "4": "ч", "6": "б"}

# Three or more identical characters; only letters are collapsed (digits and
# punctuation are handled elsewhere: «1000» must survive).
_TRIPLE = re.compile(r"(.)\1\1+")

# Punctuation, symbols and emoji become spaces; «.»/«,» survive only between two
# digits (a second, cheap pass: it starts with a small character class).
_SEPARATORS = re.compile(r"[^\w\s.,]+")
_DOTS = re.compile(r"[.,]+(?!\d)|[.,](?<!\d[.,])[.,]*")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")


def _to_cyrillic_unless_english(match: re.Match[str]) -> str:
    word = match.group()
    letters = set(word)
    if letters & _LATIN_ONLY and not letters & _CYRILLIC_ONLY:
        return word.translate(_CYRILLIC_TO_LATIN)
    return word.translate(_LATIN_TO_CYRILLIC)


def _to_latin_unless_russian(match: re.Match[str]) -> str:
    word = match.group()
    letters = set(word)
    if letters & _CYRILLIC_ONLY and not letters & _LATIN_ONLY:
        return word.translate(_LATIN_TO_CYRILLIC)
    return word.translate(_CYRILLIC_TO_LATIN)


def _digit_as_letter(match: re.Match[str]) -> str:
    return _DIGIT_AS_LETTER[match.group()]


def _collapse_letters(match: re.Match[str]) -> str:
    char = match.group(1)
    return char if char.isalpha() else match.group()


def normalize(text: str) -> str:
    """Fold a message into the plain form that triage and search match against.

    Args:
        text: Any user text; may be empty or long.

    Returns:
        Lowercase words separated by single spaces (see the module docstring for
        the exact rules). An empty string when nothing word-like is left.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text.replace("№", " ")).lower()
    text = _INVISIBLE.sub("", text).replace("ё", "е")
    if _LATIN.search(text) and _MIXED_PAIR.search(text):
        # A word made only of shared shapes («tо», «сар») follows the message's
        # main script; Russian wins a tie.
        if len(_LATIN_ONLY_RE.findall(text)) > len(_CYRILLIC_ONLY_RE.findall(text)):
            text = _MIXED_WORD.sub(_to_latin_unless_russian, text)
        else:
            text = _MIXED_WORD.sub(_to_cyrillic_unless_english, text)
    if _DIGIT_IN_CYRILLIC.search(text):
        text = _DIGIT_IN_CYRILLIC.sub(_digit_as_letter, text)
    text = _TRIPLE.sub(_collapse_letters, text)
    text = _SEPARATORS.sub(" ", text).replace("_", " ")
    if "." in text or "," in text:
        text = _DOTS.sub(" ", text)
        if "," in text:
            text = _DECIMAL_COMMA.sub(".", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """Return the words of ``normalize(text)``."""
    return normalize(text).split()
