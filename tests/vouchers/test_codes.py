"""Voucher codes and their QR images."""

from __future__ import annotations

import io
import itertools

import pytest
import zxingcpp
from PIL import Image

from bot.vouchers import codes
from bot.vouchers.qr import qr_png


def test_codes_are_random_checked_and_readable() -> None:
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    for code in itertools.islice(made, 200):
        assert len(code) == codes.LENGTH and set(code) <= set(codes.ALPHABET)
        shown = codes.display(code)
        assert len(shown.split("-")) == 3 and all(len(g) == 4 for g in shown.split("-"))
        assert codes.normalise(shown) == code
    # About 54.8 random bits: no two codes share their first eight symbols in 2,000.
    assert len({c[:8] for c in made}) == 2000


def test_typing_is_forgiven() -> None:
    code = "0123456789A" + (codes.check_symbol("0123456789A") or "")
    assert len(code) == 12
    typed = " o123-4567 89a" + code[-1].lower()  # O for zero, spaces, a dash, lower case
    assert codes.normalise(typed) == code
    assert codes.normalise(code.replace("1", "l").replace("0", "O")) == code
    assert codes.normalise(code.replace("1", "I").lower()) == code


def test_mistakes_are_caught_by_the_check_symbol() -> None:
    code = codes.new_code()
    for i in range(codes.DATA_SYMBOLS):
        for symbol in codes.ALPHABET:
            if symbol == code[i]:
                continue
            typo = code[:i] + symbol + code[i + 1 :]
            with pytest.raises(codes.CodeError):
                codes.normalise(typo)
    for i in range(codes.LENGTH - 1):
        if code[i] == code[i + 1]:
            continue
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        with pytest.raises(codes.CodeError):
            codes.normalise(swapped)
    for bad in ("", "ABC", code + "0", code[:-1] + "U", "!" * 12):
        with pytest.raises(codes.CodeError):
            codes.normalise(bad)


def test_the_qr_image_decodes_back_to_the_code() -> None:
    code = codes.new_code()
    image = Image.open(io.BytesIO(qr_png(code)))
    [found] = zxingcpp.read_barcodes(image)
    assert found.text == codes.display(code)
    assert codes.normalise(found.text) == code
