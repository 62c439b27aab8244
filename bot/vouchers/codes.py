"""Voucher codes: random, short enough to read aloud over a shop counter, and
forgiving of how people type them.

A code is 11 Crockford base32 symbols of random data and one check symbol
(Crockford's mod-37 check), shown as three groups of four: `7KQM-2F9X-D4HB`.
Random values whose check would be one of Crockford's five extra symbols
(*~$=U) are drawn again, so every symbol is a letter or a digit; that leaves
about 54.8 random bits — far beyond guessing, with a lockout on top.

Reading is tolerant: any case, spaces or dashes anywhere, O read as 0, I and L
read as 1. The check symbol catches a single mistyped symbol and a swap of two
neighbours, so a typo says "check the code" instead of "not found".
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
DATA_SYMBOLS = 11
LENGTH = DATA_SYMBOLS + 1
GROUP = 4
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_VALUE.update({"O": 0, "I": 1, "L": 1})
_IGNORED = str.maketrans("", "", " -–—_.\u00a0\t")


class CodeError(ValueError):
    """Not a voucher code: wrong length, a symbol no code has, or a failed check."""


def _number(symbols: str) -> int:
    value = 0
    for symbol in symbols:
        value = value * 32 + _VALUE[symbol]
    return value


def _encode(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def check_symbol(data: str) -> str | None:
    """Crockford's check symbol for `data`, or None if it would not be a plain symbol."""
    remainder = _number(data) % 37
    return ALPHABET[remainder] if remainder < 32 else None


def new_code() -> str:
    """A fresh random code (normalised, without dashes)."""
    while True:
        data = _encode(secrets.randbits(5 * DATA_SYMBOLS), DATA_SYMBOLS)
        check = check_symbol(data)
        if check is not None:
            return data + check


def normalise(typed: str) -> str:
    """The code as stored, from whatever a person typed; raise CodeError if it is none."""
    text = typed.upper().translate(_IGNORED)
    if len(text) != LENGTH:
        raise CodeError(f"a code has {LENGTH} symbols, got {len(text)}")
    if any(symbol not in _VALUE for symbol in text):
        raise CodeError("a symbol no code has")
    text = "".join(ALPHABET[_VALUE[symbol]] for symbol in text)
    if check_symbol(text[:DATA_SYMBOLS]) != text[-1]:
        raise CodeError("the check symbol does not match: a symbol was mistyped")
    return text


def display(code: str) -> str:
    """`7KQM2F9XD4HB` → `7KQM-2F9X-D4HB`: groups that can be read aloud."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))
