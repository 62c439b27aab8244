"""The tiny markup of journey and knowledge texts (`**bold**`), per channel."""

from __future__ import annotations

import html
import re

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)


def to_telegram_html(text: str) -> str:
    """Escape everything, then turn **bold** into <b>bold</b> (Telegram HTML mode)."""
    return _BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


def to_plain(text: str) -> str:
    """Drop the markup for channels that show plain text (VK, terminal)."""
    return _BOLD.sub(r"\1", text)


def split(text: str, limit: int) -> list[str]:
    """Split a long text at paragraph, then line, then word boundaries."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n\n", 0, limit)
        if cut < limit // 3:
            cut = rest.rfind("\n", 0, limit)
        if cut < limit // 3:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 3:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
