"""Telegram (aiogram 3): updates in → core `Incoming`; core `Outcome` → Bot API calls.

Private chats only: the bot is a family's one-to-one window. The adapter is
thin on purpose; every decision is the core's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BotCommand, CallbackQuery, ChatMemberUpdated, ErrorEvent, Message

from bot.channels.telegram.polling import Poller
from bot.channels.telegram.render import render
from bot.config import Settings
from bot.core.frontdoor import FrontDoor
from bot.core.types import Attachment, Channel, EffectKind, Incoming, Outcome

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RETRIES = 3
ALBUMS_REMEMBERED = 1000
TRANSIENT_PAUSE = 1.0  # seconds, times the attempt number
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids

COMMANDS = {
    "ru": [
        BotCommand(command="menu", description="Меню"),
        BotCommand(command="help", description="Как пользоваться"),
        BotCommand(command="forget", description="Удалить мои данные"),
    ],
    "en": [
        BotCommand(command="menu", description="Menu"),
        BotCommand(command="help", description="How to use"),
        BotCommand(command="forget", description="Delete my data"),
    ],
}


def make_bot(settings: Settings) -> Bot:
    assert settings.telegram_token, "TELEGRAM_TOKEN is not set"
    session = None
    if settings.telegram_api_server:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_server))
    return Bot(settings.telegram_token, session=session, default=DefaultBotProperties())


def _attachment(message: Message) -> Attachment | None:
    if message.photo:
        return Attachment.PHOTO
    if message.sticker:
        return Attachment.STICKER
    if message.voice or message.audio:
        return Attachment.VOICE
    if message.video or message.video_note or message.animation:
        return Attachment.VIDEO
    if message.document:
        return Attachment.DOCUMENT
    if message.location or message.venue:
        return Attachment.LOCATION
    if message.contact:
        return Attachment.CONTACT
    return None


# Things a person sends; anything else in a private chat is a service message
# (a pinned message, an auto-delete timer change…) that needs no answer.
USER_CONTENT = (
    "text",
    "caption",
    "photo",
    "sticker",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)


def incoming_from_message(message: Message, *, edited: bool = False) -> Incoming | None:
    user = message.from_user
    if user is None or not any(getattr(message, name, None) for name in USER_CONTENT):
        return None
    attachment = _attachment(message)
    text = message.text or message.caption
    if text is None and attachment is None:
        attachment = Attachment.OTHER
    return Incoming(
        channel=Channel.TELEGRAM,
        user_id=str(user.id),
        chat_id=str(message.chat.id),
        text=text,
        attachment=attachment,
        language_hint=user.language_code,
        message_id=str(message.message_id),
        edited=edited,
    )


class TelegramChannel:
    """Binds the core to a Bot: handlers in, deliveries out."""

    def __init__(self, frontdoor: FrontDoor, bot: Bot) -> None:
        self.frontdoor = frontdoor
        self.bot = bot
        self.router = self._router()
        self.dispatcher = Dispatcher()
        self.dispatcher.include_router(self.router)
        self.dispatcher.errors.register(self._on_error)
        self.poller = Poller(bot, self.dispatcher, self.allowed_updates())
        self.webhook_set = False
        self._albums: dict[str, None] = {}  # recent media group ids, oldest first

    @property
    def status(self) -> str:
        return "ok" if self.webhook_set else self.poller.status

    # -- handlers ---------------------------------------------------------------
    def _router(self) -> Router:
        router = Router(name="families")
        private = F.chat.type == "private"
        router.message.register(self._on_message, private)
        router.edited_message.register(self._on_edited, private)
        router.callback_query.register(self._on_callback)
        router.my_chat_member.register(self._on_member, F.chat.type == "private")
        return router

    async def _on_message(self, message: Message) -> None:
        if message.media_group_id and not message.caption:
            # An album arrives as one message per photo: answer it once.
            if message.media_group_id in self._albums:
                return
            self._albums[message.media_group_id] = None
            while len(self._albums) > ALBUMS_REMEMBERED:
                self._albums.pop(next(iter(self._albums)))
        incoming = incoming_from_message(message)
        if incoming is not None:
            await self.serve(incoming)

    async def _on_edited(self, message: Message) -> None:
        incoming = incoming_from_message(message, edited=True)
        if incoming is not None and incoming.text:
            await self.serve(incoming)

    async def _on_callback(self, callback: CallbackQuery) -> None:
        # Stop the button's spinner first: the family sees the tap was received.
        await self._call(callback.answer(), incoming=None)
        message = callback.message
        chat_id = message.chat.id if message is not None else callback.from_user.id
        if message is not None and message.chat.type != "private":
            return
        await self.serve(
            Incoming(
                channel=Channel.TELEGRAM,
                user_id=str(callback.from_user.id),
                chat_id=str(chat_id),
                payload=callback.data or "",
                language_hint=callback.from_user.language_code,
            )
        )

    async def _on_member(self, update: ChatMemberUpdated) -> None:
        status = update.new_chat_member.status
        incoming = Incoming(Channel.TELEGRAM, str(update.from_user.id), str(update.chat.id))
        if status in ("kicked", "left"):
            log.info("a family blocked the bot")
            await self.frontdoor.mark_blocked(incoming, True)
        elif status == "member":
            await self.frontdoor.mark_blocked(incoming, False)

    async def _on_error(self, event: ErrorEvent) -> bool:
        # The type only: an exception's text may quote the family's message.
        log.error("unhandled error in a Telegram handler: %s", type(event.exception).__name__)
        return True

    # -- delivery ---------------------------------------------------------------
    async def serve(self, incoming: Incoming) -> None:
        async def deliver(outcome: Outcome) -> None:
            await self.deliver(incoming, outcome)

        await self.frontdoor.serve(incoming, deliver)

    async def deliver(self, incoming: Incoming, outcome: Outcome) -> None:
        chat_id = int(incoming.chat_id)
        for effect in outcome.effects:
            if effect.kind is EffectKind.SAFE_EXIT:
                await self._wipe(chat_id, [int(m) for m in effect.message_ids if m.isdigit()])
        sent: list[str] = []
        for reply in outcome.replies:
            for part in render(reply):
                result = await self._send(chat_id, part.html, part.plain, part.keyboard, incoming)
                if result is None:
                    break
                sent.append(str(result))
        await self.frontdoor.record_sent(incoming, sent)

    async def _send(
        self, chat_id: int, html: str, plain: str, keyboard: Any, incoming: Incoming
    ) -> int | None:
        message = await self._call(
            self.bot.send_message(chat_id, html, parse_mode="HTML", reply_markup=keyboard),
            incoming=incoming,
            retry=lambda: self.bot.send_message(
                chat_id, html, parse_mode="HTML", reply_markup=keyboard
            ),
            fallback=lambda: self.bot.send_message(chat_id, plain, reply_markup=keyboard),
        )
        return message.message_id if message is not None else None

    async def _wipe(self, chat_id: int, message_ids: list[int]) -> None:
        """Safe exit: delete the chat's recent messages, in batches."""
        for start in range(0, len(message_ids), DELETE_BATCH):
            batch = message_ids[start : start + DELETE_BATCH]
            done = await self._call(self.bot.delete_messages(chat_id, batch), incoming=None)
            if done is None:  # older servers: one by one
                for message_id in batch:
                    await self._call(self.bot.delete_message(chat_id, message_id), incoming=None)

    async def _call(
        self,
        call: Awaitable[T],
        *,
        incoming: Incoming | None,
        retry: Callable[[], Awaitable[T]] | None = None,
        fallback: Callable[[], Awaitable[T]] | None = None,
    ) -> T | None:
        """One Bot API call with the platform's failure modes handled, never raising."""
        pending: Awaitable[T] | None = call
        for attempt in range(MAX_RETRIES + 1):
            assert pending is not None
            try:
                return await pending
            except TelegramRetryAfter as exc:
                if retry is None or attempt == MAX_RETRIES:
                    log.warning("Telegram flood limit; giving up this call")
                    return None
                await asyncio.sleep(exc.retry_after)
                pending = retry()
            except (TelegramServerError, TelegramNetworkError, OSError, TimeoutError) as exc:
                # A passing fault: retry with a short pause (a crisis answer must arrive).
                if retry is None or attempt == MAX_RETRIES:
                    log.error(
                        "Telegram unreachable (%s); message not delivered", type(exc).__name__
                    )
                    return None
                await asyncio.sleep(TRANSIENT_PAUSE * (attempt + 1))
                pending = retry()
            except TelegramForbiddenError:
                if incoming is not None:
                    await self.frontdoor.mark_blocked(incoming, True)
                return None
            except TelegramBadRequest as exc:
                if fallback is not None:
                    log.error("Telegram rejected a message (%s); sending plain text", exc.message)
                    pending, fallback, retry = fallback(), None, None
                    continue
                log.warning("Telegram bad request: %s", exc.message)
                return None
            except TelegramAPIError as exc:
                log.error("Telegram API error: %s", exc.message)
                return None
        return None

    # -- lifecycle ----------------------------------------------------------------
    async def prepare(self) -> None:
        """Command menus in the languages we speak (best effort)."""
        for language, commands in COMMANDS.items():
            await self._call(
                self.bot.set_my_commands(commands, language_code=language), incoming=None
            )
        # Everyone else (other or no language setting) gets the Russian menu.
        await self._call(self.bot.set_my_commands(COMMANDS["ru"]), incoming=None)

    async def polling(self) -> None:
        """Receive updates by long polling until cancelled (never gives up)."""
        await self._call(self.bot.delete_webhook(drop_pending_updates=False), incoming=None)
        await self.prepare()
        await self.poller.run()

    async def set_webhook(self, url: str, secret: str) -> bool:
        await self.prepare()
        done = await self._call(
            self.bot.set_webhook(url, secret_token=secret, allowed_updates=self.allowed_updates()),
            incoming=None,
        )
        self.webhook_set = bool(done)
        return self.webhook_set

    def allowed_updates(self) -> list[str]:
        return self.dispatcher.resolve_used_update_types()

    def feed(self, update: dict[str, Any]) -> None:
        """A webhook update: read and handled in the background, like polled ones."""
        self.poller.dispatch(update)

    async def stop(self) -> None:
        await self.poller.drain()
        await self.bot.session.close()
