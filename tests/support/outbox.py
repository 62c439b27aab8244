"""A messenger at the outbox's edge for tests that need no platform: it keeps
what each chat was sent, one entry per outbox item (a reply)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bot.core.services import Services
from bot.core.types import Reply
from bot.outbound.outbox import Blocked, Parcel


@dataclass
class Recorder:
    services: Services
    channel: str = "telegram"
    sent: list[tuple[str, list[Reply]]] = field(default_factory=list)
    works: bool = True  # False: the person blocked the bot

    def __post_init__(self) -> None:
        self.services.outbox.pace.limits.clear()  # tests: no platform limits
        self.services.outbox.register(self.channel, self)

    async def __call__(self, parcel: Parcel) -> list[str]:
        if not self.works:
            raise Blocked("blocked in a test")
        self.sent.append((parcel.chat_id, [parcel.reply()]))
        return [str(len(self.sent))]

    async def flushed(self) -> list[tuple[str, list[Reply]]]:
        """Everything due delivered, then what was sent so far."""
        await self.services.outbox.drain()
        return self.sent

    async def texts(self) -> list[str]:
        return [r.text for _, replies in await self.flushed() for r in replies]


@contextlib.asynccontextmanager
async def outbox_worker(services: Services) -> AsyncIterator[None]:
    """The outbox's worker, as `family-window run` starts it."""
    task = asyncio.create_task(services.outbox.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
