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
from functools import partial
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, case, delete, event, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.types import Button, Reply
from bot.outbound.pace import Pace
from bot.storage.db import Database
from bot.storage.models import (
    MESSAGE_IDS_KEPT,
    Case,
    ChatMessage,
    Identity,
    OutboxItem,
    WorkerLease,
    utcnow,
)

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
MAX_PAUSE = {Priority.URGENT: 10.0, Priority.CONSULT: 30.0, Priority.REPLY: 60.0}  # … (else 300 s)
IDLE_POLL = 1.0  # seconds between looks for rows written by another process
HEADS_READ = 100  # lanes ready now looked at per round (most important first)
LEASE = "outbox"  # one process per database delivers (WorkerLease)
LEASE_SECONDS = 15.0  # a holder that stops renewing is replaced after this
RENEW_EVERY = 5.0
LEASE_LOOK = 5.0  # seconds between looks by a process that does not hold the lease
STOP_WAIT = 5.0  # on shutdown, deliveries under way get this long to finish
BOOK_ATTEMPTS = 3  # recording an outcome is retried this often …
BOOK_PAUSE = 0.5  # … after this many seconds (growing)
SETTLE_WAIT = 10.0  # safe exit waits at most this long for a message on its way
LEDGER_GATHER = 0.02  # seconds deliveries that land together wait to be recorded as one


class RetryLater(Exception):
    """The platform asks to wait (a flood limit): the lane pauses, nothing is lost."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Undeliverable(Exception):
    """The platform will never accept this item (chat gone, bad request)."""


class Blocked(Undeliverable):
    """The person blocked the bot or forbade it to write."""


class PartlySent(Exception):
    """Some messages of a multi-message item went out before `cause` stopped it."""

    def __init__(self, made: list[str], cause: Exception) -> None:
        super().__init__(f"{len(made)} part(s) sent, then {type(cause).__name__}")
        self.made = made
        self.cause = cause


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


# After delivery: the items recorded together, each with the id of the last message made.
Delivered = Callable[[AsyncSession, list[tuple[OutboxItem, str | None]]], Awaitable[None]]
Failed = Callable[[AsyncSession, OutboxItem, str], Awaitable[None]]
# Just before items go: a last look at them (e.g. an edit takes its message's id).
Claimed = Callable[[AsyncSession, list[OutboxItem]], Awaitable[None]]


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.couriers: dict[str, Courier] = {}
        self.on_delivered: list[Delivered] = []
        self.on_failed: list[Failed] = []
        self.on_claimed: list[Claimed] = []
        self.pace = Pace()
        self._wake = asyncio.Event()
        self._waiting = False  # the last round left items for later (a limit, a retry)
        self._round = False  # a round of delivery is under way
        self._flying: dict[str, asyncio.Task[None]] = {}  # lane → its delivery under way
        self._started: dict[int, float] = {}  # item id → when it was handed over (pace)
        self._landed_items: list[tuple[Parcel, list[str], asyncio.Future[None]]] = []
        self._ledger: asyncio.Task[None] | None = None
        self.holder = secrets.token_hex(8)  # this process, in WorkerLease
        self._leased_until = 0.0  # monotonic time the lease runs out (0: not held)

    def register(self, channel: str, courier: Courier) -> None:
        self.couriers[channel] = courier
        self.poke()

    def poke(self) -> None:
        self._wake.set()

    @property
    def idle(self) -> bool:
        """Nothing due, waiting or in flight for a connected messenger (tests wait on it)."""
        return (
            not self._wake.is_set() and not self._round and not self._waiting and not self._flying
        )

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

    async def settle(self, channel: str, chat_id: str) -> None:
        """Wait until what is being sent to this chat right now has landed and
        been recorded (safe exit deletes it too)."""
        task = self._flying.get(f"{channel}:{chat_id}")
        if task is not None:
            await asyncio.wait({task}, timeout=SETTLE_WAIT)

    async def recent_ids(self, channel: str, user_id: str) -> list[str]:
        """The ids of messages in this person's chat kept for safe exit."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(ChatMessage.message_id)
                .join(Identity, Identity.id == ChatMessage.identity_id)
                .where(Identity.channel == channel, Identity.external_id == user_id)
                .where(ChatMessage.sent_at >= utcnow() - MESSAGE_IDS_KEPT)
            )
            return list(rows.all())

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
        """Deliver until cancelled, while this process holds the lease."""
        try:
            while True:
                self._round = True
                self._wake.clear()
                try:
                    pause = await self._step() if await self._hold_lease() else LEASE_LOOK
                except Exception:
                    log.exception("the outbox could not be read; retrying")
                    pause = 5.0
                finally:
                    self._round = False
                self._waiting = pause is not None
                timeout = IDLE_POLL if pause is None else max(0.01, min(pause, IDLE_POLL))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            await self._stop()

    async def _stop(self) -> None:
        """Let deliveries under way finish (briefly), then give the lease up."""
        flying = list(self._flying.values())
        if flying:
            _done, pending = await asyncio.wait(flying, timeout=STOP_WAIT)
            for task in pending:  # left claimed: the next holder treats them as in doubt
                task.cancel()
        if self._leased_until:
            with contextlib.suppress(Exception):
                async with self.db.session() as session:
                    await session.execute(
                        delete(WorkerLease).where(
                            WorkerLease.name == LEASE, WorkerLease.holder == self.holder
                        )
                    )
            self._leased_until = 0.0

    async def _hold_lease(self) -> bool:
        """Take or renew the lease; recover the items of a holder that died."""
        now_mono = time.monotonic()
        if self._leased_until - now_mono > LEASE_SECONDS - RENEW_EVERY:
            return True
        now = utcnow()
        until = now + timedelta(seconds=LEASE_SECONDS)
        async with self.db.session() as session:
            taken = await session.execute(
                update(WorkerLease)
                .where(
                    WorkerLease.name == LEASE,
                    or_(WorkerLease.holder == self.holder, WorkerLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=until)
            )
            held = bool(getattr(taken, "rowcount", 0))
        if not held:
            try:
                async with self.db.session() as session:
                    if await session.get(WorkerLease, LEASE) is None:
                        session.add(WorkerLease(name=LEASE, holder=self.holder, expires_at=until))
                        held = True
            except IntegrityError:  # another process took it first
                held = False
        if not held:
            if self._leased_until:
                log.warning("another process took over the outbox; this one stops sending")
            self._leased_until = 0.0
            return False
        if not self._leased_until:
            await self.recover()  # items a stopped holder had in flight
        self._leased_until = now_mono + LEASE_SECONDS
        return True

    async def recover(self, ids: Sequence[int] | None = None) -> None:
        """Items claimed by a process that stopped (or whose bookkeeping failed):
        send again, or, for an announcement on a platform without idempotency
        keys, count as in doubt — never twice."""
        query = select(OutboxItem).where(
            OutboxItem.claimed_at.is_not(None), OutboxItem.failed_at.is_(None)
        )
        if ids is not None:
            query = query.where(OutboxItem.id.in_(ids))
        async with self.db.session() as session:
            claimed = (await session.scalars(query)).all()
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
            log.warning("%d outbox item(s) were in flight when last seen", len(claimed))

    async def drain(self) -> float | None:
        """Deliver everything that may go now and wait for it (tests, scripts);
        seconds until the next item is due."""
        while True:
            pause = await self._step()
            flying = list(self._flying.values())
            if not flying:
                if pause == 0.0:  # stale claims were just recovered: look again
                    continue
                return pause
            await asyncio.gather(*flying, return_exceptions=True)

    async def _step(self) -> float | None:
        """Start delivering every lane head that may go now; seconds until the
        next is due. A delivery runs on its own: one slow call never holds the
        other chats."""
        heads, later = await self._heads()
        now_mono = time.monotonic()
        now = utcnow()
        ready: list[_Head] = []
        stale: list[int] = []
        pause = None if later is None else max(0.01, (later - now).total_seconds())
        for head in heads:
            if head.lane in self._flying:
                continue
            if head.claimed:  # claimed, yet not in flight here: a crash or lost bookkeeping
                stale.append(head.id)
                continue
            wait = max(
                (head.not_before - now).total_seconds(),
                self.pace.lane_wait(head.channel, head.chat_id, now_mono),
                self.pace.overall_wait(head.channel, now_mono),
            )
            if wait > 0:
                pause = wait if pause is None else min(pause, wait)
                continue
            self.pace.note(head.channel, head.chat_id, now_mono)
            self._started[head.id] = now_mono
            ready.append(head)
        if stale:
            await self.recover(stale)
            return 0.0
        parcels = await self._claim(ready)
        for gone in {h.id for h in ready} - {p.id for p in parcels}:
            self._started.pop(gone, None)  # taken meanwhile (withdrawn, deleted)
        for parcel in parcels:
            lane = f"{parcel.channel}:{parcel.chat_id}"
            task = asyncio.create_task(self._deliver(parcel))
            self._flying[lane] = task
            task.add_done_callback(partial(self._landed, lane))
        return pause

    def _landed(self, lane: str, _task: asyncio.Task[None]) -> None:
        self._flying.pop(lane, None)
        self.poke()

    async def _heads(self) -> tuple[list[_Head], datetime | None]:
        """The first item of every lane of a connected messenger, most important
        first (see `_HEADS`)."""
        values = {"channels": list(self.couriers), "now": utcnow()}
        async with self.db.session() as session:
            flying = (await session.execute(_FLYING, values)).all()
            rows = (await session.execute(_HEADS, values)).all()
            later = await session.scalar(_NEXT_DUE, values)
        busy = {row.lane for row in flying}  # a lane with an item in flight waits for it
        heads = [_Head(*row) for row in flying]
        heads += [_Head(*row) for row in rows if row.lane not in busy]
        return heads, later  # later: when a lane waiting for a retry is due

    async def _claim(self, heads: list[_Head]) -> list[Parcel]:
        """Mark the items as being sent (one statement) and read what to send."""
        if not heads:
            return []
        ids = [h.id for h in heads]
        async with self.db.session() as session:
            await session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id.in_(ids),
                    OutboxItem.claimed_at.is_(None),
                    OutboxItem.failed_at.is_(None),
                )
                .values(claimed_at=utcnow())
            )
            rows = (
                await session.execute(
                    select(OutboxItem, Case.thread_id)
                    .outerjoin(Case, Case.id == OutboxItem.case_id)
                    .where(OutboxItem.id.in_(ids), OutboxItem.claimed_at.is_not(None))
                    .order_by(OutboxItem.priority, OutboxItem.id)
                )
            ).all()
            for hook in self.on_claimed:
                await hook(session, [item for item, _ in rows])
        return [
            Parcel(
                item.id,
                item.channel,
                item.chat_id,
                item.kind,
                dict(item.payload),
                thread if item.payload.get("thread") else None,
                item.attempts,
                item.priority,
            )
            for item, thread in rows
        ]

    async def _deliver(self, parcel: Parcel) -> None:
        courier = self.couriers[parcel.channel]
        try:
            try:
                try:
                    made = await courier(parcel)
                finally:
                    started = self._started.pop(parcel.id, None)
                    if started is not None:
                        self.pace.answered(
                            parcel.channel, parcel.chat_id, started, time.monotonic()
                        )
            except PartlySent as partly:
                # Some messages of a long reply went out: remember them (safe exit
                # deletes them; a retry starts after them), then handle the fault.
                await self._book(self._progress, parcel, partly.made)
                self._paced(parcel, len(partly.made) - 1)
                raise partly.cause from None
        except RetryLater as wait:
            log.info("flood limit on a %s lane: waiting %.0f s", parcel.channel, wait.seconds)
            await self._retry(parcel, wait.seconds)
        except Blocked:
            log.info("a %s chat does not accept messages; marked as blocked", parcel.channel)
            await self._book(self._fail, parcel, BLOCKED, True)
        except Undeliverable as reason:
            log.warning(
                "outbox item %d (%s) cannot be delivered: %s", parcel.id, parcel.kind, reason
            )
            await self._book(self._fail, parcel, str(reason), False)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # network, server: back off and try again
            log.warning("outbox item %d failed (%s)", parcel.id, type(error).__name__)
            longest = MAX_PAUSE.get(Priority(parcel.priority), 300.0)
            await self._retry(parcel, min(RETRY_PAUSE * 2.0**parcel.attempts, longest))
        else:
            self._paced(parcel, len(made) - 1)
            await self._book(self._done, parcel, made)

    def _paced(self, parcel: Parcel, extra: int) -> None:
        """A long reply is several messages: each counts towards the limits."""
        now = time.monotonic()
        for _ in range(max(0, extra)):
            self.pace.note(parcel.channel, parcel.chat_id, now)

    async def _retry(self, parcel: Parcel, seconds: float) -> None:
        if parcel.attempts + 1 >= MAX_ATTEMPTS:
            log.error("outbox item %d failed %d times; giving up", parcel.id, MAX_ATTEMPTS)
            await self._book(self._fail, parcel, "too many failed attempts", False)
        else:
            await self._book(self._later, parcel, seconds)

    async def _book(self, step: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Record an outcome; a database hiccup is retried. If it keeps failing the
        item stays claimed and is picked up as stale later (never sent twice silently)."""
        for attempt in range(BOOK_ATTEMPTS):
            try:
                await step(*args)
                return
            except Exception:
                if attempt == BOOK_ATTEMPTS - 1:
                    log.exception("an outbox outcome could not be recorded")
                    return
                await asyncio.sleep(BOOK_PAUSE * (attempt + 1))

    async def _progress(self, parcel: Parcel, made: list[str]) -> None:
        async with self.db.session() as session:
            item = await session.get(OutboxItem, parcel.id)
            if item is None:
                return
            await self._record(session, item, made)
            payload = dict(item.payload)
            payload["sent_parts"] = int(payload.get("sent_parts", 0)) + len(made)
            item.payload = payload

    @staticmethod
    async def _record(session: AsyncSession, item: OutboxItem, made: list[str]) -> None:
        """Every message in a family's chat is remembered for "safe exit"."""
        identity_id = item.payload.get("identity_id")
        if (
            made
            and isinstance(identity_id, int)
            and await session.get(Identity, identity_id) is not None
        ):
            session.add_all(
                ChatMessage(identity_id=identity_id, message_id=m, outgoing=True) for m in made
            )

    async def _done(self, parcel: Parcel, made: list[str]) -> None:
        """Record a delivery. Deliveries that land together are recorded in one
        transaction (on SQLite every transaction waits for the one writer, and
        families' turns wait behind them); the lane stays busy until then."""
        landed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._landed_items.append((parcel, made, landed))
        if self._ledger is None or self._ledger.done():
            self._ledger = asyncio.create_task(self._write_ledger())
        await landed

    async def _write_ledger(self) -> None:
        await asyncio.sleep(LEDGER_GATHER)
        while self._landed_items:
            batch, self._landed_items = self._landed_items, []
            try:
                await self._done_many([(parcel, made) for parcel, made, _ in batch])
            except Exception as error:
                for _, _, landed in batch:
                    if not landed.done():
                        landed.set_exception(error)
            else:
                for _, _, landed in batch:
                    if not landed.done():
                        landed.set_result(None)

    async def _done_many(self, batch: list[tuple[Parcel, list[str]]]) -> None:
        ids = [parcel.id for parcel, _ in batch]
        async with self.db.session() as session:
            items = {
                item.id: item
                for item in (
                    await session.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids)))
                ).all()
            }
            wanted = {
                identity
                for item in items.values()
                if isinstance(identity := item.payload.get("identity_id"), int)
            }
            alive = set(
                (await session.scalars(select(Identity.id).where(Identity.id.in_(wanted)))).all()
                if wanted
                else ()
            )
            delivered: list[tuple[OutboxItem, str | None]] = []
            for parcel, made in batch:
                item = items.get(parcel.id)
                if item is None:  # deleted meanwhile (the family's data was deleted)
                    continue
                identity_id = item.payload.get("identity_id")
                if identity_id in alive:  # remembered for "safe exit"
                    session.add_all(
                        ChatMessage(identity_id=identity_id, message_id=m, outgoing=True)
                        for m in made
                    )
                delivered.append((item, made[-1] if made else None))
            for hook in self.on_delivered:
                await hook(session, delivered)
            await session.execute(delete(OutboxItem).where(OutboxItem.id.in_(ids)))

    async def _later(self, parcel: Parcel, seconds: float) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == parcel.id)
                .values(
                    not_before=utcnow() + timedelta(seconds=seconds),
                    claimed_at=None,
                    attempts=OutboxItem.attempts + 1,
                )
            )

    async def _fail(self, parcel: Parcel, reason: str, blocked: bool) -> None:
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


@dataclass(frozen=True, slots=True)
class _Head:
    """A lane's first item, without its payload (read only when it goes)."""

    id: int
    lane: str
    channel: str
    chat_id: str
    priority: int
    not_before: datetime
    claimed: bool


def _rank(item: Any) -> Any:
    """A lane's order: a crisis answer, the conversation, notices, announcements."""
    return case(
        (item.priority <= int(Priority.URGENT), 0),
        (item.priority <= int(CONVERSATION), 1),
        else_=item.priority,
    )


def _head_statements() -> tuple[Any, Any, Any]:
    """Built once. The heads: waiting items with nothing before them in their
    lane — an index probe per candidate (lanes are short), walking the waiting
    items in priority order and stopping at HEADS_READ, so a round costs the
    same however long the queue is."""
    earlier = aliased(OutboxItem)
    connected = OutboxItem.channel.in_(bindparam("channels", expanding=True))
    before = (
        select(earlier.id)
        .where(
            earlier.lane == OutboxItem.lane,
            earlier.failed_at.is_(None),
            earlier.claimed_at.is_(None),
            or_(
                _rank(earlier) < _rank(OutboxItem),
                and_(_rank(earlier) == _rank(OutboxItem), earlier.id < OutboxItem.id),
            ),
        )
        .exists()
    )
    columns = (
        OutboxItem.id,
        OutboxItem.lane,
        OutboxItem.channel,
        OutboxItem.chat_id,
        OutboxItem.priority,
        OutboxItem.not_before,
        OutboxItem.claimed_at.is_not(None),
    )
    flying = select(*columns).where(
        OutboxItem.claimed_at.is_not(None), OutboxItem.failed_at.is_(None), connected
    )
    waiting = (OutboxItem.failed_at.is_(None), OutboxItem.claimed_at.is_(None), connected)
    now = bindparam("now", type_=OutboxItem.__table__.c.not_before.type)
    heads = (
        select(*columns)
        .where(*waiting, OutboxItem.not_before <= now, ~before)
        .order_by(OutboxItem.priority, OutboxItem.id)
        .limit(HEADS_READ)
    )
    # A head waiting for a retry keeps its lane (nothing overtakes it in `before`);
    # this says when the first such wait is over.
    next_due = select(func.min(OutboxItem.not_before)).where(*waiting, OutboxItem.not_before > now)
    return flying, heads, next_due


_FLYING, _HEADS, _NEXT_DUE = _head_statements()
