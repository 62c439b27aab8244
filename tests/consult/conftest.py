"""A family and consultants on one fake Bot API server: the family in a private
chat, the consultants in a staff supergroup with forum topics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select

from bot.app import Application
from bot.config import Settings
from bot.core.services import Services
from bot.storage.models import Case, StaffUser
from tests.admin.conftest import password_hash
from tests.fakes.telegram_api import FakeChat, FakeMessage, FakeTelegramServer, FakeUser

GROUP = -1001234567890
ALWAYS_OPEN = "пн-вс 00:00-24:00"


@dataclass
class Room:
    app: Application
    fake: FakeTelegramServer
    group: FakeChat
    services: Services

    def thread_messages(self, thread: int) -> list[FakeMessage]:
        return [m for m in self.group.history if m.message_thread_id == thread and not m.deleted]

    async def case(self, case_id: int | None = None) -> Case:
        async with self.services.db.session() as session:
            query = select(Case).order_by(Case.id.desc())
            if case_id is not None:
                query = query.where(Case.id == case_id)
            found = await session.scalar(query.limit(1))
        assert found is not None
        return found

    async def thread_of(self, case_id: int) -> int:
        async def made() -> bool:
            return (await self.case(case_id)).thread_id is not None

        for _ in range(100):
            if await made():
                break
            await asyncio.sleep(0.05)
        thread = (await self.case(case_id)).thread_id
        assert thread is not None, "the case's topic was not created"
        return thread

    async def wait_thread_text(
        self, thread: int, fragment: str, timeout: float = 8.0
    ) -> FakeMessage:
        found: list[FakeMessage] = []

        def seen() -> bool:
            found[:] = [m for m in self.thread_messages(thread) if fragment in (m.text or "")]
            return bool(found)

        await self.fake.wait_until(seen, timeout=timeout, what=f"{fragment!r} in topic {thread}")
        return found[-1]


async def consultant(
    services: Services, login: str, name: str, specialty: str, telegram_id: int, **extra: object
) -> StaffUser:
    async with services.db.session() as session:
        user = StaffUser(
            login=login,
            name=name,
            role="consultant",
            specialties=[specialty],
            telegram_user_id=str(telegram_id),
            password_hash=password_hash(),
            must_change_password=False,
            **extra,
        )
        session.add(user)
    return user


@contextlib.asynccontextmanager
async def staff_room(
    services: Services,
    settings: Settings,
    *,
    fast: bool = True,
    fake: FakeTelegramServer | None = None,
) -> AsyncIterator[Room]:
    """The service on a fake Bot API (a new one, or `fake` to outlive a restart)."""
    async with contextlib.AsyncExitStack() as stack:
        if fake is None:
            fake = await stack.enter_async_context(FakeTelegramServer())
        if GROUP not in fake.chats:
            fake.create_supergroup(GROUP, "Консультанты центра", is_forum=True)
        group = fake.chat(GROUP)
        settings.telegram_token = fake.token
        settings.telegram_api_server = fake.base_url
        settings.telegram_mode = "polling"
        settings.staff_group_id = GROUP
        settings.consultant_schedule = ALWAYS_OPEN
        app = Application.build(settings, services)
        if fast:  # the pacing is tested on its own; here it would only slow the story
            services.outbox.pace.limits.clear()
        await app.start()
        try:
            await asyncio.wait_for(app.wait_ready(), 30)
            telegram = app.telegram
            assert telegram is not None
            fake.bot_busy = lambda: telegram.busy
            yield Room(app, fake, group, services)
        finally:
            await app.stop()


async def settle(fake: FakeTelegramServer, user: FakeUser) -> list[FakeMessage]:
    """Wait until the bot is idle; every message the user has not read yet."""
    await fake.wait_idle()
    unread = len(user.chat.history) - user.chat._cursor
    return await user.wait_for_messages(unread) if unread else []


async def tap(user: FakeUser, fragment: str) -> None:
    """Press the newest button whose label contains `fragment`."""
    for message in reversed(user.chat.messages):
        for row in message.inline_keyboard or []:
            for button in row:
                if fragment in button["text"]:
                    await user.press(button["callback_data"], message)
                    return
    raise AssertionError(f"no button with {fragment!r}:\n{user.chat.transcript()}")


async def ask_for_psychologist(user: FakeUser, story: str) -> None:
    """A family opens a case for a psychologist (with consent), the way families do."""
    await user.send_command("/start")
    await user.wait_for_messages(2)
    await tap(user, "Поговорить с человеком")
    await user.wait_for_messages(1)
    await tap(user, "Даю согласие")
    await user.wait_for_messages(2)  # thanks, then the choice of specialist
    await tap(user, "Психолог")
    await user.wait_for_messages(1)
    await user.send_text(story)
