"""Delivers outbox items to Telegram: the consultation relay's messages, the
case topics in the staff group, and alerts.

Flood limits come back as `RetryLater` (the outbox pauses the lane and keeps
the order); answers that can never succeed as `Undeliverable`; anything else
(network, server) is raised for the outbox to retry with back-off.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.telegram.render import render
from bot.consult.outbox import Parcel, RetryLater, Undeliverable

# Answers that mean "already so": the item is done.
ALREADY = ("message is not modified", "topic_not_modified", "topic_closed", "topic_not_closed")


def _keyboard(rows: object) -> InlineKeyboardMarkup | None:
    if not isinstance(rows, list) or not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=str(label), callback_data=str(data)) for label, data in row]
            for row in rows
        ]
    )


class TelegramCourier:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def __call__(self, parcel: Parcel) -> str | None:
        try:
            return await self._deliver(parcel)
        except TelegramRetryAfter as wait:
            raise RetryLater(float(wait.retry_after)) from wait
        except TelegramForbiddenError as error:
            raise Undeliverable("the bot may not write to this chat") from error
        except (TelegramBadRequest, TelegramNotFound) as error:
            if any(phrase in error.message.lower() for phrase in ALREADY):
                return None
            raise Undeliverable(error.message[:150]) from error

    async def _deliver(self, parcel: Parcel) -> str | None:
        bot, payload, chat = self.bot, parcel.payload, int(parcel.chat_id)
        thread = parcel.thread_id
        kind = parcel.kind
        if kind == "text":
            sent = await bot.send_message(
                chat,
                str(payload["text"]),
                message_thread_id=thread,
                reply_markup=_keyboard(payload.get("buttons")),
            )
            return str(sent.message_id)
        if kind == "reply":
            last: str | None = None
            for part in render(parcel.reply()):
                sent = await bot.send_message(
                    chat, part.html, parse_mode="HTML", reply_markup=part.keyboard
                )
                last = str(sent.message_id)
            return last
        if kind == "copy":
            copied = await bot.copy_message(
                chat,
                int(str(payload["from_chat_id"])),
                int(str(payload["message_id"])),
                message_thread_id=thread,
            )
            return str(copied.message_id)
        if kind == "edit":
            message_id = int(str(payload["message_id"]))
            if payload.get("caption"):
                await bot.edit_message_caption(
                    chat_id=chat, message_id=message_id, caption=str(payload["text"])
                )
            else:
                await bot.edit_message_text(
                    str(payload["text"]), chat_id=chat, message_id=message_id
                )
            return None
        if kind == "topic":
            topic = await bot.create_forum_topic(chat, str(payload["name"]))
            return str(topic.message_thread_id)
        if thread is None:
            return None  # the topic was never made: nothing to change
        if kind == "topic_name":
            await bot.edit_forum_topic(chat, thread, name=str(payload["name"]))
        elif kind == "topic_close":
            await bot.close_forum_topic(chat, thread)
        elif kind == "topic_reopen":
            await bot.reopen_forum_topic(chat, thread)
        else:
            raise Undeliverable(f"unknown item kind {kind}")
        return None
