"""The queue: which case comes first, who may take it, how long a family waits.

Order: danger first, then pregnancy in doubt (a decision with a deadline), then
the other important cases, then the rest; within each, who has waited longest
(`queued_at`), so cases that waited overnight are at the top in the morning.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.consult import schedule
from bot.storage.models import Case, StaffUser

if TYPE_CHECKING:
    from bot.config import Settings

RECENT_WAITS = 20  # taken cases the typical wait is computed from


def requeue(item: Case, now: datetime) -> None:
    """Back to the queue (its clock restarts; the service-level alert may fire again)."""
    item.status, item.consultant_id, item.taken_at, item.queued_at = "new", None, None, now
    item.alerted_at = None


def assign(item: Case, staff_id: int, now: datetime) -> None:
    item.status, item.consultant_id, item.taken_at = "open", staff_id, now


def rank() -> ColumnElement[int]:
    """0 = first in the queue."""
    return case(
        (Case.priority == "urgent", 0),
        (Case.topic == "pregnancy", 1),
        (Case.priority == "high", 2),
        else_=3,
    )


def rank_of(item: Case) -> int:
    if item.priority == "urgent":
        return 0
    if item.topic == "pregnancy":
        return 1
    return 2 if item.priority == "high" else 3


def queue_order() -> tuple[ColumnElement[int], ColumnElement[datetime], ColumnElement[int]]:
    return (rank(), Case.queued_at.asc(), Case.id.asc())


async def ahead_of(session: AsyncSession, item: Case) -> int:
    """Cases of the same specialty that will be taken before this one."""
    mine = rank_of(item)
    count = await session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.status == "new", Case.specialty == item.specialty, Case.id != item.id)
        .where(
            or_(
                rank() < mine,
                and_(rank() == mine, Case.queued_at < item.queued_at),
            )
        )
    )
    return int(count or 0)


async def typical_wait(session: AsyncSession, specialty: str, default: int) -> int:
    """Minutes: the median wait of the latest taken cases of this specialty."""
    rows = (
        await session.execute(
            select(Case.queued_at, Case.taken_at)
            .where(Case.specialty == specialty, Case.taken_at.is_not(None))
            .order_by(Case.taken_at.desc())
            .limit(RECENT_WAITS)
        )
    ).all()
    waits = [
        (taken - queued).total_seconds() / 60
        for queued, taken in rows
        if taken is not None and taken >= queued
    ]
    if len(waits) < 3:
        return default
    return max(1, round(statistics.median(waits)))


def centre_schedule(settings: Settings) -> schedule.Schedule | None:
    return schedule.cached(settings.consultant_schedule, settings.timezone)


def works_now(user: StaffUser, settings: Settings, now: datetime) -> bool:
    """On duty: inside their own hours (or the centre's when they have none)."""
    hours = user.working_hours.strip() or settings.consultant_schedule
    found = schedule.cached(hours, settings.timezone)
    return found is not None and found.is_open(now)


def may_handle(user: StaffUser, specialty: str) -> bool:
    if not user.active:
        return False
    if user.role == "admin":
        return True
    return user.role == "consultant" and specialty in (user.specialties or [])


@dataclass(frozen=True, slots=True)
class Load:
    open_cases: int
    limit: int

    @property
    def full(self) -> bool:
        return self.open_cases >= self.limit


async def load_of(session: AsyncSession, user: StaffUser) -> Load:
    count = await session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.consultant_id == user.id, Case.status == "open")
    )
    return Load(int(count or 0), max(1, user.max_chats))


async def on_duty(
    session: AsyncSession, settings: Settings, specialty: str, now: datetime
) -> list[StaffUser]:
    """Consultants of this specialty at work now (for service-level alerts)."""
    users = (
        await session.scalars(
            select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role == "consultant")
        )
    ).all()
    return [u for u in users if specialty in (u.specialties or []) and works_now(u, settings, now)]


async def coordinators(session: AsyncSession) -> list[StaffUser]:
    """The regional manager(s): admins, who are told when a case waits too long."""
    return list(
        (
            await session.scalars(
                select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role == "admin")
            )
        ).all()
    )


def sla_due(item: Case, settings: Settings, now: datetime) -> bool:
    """Has this case waited too long? Counted in working time: a case opened at
    night starts its clock when work starts."""
    if item.priority == "urgent":
        return True
    hours = centre_schedule(settings)
    start = item.queued_at
    if hours is not None:
        opening = hours.next_open(start)
        if opening is None or not hours.is_open(now):
            return False
        start = max(start, opening)
    return now - start >= timedelta(minutes=settings.case_sla_minutes)
