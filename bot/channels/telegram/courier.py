"""Delivers outbox items to Telegram: the bot's replies and notices to families,
the consultation relay's messages, the case topics in the staff group, alerts
and announcements.

Flood limits come back as `RetryLater` (the outbox pauses the lane and keeps
the order); answers that can never succeed as `Undeliverable`; anything else
(network, server) is raised for the outbox to retry with back-off.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile, Message

from bot.channels.telegram.render import TelegramMessage, keyboard, render
from bot.outbound.outbox import Blocked, Parcel, PartlySent, RetryLater, Undeliverable

# Answers that mean "already so": the item is done.
ALREADY = ("message is not modified", "topic_not_modified", "topic_closed", "topic_not_closed")
PHOTO_NAME = "image.png"  # replies carry PNG images (voucher QR codes)


def _outbox_error(error: TelegramAPIError) -> Exception:
    """What a Bot API failure means for the outbox; network and server faults
    stay as they are (the outbox backs off and tries again)."""
    if isinstance(error, TelegramRetryAfter):
        return RetryLater(float(error.retry_after))
    if isinstance(error, TelegramForbiddenError):
        return Blocked("the bot may not write to this chat")
    if isinstance(error, TelegramBadRequest | TelegramNotFound):
        return Undeliverable(error.message[:150])
    return error


class TelegramCourier:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def __call__(self, parcel: Parcel) -> list[str]:
        try:
            if parcel.kind == "reply":
                return await self._reply(parcel)
            made = await self._deliver(parcel)
            return [made] if made is not None else []
        except (TelegramBadRequest, TelegramNotFound) as error:
            if any(phrase in error.message.lower() for phrase in ALREADY):
                return []
            raise _outbox_error(error) from error
        except TelegramAPIError as error:
            mapped = _outbox_error(error)
            if mapped is error:
                raise
            raise mapped from error

    async def _reply(self, parcel: Parcel) -> list[str]:
        """A family-facing message: formatted text (or a photo with a caption) and
        buttons. A text Telegram cannot parse goes again as plain text.

        A long reply is several messages. Should a later one fail, the outbox
        learns which went out (`PartlySent`) and the retry starts after them.
        """
        chat = int(parcel.chat_id)
        made: list[str] = []
        for part in render(parcel.reply())[int(parcel.payload.get("sent_parts", 0)) :]:
            try:
                try:
                    sent = await self._part(chat, part, html=True)
                except TelegramBadRequest as error:
                    if "parse entities" not in error.message.lower():
                        raise
                    sent = await self._part(chat, part, html=False)
            except Exception as error:
                if made:
                    cause = _outbox_error(error) if isinstance(error, TelegramAPIError) else error
                    raise PartlySent(made, cause) from error
                raise
            made.append(str(sent.message_id))
        return made

    async def _part(self, chat: int, part: TelegramMessage, *, html: bool) -> Message:
        text = part.html if html else part.plain
        mode = "HTML" if html and text else None
        if part.photo is not None:
            return await self.bot.send_photo(
                chat,
                BufferedInputFile(part.photo, PHOTO_NAME),
                caption=text or None,
                parse_mode=mode,
                reply_markup=part.keyboard,
            )
        return await self.bot.send_message(chat, text, parse_mode=mode, reply_markup=part.keyboard)

    async def _deliver(self, parcel: Parcel) -> str | None:
        bot, payload, chat = self.bot, parcel.payload, int(parcel.chat_id)
        thread = parcel.thread_id
        kind = parcel.kind
        if kind == "text":
            sent = await bot.send_message(
                chat,
                str(payload["text"]),
                message_thread_id=thread,
                reply_markup=keyboard(parcel.reply()),
            )
            return str(sent.message_id)
        if kind == "copy":
            copied = await bot.copy_message(
                chat,
                int(str(payload["from_chat_id"])),
                int(str(payload["message_id"])),
                message_thread_id=thread,
            )
            return str(copied.message_id)
        if kind == "edit":
            if not payload.get("message_id"):
                raise Undeliverable("the message to edit was never delivered")
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
