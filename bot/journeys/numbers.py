"""Numbers as families type them: "3", "трое", "двадцать пять", "8 месяцев", "2года".

An answer with two different numbers ("2 сына и 1 дочь", "5 лет и 3 года") is
ambiguous: it is refused, and the question asked again, rather than guessed.
"""

from __future__ import annotations

import re

from bot.core.textnorm import normalize

_UNITS = {
    0: "ноль нисколько нет zero none",
    1: "один одна одно одного одной одним one",
    2: "два две двое двух двоих two",
    3: "три трое трех троих three",
    4: "четыре четверо четырех четверых four",
    5: "пять пятеро пяти пятерых five",
    6: "шесть шестеро шести шестерых six",
    7: "семь семеро семи семерых seven",
    8: "восемь восьми eight",
    9: "девять девяти nine",
    10: "десять десяти ten",
    11: "одиннадцать eleven",
    12: "двенадцать twelve",
    13: "тринадцать thirteen",
    14: "четырнадцать fourteen",
    15: "пятнадцать fifteen",
    16: "шестнадцать sixteen",
    17: "семнадцать seventeen",
    18: "восемнадцать eighteen",
    19: "девятнадцать nineteen",
}
_TENS = {20: "двадцать twenty", 30: "тридцать thirty", 40: "сорок forty"}
WORDS = {word: value for value, words in _UNITS.items() for word in words.split()}
TENS = {word: value for value, words in _TENS.items() for word in words.split()}
HALF_YEARS = {"полгода": 0, "полтора": 1, "полутора": 1}
_DIGITS = re.compile(r"\d{1,4}(?:\.\d+)?")  # normalize() turns "1,5" into "1.5"
_GLUED = re.compile(r"^(\d{1,4}(?:\.\d+)?)([^\d.]+)$")  # "2года", "3мес"
_YEAR = ("год", "лет", "year")
_PART_OF_YEAR = ("мес", "month", "недел", "week", "дн", "день", "day")


def _words(text: str) -> list[str]:
    out: list[str] = []
    for word in normalize(text).split():
        glued = _GLUED.match(word)
        out.extend(glued.groups() if glued else (word,))
    return out


def numbers(text: str) -> list[tuple[int, str]]:
    """Every number in the text with the word right after it (its unit, if any)."""
    words = _words(text)
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(words):
        word = words[i]
        value: int | None = None
        if _DIGITS.fullmatch(word):
            value = int(float(word))
        elif word in TENS:
            value = TENS[word]
            if i + 1 < len(words) and words[i + 1] in WORDS and 0 < WORDS[words[i + 1]] < 10:
                i += 1  # "двадцать пять"
                value += WORDS[words[i]]
        elif word in WORDS:
            value = WORDS[word]
        elif word in HALF_YEARS:
            found.append((HALF_YEARS[word], "год"))
        if value is not None:
            found.append((value, words[i + 1] if i + 1 < len(words) else ""))
        i += 1
    return found


def parse(text: str, *, years: bool = False) -> int | None:
    """The one number an answer gives, or None when there is none or it is ambiguous.

    For ages (`years`): "8 месяцев", "3 недели" → 0; "1 год и 8 месяцев" → 1.
    """
    found = numbers(text)
    if years:
        whole = [value for value, unit in found if unit.startswith(_YEAR)]
        if whole:
            return whole[0] if len(set(whole)) == 1 else None
        parts = [(v, u) for v, u in found if u.startswith(_PART_OF_YEAR)]
        if parts:
            value, unit = parts[0]
            return value // 12 if unit.startswith(("мес", "month")) else 0
    values = {value for value, _ in found}
    return values.pop() if len(values) == 1 else None
