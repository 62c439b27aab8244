"""Time-based work. Each job is a sweep over our own tables, so a missed run
(the process was down) is simply caught up by the next one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import and_, delete, or_, select

from bot.consult import sweeps
from bot.core.cases import OPEN_STATUSES
from bot.core.services import Services
from bot.storage import throttle
from bot.storage.models import MESSAGE_IDS_KEPT, Case, ChatMessage, Family, Voucher
from bot.vouchers import service as voucher_service
from bot.vouchers.messages import tell

log = logging.getLogger(__name__)
EXPIRY_NEWS = timedelta(days=3)  # expired longer ago than this: not worth a message


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


async def voucher_sweep(services: Services, now: datetime | None = None) -> tuple[int, int]:
    """Expire vouchers past their date and remind of those expiring soon; tell the
    families. Returns (expired told, reminded) for tests and logs.

    Each voucher is claimed for its message in the same transaction that marks it
    (`expiry_told_at`, `reminded_at`), and the messages go out after the commit:
    a family is told once, never twice, even if two workers sweep at once. A
    voucher whose expiry was missed (the process was down) is told on the next
    run, unless it expired long ago — old news would only upset.
    """
    now = now or datetime.now(UTC)
    async with services.db.session() as session:
        await voucher_service.expire_due(session, now)
        expired = list(
            (
                await session.scalars(
                    select(Voucher)
                    .where(Voucher.status == "expired", Voucher.expiry_told_at.is_(None))
                    .where(Voucher.family_id.is_not(None))
                    .where(Voucher.expires_at > now - EXPIRY_NEWS)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        for voucher in expired:
            voucher.expiry_told_at = now
        reminders = await voucher_service.reminders_due(session, now)
        told = [v.id for v in expired]
        remind = [v.id for v in reminders]
    sent = [0, 0]
    for index, (ids, what) in enumerate(((told, "expired"), (remind, "reminder"))):
        for voucher_id in ids:
            try:
                if await tell(services, voucher_id, what):
                    sent[index] += 1
            except Exception:  # one failed message must not stop the others
                log.exception("voucher %s message failed (voucher id %d)", what, voucher_id)
    if told or remind:
        log.info(
            "vouchers: %d expired (%d told), %d reminders (%d sent)",
            len(told),
            sent[0],
            len(remind),
            sent[1],
        )
    return sent[0], sent[1]


async def sweep_vouchers(services: Services) -> None:
    await voucher_sweep(services)


async def consult_alerts(services: Services) -> None:
    await sweeps.alert_waiting(services)


async def consult_follow_ups(services: Services) -> None:
    await sweeps.send_follow_ups(services)


async def purge_outbox(services: Services) -> None:
    await sweeps.purge_outbox(services)


# Each sweep, how often, and how long after start-up it first runs.
SWEEPS = (
    (consult_alerts, timedelta(minutes=1), timedelta(seconds=20)),
    (consult_follow_ups, timedelta(minutes=5), timedelta(minutes=1)),
    (purge_outbox, timedelta(hours=6), timedelta(minutes=10)),
    (purge_message_ids, timedelta(hours=1), timedelta(minutes=1)),
    (apply_retention, timedelta(hours=6), timedelta(minutes=5)),
    (purge_staff_sessions, timedelta(hours=1), timedelta(minutes=2)),
    (sweep_vouchers, timedelta(minutes=15), timedelta(minutes=3)),
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
