"""The consultants' room: a Telegram supergroup with forum topics, one per case.

A consultant who linked their Telegram (`/link CODE` from the admin panel)
takes a case with the card's button or `/take`, and what they write in the
case's topic reaches the family in the family's own chat (copied, so photos,
documents and voice messages go too; an edit follows). `/note` stays inside.
The rules live in `bot.consult.desk`; this module only reads Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.types import CallbackQuery, Message
from sqlalchemy import select

from bot.channels.telegram.partner_desk import Call, command
from bot.consult import desk
from bot.consult.texts import STAFF_HELP
from bot.core.ordering import InOrder
from bot.core.services import Services
from bot.storage.models import CannedReply, Case, StaffUser

NOT_LINKED = (
    "Чтобы работать с обращениями, привяжите Telegram: панель управления → "
    "«Чаты с семьями» → «Привязать Telegram», затем отправьте боту /link КОД."
)
IN_TOPIC_ONLY = "Эта команда работает в теме обращения."
CALLBACK = re.compile(r"^cs\.(\d{1,9})\.(take|to\.[a-z]{1,16})$")
CASE_COMMANDS = ("take", "transfer", "note", "close", "followup", "canned")
CANNED_SHOWN = 20


def _attachment(message: Message) -> str | None:
    for kind in ("photo", "document", "voice", "video", "audio", "sticker", "video_note"):
        if getattr(message, kind, None):
            return kind
    return None


class StaffRoom:
    def __init__(self, services: Services, bot: Bot, call: Call) -> None:
        self.services = services
        self.bot = bot
        self.call = call
        # One consultant's messages are handled one at a time, in arrival order, so
        # the family reads them in the order they were written.
        self._in_order = InOrder()

    @property
    def chat_id(self) -> int | None:
        return self.services.settings.staff_group_id

    def here(self, chat_id: int) -> bool:
        return self.chat_id is not None and chat_id == self.chat_id

    async def _say(self, thread: int | None, text: str) -> None:
        chat = self.chat_id
        if chat is None or not text:
            return
        await self.call(
            lambda: self.bot.send_message(chat, text, message_thread_id=thread), incoming=None
        )

    async def on_message(self, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        async with self._in_order(user.id):  # taken before the first await
            await self._on_message(message, user.id)

    async def _on_message(self, message: Message, user_id: int) -> None:
        thread = message.message_thread_id if message.is_topic_message else None
        name, argument = command(message.text)
        staff = await desk.staff_for_telegram(self.services, str(user_id))
        if staff is None:
            if name:
                await self._say(thread, NOT_LINKED)
            return  # colleagues' chatter is not ours to handle
        case_id = await desk.case_for_thread(self.services, thread) if thread else None
        if name in ("help", "start") or (name and name not in CASE_COMMANDS):
            await self._say(thread, STAFF_HELP)
            return
        if case_id is None:
            if name:
                await self._say(thread, IN_TOPIC_ONLY)
            return
        if name:
            done = await self._command(name, argument, case_id, staff, thread)
            if done is not None and (not done.ok or name in ("note", "followup")):
                await self._say(thread, done.message)
            return
        text = message.text or message.caption or ""
        source = desk.Source(
            chat_id=str(message.chat.id),
            message_id=str(message.message_id),
            attachment=_attachment(message),
        )
        done = await desk.reply(self.services, case_id, staff.id, text, source)
        if not done.ok:
            await self._say(thread, done.message)

    async def _command(
        self, name: str, argument: str, case_id: int, staff: StaffUser, thread: int | None
    ) -> desk.Done | None:
        services = self.services
        if name == "take":
            return await desk.take(services, case_id, staff.id)
        if name == "note":
            return await desk.note(services, case_id, staff.id, argument)
        if name == "transfer":
            specialty = desk.parse_specialty(argument) if argument else None
            if specialty is not None:
                return await desk.transfer(services, case_id, staff.id, specialty=specialty)
            if not argument:
                return desk.Done(False, "Кому передать? Например: /transfer юрист")
            return await desk.transfer(services, case_id, staff.id, to_login=argument)
        if name in ("close", "followup"):
            days: int | None = None
            if argument:
                if not argument.isdigit():
                    return desk.Done(False, "Укажите число дней, например: /close 3")
                days = int(argument)
            if name == "close":
                return await desk.close(services, case_id, staff.id, days)
            days = days or services.settings.follow_up_days
            return await desk.follow_up(services, case_id, staff.id, days)
        return await self._canned(argument, case_id, staff, thread)

    async def _canned(
        self, argument: str, case_id: int, staff: StaffUser, thread: int | None
    ) -> desk.Done | None:
        async with self.services.db.session() as session:
            item = await session.get(Case, case_id)
            if item is None:
                return desk.Done(False, "Обращение не найдено.")
            replies = (
                await session.scalars(
                    select(CannedReply)
                    .where(CannedReply.active.is_(True), CannedReply.language == item.language)
                    .where(CannedReply.specialty.in_(("", item.specialty)))
                    .order_by(CannedReply.title, CannedReply.id)
                    .limit(CANNED_SHOWN)
                )
            ).all()
        if not argument:
            if not replies:
                return desk.Done(False, "Шаблонов ответов на языке семьи пока нет.")
            lines = [f"{n}. {r.title}" for n, r in enumerate(replies, 1)]
            await self._say(thread, "Шаблоны (/canned N — отправить):\n" + "\n".join(lines))
            return None
        if not argument.isdigit() or not 1 <= int(argument) <= len(replies):
            return desk.Done(False, "Нет такого шаблона: /canned — список.")
        return await desk.reply(self.services, case_id, staff.id, replies[int(argument) - 1].text)

    async def on_edited(self, message: Message) -> None:
        user = message.from_user
        text = message.text or message.caption or ""
        if user is None or not text or text.startswith("/"):
            return
        async with self._in_order(user.id):  # after the message it corrects
            staff = await desk.staff_for_telegram(self.services, str(user.id))
            if staff is not None:
                await desk.edit_reply(self.services, str(message.message_id), staff.id, text)

    async def on_callback(
        self, callback: CallbackQuery, answer: Callable[[str, bool], Awaitable[Any]]
    ) -> None:
        match = CALLBACK.match(callback.data or "")
        staff = await desk.staff_for_telegram(self.services, str(callback.from_user.id))
        if match is None:
            await answer("Кнопка устарела.", False)
            return
        if staff is None:
            await answer(NOT_LINKED, True)
            return
        case_id, action = int(match.group(1)), match.group(2)
        if action == "take":
            done = await desk.take(self.services, case_id, staff.id)
        else:
            done = await desk.transfer(self.services, case_id, staff.id, specialty=action[3:])
        await answer(done.message[:200], not done.ok)
