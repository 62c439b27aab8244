"""Time-based work. Each job is a sweep over our own tables, so a missed run
(the process was down) is simply caught up by the next one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import and_, delete, or_, select

from bot.core.cases import OPEN_STATUSES
from bot.core.services import Services
from bot.storage import throttle
from bot.storage.models import MESSAGE_IDS_KEPT, Case, ChatMessage, Family

log = logging.getLogger(__name__)


async def purge_message_ids(services: Services) -> None:
    """Message ids older than Telegram's deletion window are useless: drop them."""
    cutoff = datetime.now(UTC) - MESSAGE_IDS_KEPT
    async with services.db.session() as session:
        result = await session.execute(delete(ChatMessage).where(ChatMessage.sent_at < cutoff))
    removed = int(getattr(result, "rowcount", 0) or 0)
    if removed:
        log.info("purged %d old message ids", removed)


async def apply_retention(services: Services) -> int:
    """Delete families who went quiet: sooner without consent (we hold little then)."""
    settings = services.settings
    now = datetime.now(UTC)
    quiet_no_consent = now - timedelta(days=settings.retention_days_without_consent)
    quiet = now - timedelta(days=settings.retention_days)
    # A family whose case is still waiting is never swept: someone must answer it first.
    waiting = select(Case.family_id).where(Case.status.in_(OPEN_STATUSES))
    async with services.db.session() as session:
        result = await session.execute(
            delete(Family).where(
                or_(
                    and_(Family.consent_at.is_(None), Family.last_seen_at < quiet_no_consent),
                    Family.last_seen_at < quiet,
                ),
                Family.id.not_in(waiting),
            )
        )
    removed = int(getattr(result, "rowcount", 0) or 0)
    if removed:
        log.info("retention: deleted %d inactive families", removed)
    return removed


async def purge_staff_sessions(services: Services) -> None:
    """Expired admin sessions and old failed-login counters (they hold addresses)."""
    from admin.auth import purge_sessions

    async with services.db.session() as session:
        await purge_sessions(session)
        await throttle.purge_stale(session, timedelta(days=1))


# Each sweep, how often, and how long after start-up it first runs.
SWEEPS = (
    (purge_message_ids, timedelta(hours=1), timedelta(minutes=1)),
    (apply_retention, timedelta(hours=6), timedelta(minutes=5)),
    (purge_staff_sessions, timedelta(hours=1), timedelta(minutes=2)),
)


def schedule_jobs(services: Services) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    now = datetime.now(UTC)
    for sweep, every, first in SWEEPS:
        scheduler.add_job(
            sweep,
            "interval",
            seconds=every.total_seconds(),
            args=[services],
            id=sweep.__name__,
            next_run_time=now + first,
            coalesce=True,
            max_instances=1,
        )
    return scheduler
