"""QR images of voucher codes (segno: pure Python, no image library needed)."""

from __future__ import annotations

import io

import segno

from bot.vouchers.codes import display


def qr_png(code: str, scale: int = 8) -> bytes:
    """A PNG a shop's scanner (or phone camera) reads back as the displayed code.

    Error correction "M" survives a scuffed phone screen; the quiet zone is kept
    because scanners need it.
    """
    buffer = io.BytesIO()
    segno.make_qr(display(code), error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg(code: str, scale: int = 6) -> str:
    """The same QR as inline SVG, for web pages."""
    buffer = io.BytesIO()
    segno.make_qr(display(code), error="m").save(
        buffer, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True, nl=False
    )
    return buffer.getvalue().decode()
