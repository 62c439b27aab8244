"""Time-based consultation work: service-level alerts and follow-up messages."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from bot.consult import delivery, desk, routing, texts
from bot.consult.family import FOLLOW_UP_CASE
from bot.storage.models import Case, Conversation, Family, OutboxItem, utcnow

if TYPE_CHECKING:
    from bot.core.services import Services

log = logging.getLogger(__name__)
FAILED_KEPT = timedelta(days=30)  # undeliverable outbox items, kept to look into


async def alert_waiting(services: Services, now: datetime | None = None) -> int:
    """Cases nobody took within the service level: tell the coordinator and those on
    duty (once per case; an urgent case was alerted when it arrived)."""
    now = now or utcnow()
    async with services.db.session() as session:
        waiting = (
            await session.scalars(
                select(Case)
                .where(Case.status == "new", Case.alerted_at.is_(None))
                .order_by(*routing.queue_order())
                .with_for_update(skip_locked=True)
            )
        ).all()
        due = [c for c in waiting if routing.sla_due(c, services.settings, now)]
        for item in due:
            await desk.alert(services, session, item, urgent=item.priority == "urgent")
    if due:
        log.info("service level: %d waiting case(s) alerted", len(due))
    return len(due)


async def send_follow_ups(services: Services, now: datetime | None = None) -> int:
    """«How are you?» to families whose consultant asked for it; an answer reopens the case."""
    now = now or utcnow()
    sent = 0
    async with services.db.session() as session:
        due = (
            await session.scalars(
                select(Case)
                .where(Case.status == "closed", Case.follow_up_at <= now)
                .where(Case.follow_up_sent_at.is_(None))
                .with_for_update(skip_locked=True)
            )
        ).all()
        for item in due:
            item.follow_up_sent_at = now
            family = await session.get(Family, item.family_id)
            conversation = await session.get(Conversation, item.family_id)
            if family is None or family.quiet_at is not None or conversation is None:
                continue  # after "safe exit" the service never writes first
            identity = await delivery.family_identity(session, item)
            if identity is None:
                continue
            language = family.language
            buttons = [
                [
                    (delivery.say(services, language, texts.FOLLOW_UP_FINE), f"cs.{item.id}.fu.ok"),
                    (
                        delivery.say(services, language, texts.FOLLOW_UP_HELP),
                        f"cs.{item.id}.fu.help",
                    ),
                ]
            ]
            delivery.tell_family(
                services,
                session,
                item,
                identity,
                delivery.say(services, language, texts.FOLLOW_UP),
                buttons,
            )
            conversation.vars = {**(conversation.vars or {}), FOLLOW_UP_CASE: item.id}
            delivery.to_topic(services, session, item, "📨 Семье отправлен вопрос «как дела?».")
            sent += 1
    return sent


async def purge_outbox(services: Services) -> None:
    async with services.db.session() as session:
        await session.execute(
            delete(OutboxItem).where(OutboxItem.failed_at < utcnow() - FAILED_KEPT)
        )
