"""Core replies as Telegram messages."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.markup import split, to_plain, to_telegram_html
from bot.core.types import Reply

# Telegram counts the limit after entity parsing; splitting the plain text with
# room to spare keeps every HTML chunk under 4096 visible characters.
TEXT_LIMIT = 3800
CAPTION_LIMIT = 1024  # a photo's caption, counted like a text (after entity parsing)


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    html: str
    plain: str
    keyboard: InlineKeyboardMarkup | None
    photo: bytes | None = None  # sent as a photo; `html`/`plain` is then its caption


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
    """One reply as one or more messages; the keyboard goes on the last one.

    A reply with an image is a photo captioned with the text when the text fits
    a caption; otherwise the photo goes first and the text follows it.
    """
    markup = keyboard(reply)
    if reply.image is not None:
        text = reply.text.strip()
        if len(to_plain(text)) <= CAPTION_LIMIT:
            html = to_telegram_html(text) if text else ""
            return [TelegramMessage(html, to_plain(text), markup, photo=reply.image)]
        photo = TelegramMessage("", "", None, photo=reply.image)
        return [photo, *_texts(text, markup)]
    return _texts(reply.text or "…", markup)


def _texts(text: str, markup: InlineKeyboardMarkup | None) -> list[TelegramMessage]:
    chunks = split(text, TEXT_LIMIT)
    return [
        TelegramMessage(
            html=to_telegram_html(chunk),
            plain=to_plain(chunk),
            keyboard=markup if i == len(chunks) - 1 else None,
        )
        for i, chunk in enumerate(chunks)
    ]
