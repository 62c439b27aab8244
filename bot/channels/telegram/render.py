"""Core replies as Telegram messages."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.markup import split, to_plain, to_telegram_html
from bot.core.types import Reply

# Telegram counts the limit after entity parsing; splitting the plain text with
# room to spare keeps every HTML chunk under 4096 visible characters.
TEXT_LIMIT = 3800


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    html: str
    plain: str
    keyboard: InlineKeyboardMarkup | None


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if button.url:
                buttons.append(InlineKeyboardButton(text=button.label, url=button.url))
            elif button.payload:
                buttons.append(
                    InlineKeyboardButton(text=button.label, callback_data=button.payload)
                )
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def render(reply: Reply) -> list[TelegramMessage]:
    """One reply as one or more messages; the keyboard goes on the last one."""
    chunks = split(reply.text or "…", TEXT_LIMIT)
    markup = keyboard(reply)
    return [
        TelegramMessage(
            html=to_telegram_html(chunk),
            plain=to_plain(chunk),
            keyboard=markup if i == len(chunks) - 1 else None,
        )
        for i, chunk in enumerate(chunks)
    ]
