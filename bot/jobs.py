"""Time-based work. Each job is a sweep over our own tables, so a missed run
(the process was down) is simply caught up by the next one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import and_, delete, or_, select

from bot.core.cases import OPEN_STATUSES
from bot.core.frontdoor import purge_old_message_ids
from bot.core.services import Services
from bot.storage.models import Case, Family

log = logging.getLogger(__name__)


async def purge_message_ids(services: Services) -> None:
    async with services.db.session() as session:
        removed = await purge_old_message_ids(session)
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


def schedule_jobs(services: Services) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        purge_message_ids,
        "interval",
        hours=1,
        args=[services],
        id="purge_message_ids",
        next_run_time=datetime.now(UTC) + timedelta(minutes=1),
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        apply_retention,
        "interval",
        hours=6,
        args=[services],
        id="retention",
        next_run_time=datetime.now(UTC) + timedelta(minutes=5),
        coalesce=True,
        max_instances=1,
    )
    return scheduler
