"""The relay's outbound queue: a message is a row until the platform accepts it.

Why a table and not a list in memory: a consultant's answer must survive a
restart and a flood limit (Telegram: about 1 message a second into one chat,
20 a minute into one group; 429 with `retry_after` beyond that). Each chat is
a *lane*; a lane's items go strictly oldest first, so a delay never reorders a
conversation, and a lane held by a 429 does not hold the others.

Rows are written in the same transaction as the change that causes them (a case
taken, a message relayed), so either both happen or neither. After the commit
the worker is woken; it also looks every second for rows written by another
process. An item is deleted once delivered: the platform can in rare cases get
a message twice (a crash between its "ok" and our delete), never lose one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.types import Button, Reply
from bot.storage.db import Database
from bot.storage.models import Case, OutboxItem, utcnow

log = logging.getLogger(__name__)

# text: a plain message · reply: a family-facing message (formatted, buttons)
# copy: a message copied from another chat (any media) · edit: change a sent text
# topic / topic_close / topic_reopen / topic_name: the case's forum topic
OUTBOX_KINDS = (
    "text",
    "reply",
    "copy",
    "edit",
    "topic",
    "topic_close",
    "topic_reopen",
    "topic_name",
)
MAX_ATTEMPTS = 30  # for faults other than flood limits (which are simply waited out)
IDLE_POLL = 1.0  # seconds between looks for rows written by another process
QUIET_LANES_KEPT = 1000  # pacing history is pruned past this many chats


class RetryLater(Exception):
    """The platform asks to wait (a flood limit): the lane pauses, nothing is lost."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Undeliverable(Exception):
    """The platform will never accept this item (chat gone, bot blocked, bad request)."""


@dataclass(frozen=True, slots=True)
class Parcel:
    """What a courier needs to deliver one item."""

    id: int
    channel: str
    chat_id: str
    kind: str
    payload: dict[str, Any]
    thread_id: int | None  # the case's forum topic, when the item goes into it
    attempts: int

    def reply(self) -> Reply:
        """A "reply" item as the channel's own replies are written (text, buttons)."""
        rows = self.payload.get("buttons") or []
        return Reply(
            text=str(self.payload.get("text", "")),
            buttons=tuple(tuple(Button(str(label), str(data)) for label, data in r) for r in rows),
        )


class Courier(Protocol):
    async def __call__(self, parcel: Parcel) -> str | None:
        """Deliver; return the platform's id of what was made (message or topic id)."""
        ...


Delivered = Callable[[AsyncSession, OutboxItem, str | None], Awaitable[None]]


@dataclass
class Pace:
    """Sliding-window limits, kept below the platform's so a 429 is the exception."""

    group: tuple[int, float] = (19, 60.0)  # Telegram: ~20 messages a minute into a group
    private: tuple[int, float] = (1, 1.0)  # …and about one a second into one chat
    sent: dict[str, deque[float]] = field(default_factory=dict)

    def limit(self, channel: str, chat_id: str) -> tuple[int, float]:
        if channel == "telegram":
            return self.group if chat_id.startswith("-") else self.private
        return (1000, 1.0)

    def wait(self, channel: str, chat_id: str, now: float) -> float:
        """Seconds until this lane may send again (0 = now)."""
        count, window = self.limit(channel, chat_id)
        times = self.sent.get(f"{channel}:{chat_id}")
        if not times:
            return 0.0
        while times and now - times[0] >= window:
            times.popleft()
        return 0.0 if len(times) < count else window - (now - times[0])

    def note(self, channel: str, chat_id: str, now: float) -> None:
        self.sent.setdefault(f"{channel}:{chat_id}", deque()).append(now)
        if len(self.sent) > QUIET_LANES_KEPT:  # forget lanes quiet for longer than any window
            longest = max(self.group[1], self.private[1])
            for lane in [k for k, t in self.sent.items() if now - t[-1] >= longest]:
                del self.sent[lane]


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.couriers: dict[str, Courier] = {}
        self.on_delivered: list[Delivered] = []
        self.pace = Pace()
        self._wake = asyncio.Event()

    def register(self, channel: str, courier: Courier) -> None:
        self.couriers[channel] = courier
        self.poke()

    def poke(self) -> None:
        self._wake.set()

    def enqueue(
        self,
        session: AsyncSession,
        *,
        channel: str,
        chat_id: str,
        kind: str,
        payload: dict[str, Any],
        case_id: int | None = None,
        case_message_id: int | None = None,
    ) -> OutboxItem:
        """Queue an item in the caller's transaction; the worker wakes after commit."""
        assert kind in OUTBOX_KINDS, kind
        item = OutboxItem(
            lane=f"{channel}:{chat_id}",
            channel=channel,
            chat_id=chat_id,
            kind=kind,
            payload=payload,
            case_id=case_id,
            case_message_id=case_message_id,
        )
        session.add(item)
        sync = session.sync_session
        if not sync.info.get("outbox_hook"):
            sync.info["outbox_hook"] = True
            event.listen(sync, "after_commit", lambda _s: self.poke(), once=True)
        return item

    # -- the worker ---------------------------------------------------------------
    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            self._wake.clear()
            try:
                pause = await self.drain()
            except Exception:
                log.exception("the outbox could not be read; retrying")
                pause = 5.0
            timeout = IDLE_POLL if pause is None else max(0.01, min(pause, IDLE_POLL))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def drain(self) -> float | None:
        """Deliver everything that may go now; seconds until the next item is due."""
        while True:
            heads = await self._heads()
            now_mono = time.monotonic()
            now = utcnow()
            ready: list[Parcel] = []
            pause: float | None = None
            for parcel, not_before in heads:
                if parcel.channel not in self.couriers:
                    continue  # that messenger is not connected (yet)
                wait = max(
                    (not_before - now).total_seconds(),
                    self.pace.wait(parcel.channel, parcel.chat_id, now_mono),
                )
                if wait > 0:
                    pause = wait if pause is None else min(pause, wait)
                    continue
                ready.append(parcel)
            if not ready:
                return pause
            await asyncio.gather(*(self._deliver(p) for p in ready))

    async def _heads(self) -> list[tuple[Parcel, datetime]]:
        first = (
            select(func.min(OutboxItem.id))
            .where(OutboxItem.failed_at.is_(None))
            .group_by(OutboxItem.lane)
            .scalar_subquery()
        )
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(OutboxItem, Case.thread_id)
                    .outerjoin(Case, Case.id == OutboxItem.case_id)
                    .where(OutboxItem.id.in_(first))
                    .order_by(OutboxItem.id)
                )
            ).all()
        return [
            (
                Parcel(
                    item.id,
                    item.channel,
                    item.chat_id,
                    item.kind,
                    dict(item.payload),
                    thread if item.payload.get("thread") else None,
                    item.attempts,
                ),
                item.not_before,
            )
            for item, thread in rows
        ]

    async def _deliver(self, parcel: Parcel) -> None:
        courier = self.couriers[parcel.channel]
        self.pace.note(parcel.channel, parcel.chat_id, time.monotonic())
        try:
            made = await courier(parcel)
        except RetryLater as wait:
            log.info("flood limit on a %s lane: waiting %.0f s", parcel.channel, wait.seconds)
            await self._later(parcel, wait.seconds, count=False)
        except Undeliverable as reason:
            log.warning(
                "outbox item %d (%s) cannot be delivered: %s", parcel.id, parcel.kind, reason
            )
            await self._fail(parcel, str(reason))
        except Exception as error:  # network, server: back off and try again
            if parcel.attempts + 1 >= MAX_ATTEMPTS:
                log.error("outbox item %d failed %d times; giving up", parcel.id, MAX_ATTEMPTS)
                await self._fail(parcel, type(error).__name__)
            else:
                log.warning(
                    "outbox item %d failed (%s); will retry", parcel.id, type(error).__name__
                )
                await self._later(parcel, min(2.0**parcel.attempts, 300.0), count=True)
        else:
            await self._done(parcel, made)

    async def _done(self, parcel: Parcel, made: str | None) -> None:
        async with self.db.session() as session:
            item = await session.get(OutboxItem, parcel.id)
            if item is None:  # deleted meanwhile (the family's data was deleted)
                return
            for hook in self.on_delivered:
                await hook(session, item, made)
            await session.execute(delete(OutboxItem).where(OutboxItem.id == parcel.id))

    async def _later(self, parcel: Parcel, seconds: float, *, count: bool) -> None:
        values: dict[str, Any] = {"not_before": utcnow() + timedelta(seconds=seconds)}
        if count:
            values["attempts"] = OutboxItem.attempts + 1
        async with self.db.session() as session:
            await session.execute(
                update(OutboxItem).where(OutboxItem.id == parcel.id).values(**values)
            )

    async def _fail(self, parcel: Parcel, reason: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == parcel.id)
                .values(failed_at=utcnow(), error=reason[:200], attempts=OutboxItem.attempts + 1)
            )

    async def pending(self) -> int:
        """Items not yet delivered (for monitoring and tests)."""
        async with self.db.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.failed_at.is_(None))
            )
        return int(count or 0)
