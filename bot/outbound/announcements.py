"""Announcements: a message from the centre to the families who said "yes" to them.

Who gets one (`audience`): families that opted in (`announcements_ok`), never
one that pressed "safe exit" (`quiet_at`: someone else may read the phone), and
only families we can reach in a messenger (Telegram or VK, not blocked). Staff
may narrow it by language, city and family category; city and categories come
from a *verified* family card, so they are what staff checked, not a claim.

Sending (`Feeder`): an announcement is fed into the outbox a batch at a time, at
the lowest priority, so a consultant's answer never waits behind ten thousand
news items. Each batch moves the announcement's `cursor` (the last family id
queued) in the same transaction as the items it queues: a crash or a restart
queues nobody twice, and stopping it withdraws everything not yet handed to the
platform. A family linked in two messengers gets one copy, where it was last seen
among the messengers connected now (a family reachable only in a messenger that
is off is skipped, and logged); while no messenger is connected at all nothing
is queued. Each item names the chat's identity, so "safe exit" can delete it
from the chat like any other message.

Progress is counted by outbox hooks (`sent`, `failed`, `uncertain`); an item the
process was sending when it died is "uncertain" and never resent.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Select, Text, and_, cast, delete, exists, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import N_
from bot.core.types import Reply
from bot.outbound.outbox import IN_DOUBT, Priority, reply_payload
from bot.storage import audit
from bot.storage.models import (
    FAMILY_CATEGORIES,
    Announcement,
    Family,
    FamilyCard,
    Identity,
    OutboxItem,
    StaffUser,
    utcnow,
)

if TYPE_CHECKING:
    from bot.core.services import Services

log = logging.getLogger(__name__)

MESSENGERS = ("telegram", "vk")  # where the centre can write first (not the web chat)
LOW = 60  # fewer of an announcement's items than this waiting: queue the next batch
BATCH = 120  # families queued at a time (a short write: turns wait for it on SQLite)
RATE = 25.0  # messages a second the platforms take from us (for the ETA)
TEXT_MAX = 3500  # one Telegram/VK message, with room for the line below
TICK = 1.0  # seconds between looks
ENTITY = "announcement"  # in the audit log

# Below every announcement, in the family's language.
OPT_OUT = N_("Отключить новости центра: Меню → Настройки → Новости центра.")


class Filters(Protocol):
    """Whom an announcement is for ("" / [] = no limit); an `Announcement` is one."""

    @property
    def language(self) -> str: ...

    @property
    def city(self) -> str: ...

    @property
    def categories(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Audience:
    """Filters not (yet) saved: the admin form counts these as staff type."""

    language: str = ""
    city: str = ""
    categories: list[Any] = field(default_factory=list)


# -- who gets it ----------------------------------------------------------------------
def _reachable() -> Any:
    """The family has a messenger chat that has not blocked the bot."""
    return exists().where(
        Identity.family_id == Family.id,
        Identity.channel.in_(MESSENGERS),
        Identity.blocked_at.is_(None),
    )


def _any_category(categories: list[str]) -> Any:
    """The card lists any of these categories. The keys are plain identifiers
    (FAMILY_CATEGORIES), so matching the quoted key in the JSON text works the
    same on SQLite and PostgreSQL ('"pregnancy"' is never part of another key)."""
    text = cast(FamilyCard.categories, Text)
    return or_(*(text.like(f'%"{key}"%') for key in categories))


def audience(filters: Filters) -> Select[int]:
    """The ids of the families an announcement goes to (order and limit are the caller's)."""
    query = select(Family.id).where(
        Family.announcements_ok.is_(True), Family.quiet_at.is_(None), _reachable()
    )
    if filters.language:
        query = query.where(Family.language == filters.language)
    categories = [c for c in FAMILY_CATEGORIES if c in (filters.categories or [])]
    if filters.city or filters.categories:
        card = [FamilyCard.family_id == Family.id, FamilyCard.status == "verified"]
        if filters.city:
            card.append(FamilyCard.city == filters.city)
        if filters.categories:
            # An unknown key matches nobody rather than everybody.
            card.append(_any_category(categories) if categories else FamilyCard.id.is_(None))
        query = query.where(exists().where(and_(*card)))
    return query


async def count(session: AsyncSession, filters: Filters) -> int:
    """How many families would get it now."""
    found = await session.scalar(select(func.count()).select_from(audience(filters).subquery()))
    return int(found or 0)


def family_text(services: Services, text: str, language: str) -> str:
    """What the family reads: the announcement as staff wrote it, and how to stop them."""
    return f"{text.strip()}\n\n{services.translator.gettext(language, OPT_OUT)}"


# -- staff: start and stop ------------------------------------------------------------
def _figures(announcement: Announcement) -> dict[str, Any]:
    """What the audit log keeps of a start or a stop (counts only, no one's data)."""
    return {
        "status": announcement.status,
        "total": announcement.total,
        "queued": announcement.queued,
        "sent": announcement.sent,
        "failed": announcement.failed,
        "uncertain": announcement.uncertain,
    }


def _rows(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


async def start(session: AsyncSession, announcement: Announcement, staff: StaffUser | None) -> bool:
    """A draft starts sending (the feeder picks it up); False if it is no longer a draft."""
    before = _figures(announcement)
    total = await count(session, announcement)
    now = utcnow()
    changed = _rows(
        await session.execute(
            update(Announcement)
            .where(Announcement.id == announcement.id, Announcement.status == "draft")
            .values(status="sending", total=total, started_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if not changed:
        return False
    await session.refresh(announcement)
    audit.add(
        session,
        staff,
        "start",
        ENTITY,
        announcement.id,
        before=before,
        after=_figures(announcement),
    )
    return True


async def stop(session: AsyncSession, announcement: Announcement, staff: StaffUser | None) -> bool:
    """Stop sending: what is not yet handed to the platform is withdrawn at once.
    False if it was not sending."""
    before = _figures(announcement)
    # The status first: it waits for a batch being queued to commit, so the
    # delete below sees that batch too, and no batch can follow it.
    changed = _rows(
        await session.execute(
            update(Announcement)
            .where(Announcement.id == announcement.id, Announcement.status == "sending")
            .values(status="stopped", finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    if not changed:
        return False
    withdrawn = await _withdraw(session, announcement.id)
    await session.refresh(announcement)
    after = _figures(announcement) | {"withdrawn": withdrawn}
    audit.add(session, staff, "stop", ENTITY, announcement.id, before=before, after=after)
    return True


async def _withdraw(session: AsyncSession, announcement_id: int) -> int:
    """Delete the announcement's items not yet handed to the platform; `queued`
    then counts what went into the outbox and was not taken back."""
    withdrawn = _rows(
        await session.execute(
            delete(OutboxItem)
            .where(
                OutboxItem.announcement_id == announcement_id,
                OutboxItem.claimed_at.is_(None),
                OutboxItem.failed_at.is_(None),
            )
            .execution_options(synchronize_session=False)
        )
    )
    if withdrawn:
        await session.execute(
            update(Announcement)
            .where(Announcement.id == announcement_id)
            .values(queued=Announcement.queued - withdrawn)
        )
    return withdrawn


# -- progress -------------------------------------------------------------------------
def figures(announcement: Announcement) -> dict[str, Any]:
    """Progress as the admin page shows it (counts only)."""
    done = announcement.sent + announcement.failed + announcement.uncertain
    waiting = max(0, announcement.queued - done)
    # The ETA counts the families not queued yet too (queued a batch at a time),
    # at the platforms' pace; families that left the audience meanwhile make it
    # an upper bound.
    left = max(waiting, announcement.total - done) if announcement.status == "sending" else 0
    return {
        "id": announcement.id,
        "status": announcement.status,
        "total": announcement.total,
        "queued": announcement.queued,
        "sent": announcement.sent,
        "failed": announcement.failed,
        "uncertain": announcement.uncertain,
        "waiting": waiting,
        "started_at": _iso(announcement.started_at),
        "finished_at": _iso(announcement.finished_at),
        "eta_seconds": math.ceil(left / RATE),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def progress(session: AsyncSession, announcement_id: int) -> dict[str, Any] | None:
    """Figures of one announcement (None if there is no such announcement)."""
    announcement = await session.get(Announcement, announcement_id, populate_existing=True)
    return figures(announcement) if announcement is not None else None


# -- the feeder -----------------------------------------------------------------------
class Feeder:
    """Keeps each sending announcement's items flowing into the outbox, a batch at
    a time, and counts what the outbox reports back."""

    def __init__(self, services: Services, *, low: int = LOW, batch: int = BATCH) -> None:
        self.services = services
        self.low = low
        self.batch = batch
        services.outbox.on_delivered.append(self._delivered)
        services.outbox.on_failed.append(self._failed)

    async def run(self) -> None:
        """Top up every second until cancelled; a fault is logged, never fatal."""
        while True:
            try:
                await self.top_up()
            except Exception:
                log.exception("announcements could not be queued; retrying")
            await asyncio.sleep(TICK)

    async def top_up(self) -> None:
        async with self.services.db.session() as session:
            sending = list(
                (
                    await session.scalars(
                        select(Announcement.id)
                        .where(Announcement.status == "sending")
                        .order_by(Announcement.id)
                    )
                ).all()
            )
            # An item in flight when its announcement was stopped comes back to
            # the queue if the platform asked to retry: it is taken back here.
            leftovers = (
                await session.scalars(
                    select(OutboxItem.announcement_id)
                    .join(Announcement, Announcement.id == OutboxItem.announcement_id)
                    .where(
                        Announcement.status == "stopped",
                        OutboxItem.claimed_at.is_(None),
                        OutboxItem.failed_at.is_(None),
                    )
                    .distinct()
                )
            ).all()
            for announcement_id in leftovers:
                if announcement_id is not None:
                    await _withdraw(session, announcement_id)
        for announcement_id in sending:
            async with self.services.db.session() as session:
                await self._feed(session, announcement_id)

    async def _feed(self, session: AsyncSession, announcement_id: int) -> None:
        announcement = await session.get(Announcement, announcement_id, populate_existing=True)
        if announcement is None or announcement.status != "sending":
            return
        waiting = int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(
                    OutboxItem.announcement_id == announcement.id, OutboxItem.failed_at.is_(None)
                )
            )
            or 0
        )
        if waiting >= self.low:
            return
        connected = [c for c in MESSENGERS if c in self.services.outbox.couriers]
        if not connected:  # starting up, or every messenger is off: wait, skip nobody
            return
        next_ids = (
            audience(announcement)
            .where(Family.id > announcement.cursor)
            .order_by(Family.id)
            .limit(self.batch)
        )
        ids = list((await session.scalars(next_ids)).all())
        if not ids:
            if not waiting:  # everyone queued, and the outbox has done its part
                await session.execute(
                    update(Announcement)
                    .where(Announcement.id == announcement.id, Announcement.status == "sending")
                    .values(status="done", finished_at=utcnow())
                )
                log.info("announcement %d is done", announcement.id)
            return
        chats = await _preferred(session, ids, connected)
        skipped = len(ids) - len(chats)
        # The cursor moves only if nobody moved it or stopped the announcement
        # meanwhile (another process, a stop): then this batch is queued, or none of it.
        moved = _rows(
            await session.execute(
                update(Announcement)
                .where(
                    Announcement.id == announcement.id,
                    Announcement.status == "sending",
                    Announcement.cursor == announcement.cursor,
                )
                .values(cursor=ids[-1], queued=Announcement.queued + len(chats))
                .execution_options(synchronize_session=False)
            )
        )
        if not moved:
            return
        if skipped:
            log.info(
                "announcement %d: %d families reachable only in a messenger not connected now; "
                "skipped",
                announcement.id,
                skipped,
            )
        for family_id in ids:
            chat = chats.get(family_id)
            if chat is None:
                continue
            identity_id, channel, chat_id, language = chat
            self.services.outbox.enqueue(
                session,
                channel=channel,
                chat_id=chat_id,
                kind="reply",
                payload=reply_payload(
                    Reply(family_text(self.services, announcement.text, language)),
                    identity_id=identity_id,
                ),
                priority=Priority.ANNOUNCEMENT,
                announcement_id=announcement.id,
            )

    # -- what the outbox reports ------------------------------------------------------
    async def _delivered(
        self, session: AsyncSession, delivered: list[tuple[OutboxItem, str | None]]
    ) -> None:
        counts = Counter(i.announcement_id for i, _ in delivered if i.announcement_id is not None)
        for announcement_id, count in counts.items():
            await session.execute(
                update(Announcement)
                .where(Announcement.id == announcement_id)
                .values(sent=Announcement.sent + count)
            )

    async def _failed(self, session: AsyncSession, item: OutboxItem, reason: str) -> None:
        if item.announcement_id is None:
            return
        # In doubt: the platform may or may not have shown it; it is not resent.
        column = Announcement.uncertain if reason == IN_DOUBT else Announcement.failed
        await session.execute(
            update(Announcement)
            .where(Announcement.id == item.announcement_id)
            .values({column.key: column + 1})
        )


async def _preferred(
    session: AsyncSession, family_ids: list[int], channels: list[str]
) -> dict[int, tuple[int, str, str, str]]:
    """Each family's one chat to write to (identity id, channel, chat id, the
    family's language): among `channels` (the messengers connected now), the one
    where it was seen last, not blocked."""
    rows = (
        await session.execute(
            select(
                Identity.family_id,
                Identity.id,
                Identity.channel,
                Identity.chat_id,
                Family.language,
            )
            .join(Family, Family.id == Identity.family_id)
            .where(
                Identity.family_id.in_(family_ids),
                Identity.channel.in_([c for c in channels if c in MESSENGERS]),
                Identity.blocked_at.is_(None),
            )
            .order_by(Identity.family_id, Identity.last_seen_at.desc(), Identity.id.desc())
        )
    ).all()
    chats: dict[int, tuple[int, str, str, str]] = {}
    for family_id, identity_id, channel, chat_id, language in rows:
        chats.setdefault(family_id, (identity_id, channel, chat_id, language))
    return chats
