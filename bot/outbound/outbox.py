"""The outbound queue: every message the service sends is a row until the
platform accepts it.

Why a table and not a list in memory: an answer must survive a restart and a
flood limit (429 with `retry_after`). Each chat is a *lane*. Within a lane the
conversation (crisis answers, consultants' words, replies) goes strictly oldest
first, so a delay never reorders it; reminders and announcements step aside
for it. Across lanes the most important head goes first whenever the
platform's overall limit leaves room only for some (`Priority`). A lane held
by a 429 does not hold the others.

Rows are written in the same transaction as the change that causes them (a case
taken, a voucher issued); a turn's replies right after the turn. The worker is
woken after the commit and also looks every second for rows written by another
process (one worker per database). Just before the platform is called the row
is *claimed*; it is deleted once the platform accepted it. If the process dies
in between, nobody knows whether the message went out: on the next start such
an item is sent again (a duplicate is better than a lost answer), except an
announcement on a platform without idempotency keys, which is counted as "not
confirmed" instead, so no family ever gets it twice. VK drops a repeated
`random_id`, so there every item is simply sent again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any, Protocol

from sqlalchemy import case, delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.types import Button, Effect, EffectKind, Reply
from bot.outbound.pace import Pace
from bot.storage.db import Database
from bot.storage.models import Case, ChatMessage, Identity, OutboxItem, utcnow

log = logging.getLogger(__name__)

# text: a plain message · reply: a family-facing message (formatted, buttons, image)
# copy: a message copied from another chat (any media) · edit: change a sent text
# topic / topic_close / topic_reopen / topic_name: a case's forum topic
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


class Priority(IntEnum):
    URGENT = 0  # crisis answers
    CONSULT = 1  # consultants' words, staff topics, alerts
    REPLY = 2  # the bot's answers in a conversation
    NOTICE = 3  # vouchers, reminders, follow-ups
    ANNOUNCEMENT = 4  # news of the centre


CONVERSATION = Priority.REPLY  # up to here a lane keeps strict arrival order
IN_DOUBT = "in doubt: the process stopped while the platform was being called"
DROPPED = "dropped: the family left the chat or asked to be forgotten"
BLOCKED = "blocked: the person does not accept messages from the bot"
IDEMPOTENT = frozenset({"vk"})  # the platform ignores a repeated message key
MAX_ATTEMPTS = 30  # for faults other than flood limits (which are simply waited out)
RETRY_PAUSE = 1.0  # seconds after a network or server fault, doubled each time …
MAX_PAUSE = {Priority.URGENT: 10.0, Priority.CONSULT: 30.0}  # … up to this (others: 300 s)
IDLE_POLL = 1.0  # seconds between looks for rows written by another process
HEADS_READ = 1000  # lanes looked at per round; announcements are fed in batches


class RetryLater(Exception):
    """The platform asks to wait (a flood limit): the lane pauses, nothing is lost."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Undeliverable(Exception):
    """The platform will never accept this item (chat gone, bad request)."""


class Blocked(Undeliverable):
    """The person blocked the bot or forbade it to write."""


def reply_payload(reply: Reply, **extra: Any) -> dict[str, Any]:
    """A core reply as an outbox payload (JSON): text, buttons, image."""
    payload: dict[str, Any] = {
        "text": reply.text,
        "buttons": [
            [
                [b.label, b.payload or "", b.url or ""] if b.url else [b.label, b.payload or ""]
                for b in row
            ]
            for row in reply.buttons
        ],
        **extra,
    }
    if reply.urgent:
        payload["urgent"] = True
    if reply.image is not None:
        payload["image"] = base64.b64encode(reply.image).decode("ascii")
    return payload


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
    priority: int = Priority.CONSULT

    def reply(self) -> Reply:
        """A "reply" (or "text") item as the core's replies are written."""
        rows = self.payload.get("buttons") or []
        buttons = tuple(
            tuple(
                Button(str(b[0]), str(b[1]) or None, str(b[2]) if len(b) > 2 and b[2] else None)
                for b in row
            )
            for row in rows
        )
        image = self.payload.get("image")
        return Reply(
            text=str(self.payload.get("text", "")),
            buttons=buttons,
            urgent=bool(self.payload.get("urgent")),
            image=base64.b64decode(image) if isinstance(image, str) else None,
        )


class Courier(Protocol):
    async def __call__(self, parcel: Parcel) -> list[str]:
        """Deliver; return the platform's ids of what was made (messages, a topic), in order."""
        ...


Delivered = Callable[[AsyncSession, OutboxItem, str | None], Awaitable[None]]
Failed = Callable[[AsyncSession, OutboxItem, str], Awaitable[None]]


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.couriers: dict[str, Courier] = {}
        self.on_delivered: list[Delivered] = []
        self.on_failed: list[Failed] = []
        self.pace = Pace()
        self._wake = asyncio.Event()
        self._waiting = False  # the last round left items for later (a limit, a retry)
        self._round = False  # a round of delivery is under way
        self._recovered = False

    def register(self, channel: str, courier: Courier) -> None:
        self.couriers[channel] = courier
        self.poke()

    def poke(self) -> None:
        self._wake.set()

    @property
    def idle(self) -> bool:
        """Nothing due, waiting or in flight for a connected messenger (tests wait on it)."""
        return not self._wake.is_set() and not self._round and not self._waiting

    def enqueue(
        self,
        session: AsyncSession,
        *,
        channel: str,
        chat_id: str,
        kind: str,
        payload: dict[str, Any],
        priority: int = Priority.CONSULT,
        case_id: int | None = None,
        case_message_id: int | None = None,
        announcement_id: int | None = None,
    ) -> OutboxItem:
        """Queue an item in the caller's transaction; the worker wakes after commit."""
        assert kind in OUTBOX_KINDS, kind
        if channel in IDEMPOTENT and "random_id" not in payload:
            # Room for the parts of a long reply: random_id + part number.
            payload = {**payload, "random_id": secrets.randbelow(2**31 - 2**10) + 1}
        item = OutboxItem(
            lane=f"{channel}:{chat_id}",
            channel=channel,
            chat_id=chat_id,
            kind=kind,
            payload=payload,
            priority=int(priority),
            case_id=case_id,
            case_message_id=case_message_id,
            announcement_id=announcement_id,
        )
        session.add(item)
        sync = session.sync_session
        if not sync.info.get("outbox_hook"):
            sync.info["outbox_hook"] = True
            event.listen(sync, "after_commit", lambda _s: self.poke(), once=True)
        return item

    async def send(
        self,
        channel: str,
        chat_id: str,
        replies: Sequence[Reply],
        *,
        priority: int | None = None,
        user_id: str | None = None,
    ) -> bool:
        """Queue a turn's replies to a family's chat (crisis answers urgent); False
        if they could not be written (the caller may then send urgent ones directly)."""
        if not replies:
            return True
        try:
            async with self.db.session() as session:
                identity_id = await session.scalar(
                    select(Identity.id).where(
                        Identity.channel == channel, Identity.external_id == (user_id or chat_id)
                    )
                )
                for reply in replies:
                    level = (
                        priority
                        if priority is not None
                        else (Priority.URGENT if reply.urgent else Priority.REPLY)
                    )
                    extra = {"identity_id": identity_id} if identity_id is not None else {}
                    self.enqueue(
                        session,
                        channel=channel,
                        chat_id=chat_id,
                        kind="reply",
                        payload=reply_payload(reply, **extra),
                        priority=level,
                    )
        except Exception:
            log.exception("replies could not be queued (channel=%s)", channel)
            return False
        return True

    async def before_replies(self, channel: str, chat_id: str, effects: Sequence[Effect]) -> None:
        """What a turn's effects mean for messages still waiting for this chat:
        after "safe exit" nothing is sent; after "delete my data" no notices or
        news (the family asked to be forgotten), only the conversation's answers."""
        kinds = {effect.kind for effect in effects}
        if EffectKind.SAFE_EXIT in kinds:
            await self.drop_lane(channel, chat_id)
        elif EffectKind.FORGET in kinds:
            await self.drop_lane(channel, chat_id, lowest=Priority.NOTICE)

    async def drop_lane(self, channel: str, chat_id: str, *, lowest: int = Priority.URGENT) -> int:
        """Withdraw what still waits for this chat, from priority `lowest` down."""
        async with self.db.session() as session:
            return await self.withdraw(session, [f"{channel}:{chat_id}"], lowest=lowest)

    async def withdraw(
        self, session: AsyncSession, lanes: Sequence[str], *, lowest: int = Priority.URGENT
    ) -> int:
        """In the caller's transaction: items of these lanes not yet handed to the
        platform, from priority `lowest` down, are never sent (hooks count them)."""
        items = (
            await session.scalars(
                select(OutboxItem).where(
                    OutboxItem.lane.in_(lanes),
                    OutboxItem.priority >= int(lowest),
                    OutboxItem.failed_at.is_(None),
                    OutboxItem.claimed_at.is_(None),
                )
            )
        ).all()
        for item in items:
            for hook in self.on_failed:
                await hook(session, item, DROPPED)
        if items:
            await session.execute(
                delete(OutboxItem).where(OutboxItem.id.in_([i.id for i in items]))
            )
        return len(items)

    # -- the worker ---------------------------------------------------------------
    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            self._round = True
            self._wake.clear()
            try:
                if not self._recovered:
                    await self.recover()
                pause = await self.drain()
            except Exception:
                log.exception("the outbox could not be read; retrying")
                pause = 5.0
            finally:
                self._round = False
            self._waiting = pause is not None
            timeout = IDLE_POLL if pause is None else max(0.01, min(pause, IDLE_POLL))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def recover(self) -> None:
        """Items claimed by a process that stopped: send again, or count as in doubt."""
        async with self.db.session() as session:
            claimed = (
                await session.scalars(
                    select(OutboxItem).where(
                        OutboxItem.claimed_at.is_not(None), OutboxItem.failed_at.is_(None)
                    )
                )
            ).all()
            resend = []
            for item in claimed:
                if item.priority >= Priority.ANNOUNCEMENT and item.channel not in IDEMPOTENT:
                    item.failed_at = utcnow()
                    item.error = IN_DOUBT[:200]
                    for hook in self.on_failed:
                        await hook(session, item, IN_DOUBT)
                else:
                    resend.append(item.id)
            if resend:
                await session.execute(
                    update(OutboxItem).where(OutboxItem.id.in_(resend)).values(claimed_at=None)
                )
        if claimed:
            log.warning("%d outbox item(s) were in flight when the service stopped", len(claimed))
        self._recovered = True

    async def drain(self) -> float | None:
        """Deliver everything that may go now; seconds until the next item is due."""
        while True:
            heads = await self._heads()
            now_mono = time.monotonic()
            now = utcnow()
            ready: list[Parcel] = []
            pause: float | None = None
            for parcel, not_before, claimed in heads:
                if claimed or parcel.channel not in self.couriers:
                    continue  # in flight, or that messenger is not connected (yet)
                wait = max(
                    (not_before - now).total_seconds(),
                    self.pace.lane_wait(parcel.channel, parcel.chat_id, now_mono),
                    self.pace.overall_wait(parcel.channel, now_mono),
                )
                if wait > 0:
                    pause = wait if pause is None else min(pause, wait)
                    continue
                self.pace.note(parcel.channel, parcel.chat_id, now_mono)
                ready.append(parcel)
            if not ready:
                return pause
            await self._claim([p.id for p in ready])
            await asyncio.gather(*(self._deliver(p) for p in ready))

    async def _heads(self) -> list[tuple[Parcel, datetime, bool]]:
        """The first item of every lane: an item in flight first, then the
        conversation in arrival order, then notices, then announcements."""
        in_flight = case((OutboxItem.claimed_at.is_(None), 1), else_=0)
        rank = case((OutboxItem.priority <= int(CONVERSATION), 0), else_=OutboxItem.priority)
        numbered = (
            select(
                OutboxItem.id.label("id"),
                func.row_number()
                .over(partition_by=OutboxItem.lane, order_by=(in_flight, rank, OutboxItem.id))
                .label("place"),
            )
            .where(OutboxItem.failed_at.is_(None))
            .subquery()
        )
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(OutboxItem, Case.thread_id)
                    .join(numbered, numbered.c.id == OutboxItem.id)
                    .outerjoin(Case, Case.id == OutboxItem.case_id)
                    .where(numbered.c.place == 1)
                    .order_by(OutboxItem.priority, OutboxItem.id)
                    .limit(HEADS_READ)
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
                    item.priority,
                ),
                item.not_before,
                item.claimed_at is not None,
            )
            for item, thread in rows
        ]

    async def _claim(self, ids: list[int]) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(OutboxItem).where(OutboxItem.id.in_(ids)).values(claimed_at=utcnow())
            )

    async def _deliver(self, parcel: Parcel) -> None:
        courier = self.couriers[parcel.channel]
        try:
            made = await courier(parcel)
        except RetryLater as wait:
            log.info("flood limit on a %s lane: waiting %.0f s", parcel.channel, wait.seconds)
            await self._later(parcel, wait.seconds, count=False)
        except Blocked:
            log.info("a %s chat does not accept messages; marked as blocked", parcel.channel)
            await self._fail(parcel, BLOCKED, blocked=True)
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
                longest = MAX_PAUSE.get(Priority(parcel.priority), 300.0)
                await self._later(
                    parcel, min(RETRY_PAUSE * 2.0**parcel.attempts, longest), count=True
                )
        else:
            await self._done(parcel, made)

    async def _done(self, parcel: Parcel, made: list[str]) -> None:
        async with self.db.session() as session:
            item = await session.get(OutboxItem, parcel.id)
            if item is None:  # deleted meanwhile (the family's data was deleted)
                return
            identity_id = item.payload.get("identity_id")
            # Every message in a family's chat is remembered for "safe exit".
            if (
                made
                and isinstance(identity_id, int)
                and await session.get(Identity, identity_id) is not None
            ):
                session.add_all(
                    ChatMessage(identity_id=identity_id, message_id=m, outgoing=True) for m in made
                )
            for hook in self.on_delivered:
                await hook(session, item, made[-1] if made else None)
            await session.execute(delete(OutboxItem).where(OutboxItem.id == parcel.id))

    async def _later(self, parcel: Parcel, seconds: float, *, count: bool) -> None:
        values: dict[str, Any] = {
            "not_before": utcnow() + timedelta(seconds=seconds),
            "claimed_at": None,
        }
        if count:
            values["attempts"] = OutboxItem.attempts + 1
        async with self.db.session() as session:
            await session.execute(
                update(OutboxItem).where(OutboxItem.id == parcel.id).values(**values)
            )
        self.poke()

    async def _fail(self, parcel: Parcel, reason: str, *, blocked: bool = False) -> None:
        async with self.db.session() as session:
            item = await session.get(OutboxItem, parcel.id)
            if item is None:
                return
            item.failed_at = utcnow()
            item.error = reason[:200]
            item.claimed_at = None
            item.attempts += 1
            for hook in self.on_failed:
                await hook(session, item, reason)
            if blocked:
                await session.execute(
                    update(Identity)
                    .where(
                        Identity.channel == parcel.channel,
                        Identity.chat_id == parcel.chat_id,
                        Identity.blocked_at.is_(None),
                    )
                    .values(blocked_at=utcnow())
                )

    async def pending(self) -> int:
        """Items not yet delivered (for monitoring and tests)."""
        async with self.db.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.failed_at.is_(None))
            )
        return int(count or 0)
