"""Telegram (aiogram 3): updates in → core `Incoming`; core `Outcome` → Bot API calls.

Private chats only: the bot is a family's one-to-one window. The adapter is
thin on purpose; every decision is the core's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
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
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    ErrorEvent,
    Message,
)

from bot.channels.outgoing import TurnDelivery
from bot.channels.telegram.courier import PHOTO_NAME, TelegramCourier
from bot.channels.telegram.partner_desk import PartnerDesk
from bot.channels.telegram.polling import Poller
from bot.channels.telegram.render import TelegramMessage, render
from bot.channels.telegram.staff_room import StaffRoom
from bot.config import Settings
from bot.core import texts
from bot.core.frontdoor import FrontDoor
from bot.core.types import Attachment, Channel, Incoming, Outcome, Reply

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RETRIES = 3
URGENT_ATTEMPTS = 8  # about a minute of retries for a crisis answer
WIPE_ATTEMPTS = 4
TRANSIENT_PAUSE = 1.0  # seconds, doubled on each retry …
MAX_PAUSE = 10.0  # … up to this
ALBUMS_REMEMBERED = 1000
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


class TelegramChannel(TurnDelivery):
    """Binds the core to a Bot: handlers in, deliveries out."""

    channel = Channel.TELEGRAM

    def __init__(self, frontdoor: FrontDoor, bot: Bot) -> None:
        self.frontdoor = frontdoor
        self.bot = bot
        # Partner staff's `/link` and `/check` are answered before the families' door.
        self.desk = PartnerDesk(frontdoor.services, bot, self._call)
        # Consultants in the staff group (forum topics, one per case).
        self.room = StaffRoom(frontdoor.services, bot, self._call)
        self.router = self._router()
        self.dispatcher = Dispatcher()
        self.dispatcher.include_router(self.router)
        self.dispatcher.errors.register(self._on_error)
        self.poller = Poller(bot, self.dispatcher, self.allowed_updates())
        self.webhook_set = False
        # Everything a family is sent goes through the outbox; this is its Telegram courier.
        self.outbox = frontdoor.services.outbox
        self.outbox.register(Channel.TELEGRAM.value, TelegramCourier(bot))
        self._albums: dict[str, None] = {}  # recent media group ids, oldest first
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def status(self) -> str:
        return "ok" if self.webhook_set else self.poller.status

    # -- handlers ---------------------------------------------------------------
    def _router(self) -> Router:
        router = Router(name="families")
        private = F.chat.type == "private"
        group = self.frontdoor.services.settings.staff_group_id
        if group is not None:
            router.message.register(self.room.on_message, F.chat.id == group)
            router.edited_message.register(self.room.on_edited, F.chat.id == group)
        router.message.register(self._on_message, private)
        router.edited_message.register(self._on_edited, private)
        router.callback_query.register(self._on_callback)
        router.my_chat_member.register(self._on_member, F.chat.type == "private")
        return router

    async def _on_message(self, message: Message) -> None:
        incoming = incoming_from_message(message)
        if incoming is None or await self.desk.on_message(message):
            return
        if message.media_group_id and not message.caption:
            # An album arrives as one message per photo: answer it once, but remember
            # every photo so "safe exit" can delete them all.
            if message.media_group_id in self._albums:
                await self.frontdoor.record_received(incoming)
                return
            self._albums[message.media_group_id] = None
            while len(self._albums) > ALBUMS_REMEMBERED:
                self._albums.pop(next(iter(self._albums)))
        await self.serve(incoming)

    async def _on_edited(self, message: Message) -> None:
        incoming = incoming_from_message(message, edited=True)
        if incoming is not None and incoming.text and not await self.desk.on_message(message):
            await self.serve(incoming)

    async def _on_callback(self, callback: CallbackQuery) -> None:
        message = callback.message
        if message is not None and self.room.here(message.chat.id):

            async def toast(text: str, alert: bool) -> None:
                await self._call(
                    lambda: callback.answer(text or None, show_alert=alert), incoming=None
                )

            await self.room.on_callback(callback, toast)
            return
        if message is not None and message.chat.type != "private":
            return
        if await self.desk.on_callback(callback):
            return
        # Stop the button's spinner without waiting for it: the turn must take its
        # place in the family's queue now, or a message typed just after the tap
        # could be answered first.
        answer = asyncio.create_task(self._call(callback.answer, incoming=None))
        self._background.add(answer)
        answer.add_done_callback(self._background.discard)
        chat_id = message.chat.id if message is not None else callback.from_user.id
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
    async def _send_directly(self, incoming: Incoming, replies: Sequence[Reply]) -> None:
        chat_id = int(incoming.chat_id)
        sent: list[str] = []
        try:
            for reply in replies:
                attempts = URGENT_ATTEMPTS if reply.urgent else MAX_RETRIES
                for part in render(reply):
                    result = await self._send(chat_id, part, incoming, attempts)
                    if result is None:
                        # Never let later, calmer messages arrive without this one.
                        log.error("a reply was not delivered; the rest of this turn is held back")
                        return
                    sent.append(str(result))
        finally:
            await self.frontdoor.record_sent(incoming, sent)

    async def _send(
        self, chat_id: int, part: TelegramMessage, incoming: Incoming, attempts: int
    ) -> int | None:
        if part.photo is not None:
            return await self._send_photo(chat_id, part, incoming, attempts)
        message = await self._call(
            lambda: self.bot.send_message(
                chat_id, part.html, parse_mode="HTML", reply_markup=part.keyboard
            ),
            incoming=incoming,
            attempts=attempts,
            fallback=lambda: self.bot.send_message(chat_id, part.plain, reply_markup=part.keyboard),
        )
        return message.message_id if message is not None else None

    async def _send_photo(
        self, chat_id: int, part: TelegramMessage, incoming: Incoming, attempts: int
    ) -> int | None:
        photo = part.photo
        assert photo is not None
        message = await self._call(
            lambda: self.bot.send_photo(
                chat_id,
                BufferedInputFile(photo, PHOTO_NAME),
                caption=part.html or None,
                parse_mode="HTML" if part.html else None,
                reply_markup=part.keyboard,
            ),
            incoming=incoming,
            attempts=attempts,
            fallback=lambda: self.bot.send_photo(
                chat_id,
                BufferedInputFile(photo, PHOTO_NAME),
                caption=part.plain or None,
                reply_markup=part.keyboard,
            ),
        )
        return message.message_id if message is not None else None

    async def _wipe(self, incoming: Incoming, outcome: Outcome, message_ids: Sequence[str]) -> None:
        """Safe exit: delete the chat's recent messages, in batches, with retries.

        Only ids Telegram confirmed are forgotten, so pressing the button again
        retries the rest; if something stayed, the family is told to delete the
        chat by hand (one short, neutral line).
        """
        chat_id = int(incoming.chat_id)
        ids = [int(m) for m in message_ids if m.isdigit()]
        deleted: list[str] = []
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start : start + DELETE_BATCH]
            done = await self._call(
                lambda batch=batch: self.bot.delete_messages(chat_id, batch),  # type: ignore[misc]
                incoming=None,
                attempts=WIPE_ATTEMPTS,
            )
            if done:
                deleted.extend(str(m) for m in batch)
                continue
            for message_id in batch:  # one by one: older servers, or a partial failure
                if await self._call(
                    lambda m=message_id: self.bot.delete_message(chat_id, m),  # type: ignore[misc]
                    incoming=None,
                    attempts=WIPE_ATTEMPTS,
                ):
                    deleted.append(str(message_id))
        await self.frontdoor.forget_message_ids(incoming, deleted)
        if len(deleted) < len(ids):
            text = self.frontdoor.services.translator.gettext(
                outcome.language, texts.WIPE_INCOMPLETE
            )
            await self.outbox.send(
                Channel.TELEGRAM.value,
                incoming.chat_id,
                [Reply(text, urgent=True)],
                user_id=incoming.user_id,
            )

    async def _call(
        self,
        make: Callable[[], Awaitable[T]],
        *,
        incoming: Incoming | None,
        attempts: int = MAX_RETRIES,
        fallback: Callable[[], Awaitable[T]] | None = None,
    ) -> T | None:
        """One Bot API call with the platform's failure modes handled, never raising.

        Flood limits are waited out, passing server and network faults retried
        with growing pauses (`attempts` retries), a rejected HTML message is
        resent as plain text, and a blocked chat is marked as such.
        """
        for attempt in range(attempts + 1):
            try:
                return await make()
            except TelegramRetryAfter as exc:
                if attempt == attempts:
                    log.warning("Telegram flood limit; giving up this call")
                    return None
                await asyncio.sleep(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError, OSError, TimeoutError) as exc:
                if attempt == attempts:
                    log.error("Telegram unreachable (%s); call abandoned", type(exc).__name__)
                    return None
                await asyncio.sleep(min(TRANSIENT_PAUSE * 2**attempt, MAX_PAUSE))
            except TelegramForbiddenError:
                if incoming is not None:
                    await self.frontdoor.mark_blocked(incoming, True)
                return None
            except TelegramBadRequest as exc:
                if fallback is None:
                    log.warning("Telegram bad request: %s", exc.message)
                    return None
                log.error("Telegram rejected a message (%s); sending plain text", exc.message)
                make, fallback = fallback, None
            except TelegramAPIError as exc:
                log.error("Telegram API error: %s", exc.message)
                return None
        return None

    # -- lifecycle ----------------------------------------------------------------
    async def prepare(self) -> None:
        """Command menus in the languages we speak (best effort)."""
        for language, commands in COMMANDS.items():
            await self._call(
                lambda c=commands, lang=language: self.bot.set_my_commands(c, language_code=lang),  # type: ignore[misc]
                incoming=None,
            )
        # Everyone else (other or no language setting) gets the Russian menu.
        await self._call(lambda: self.bot.set_my_commands(COMMANDS["ru"]), incoming=None)

    @property
    def busy(self) -> int:
        """Updates received and not yet fully handled, or their answers not yet sent."""
        return self.poller.in_progress + (0 if self.outbox.idle else 1)

    async def polling(self) -> None:
        """Receive updates by long polling until cancelled (never gives up)."""
        await self._call(lambda: self.bot.delete_webhook(drop_pending_updates=False), incoming=None)
        await self.prepare()
        await self.poller.run()

    async def set_webhook(self, url: str, secret: str) -> bool:
        await self.prepare()
        done = await self._call(
            lambda: self.bot.set_webhook(
                url, secret_token=secret, allowed_updates=self.allowed_updates()
            ),
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
