"""Service-level alerts and follow-ups, run as the scheduler runs them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.config import Settings
from bot.consult import schedule, sweeps
from bot.core.services import Services
from bot.storage.models import Case, Conversation, Family, Identity, OutboxItem, utcnow
from tests.consult.conftest import ALWAYS_OPEN, GROUP, consultant


async def _case(services: Services, **values: object) -> Case:
    async with services.db.session() as session:
        family = Family(consent_at=utcnow())
        session.add(family)
        await session.flush()
        session.add(Identity(family_id=family.id, channel="web", external_id="v1", chat_id="v1"))
        session.add(
            Conversation(family_id=family.id, journey="menu", node="start", vars={}, stack=[])
        )
        item = Case(
            family_id=family.id,
            topic="psychological",
            specialty="psychologist",
            priority="normal",
            channel="web",
            language="ru",
            **values,
        )
        session.add(item)
    return item


async def _items(services: Services) -> list[OutboxItem]:
    async with services.db.session() as session:
        return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


async def test_a_case_waiting_too_long_alerts_the_group_and_those_on_duty(
    services: Services, settings: Settings
) -> None:
    settings.staff_group_id = GROUP
    settings.consultant_schedule = ALWAYS_OPEN
    await consultant(services, "anna", "Анна", "psychologist", 5001)
    await consultant(services, "oleg", "Олег", "lawyer", 5002)
    now = utcnow()
    item = await _case(services, queued_at=now - timedelta(minutes=10))
    assert await sweeps.alert_waiting(services, now) == 0  # not yet
    later = now + timedelta(minutes=settings.case_sla_minutes)
    assert await sweeps.alert_waiting(services, later) == 1
    sent = await _items(services)
    assert {i.chat_id for i in sent} == {str(GROUP), "5001"}  # the lawyer is not bothered
    assert all(f"№{item.id}" in i.payload["text"] for i in sent)
    assert await sweeps.alert_waiting(services, later + timedelta(minutes=5)) == 0  # once


async def test_the_service_level_clock_starts_when_work_starts(
    services: Services, settings: Settings
) -> None:
    settings.consultant_schedule = "пн-пт 09:00-18:00"
    hours = schedule.parse(settings.consultant_schedule)
    night = (utcnow() + timedelta(days=1)).astimezone(hours.zone).replace(hour=3, minute=0)
    opening = hours.next_open(night)  # 09:00 of the next working day
    assert opening is not None
    # Opened at night, just before work starts: not late at opening time, late after the SLA.
    item = await _case(services, queued_at=opening - timedelta(hours=8))
    assert await sweeps.alert_waiting(services, opening + timedelta(minutes=5)) == 0
    assert await sweeps.alert_waiting(services, opening + timedelta(minutes=31)) == 1
    assert item.id


async def test_follow_up_asks_once_and_waits_for_an_answer(
    services: Services, settings: Settings
) -> None:
    now = utcnow()
    item = await _case(
        services, status="closed", closed_at=now, follow_up_at=now - timedelta(minutes=1)
    )
    assert await sweeps.send_follow_ups(services, now) == 1
    assert await sweeps.send_follow_ups(services, now) == 0
    (question,) = await _items(services)
    assert question.chat_id == "v1" and "как у вас дела" in question.payload["text"]
    assert [b[1] for b in question.payload["buttons"][0]] == [
        f"cs.{item.id}.fu.ok",
        f"cs.{item.id}.fu.help",
    ]
    async with services.db.session() as session:
        conversation = await session.get(Conversation, item.family_id)
    assert conversation is not None and conversation.vars["_follow_up_case"] == item.id


async def test_no_follow_up_after_safe_exit(services: Services) -> None:
    now = utcnow()
    item = await _case(services, status="closed", closed_at=now, follow_up_at=now)
    async with services.db.session() as session:
        family = await session.get(Family, item.family_id)
        assert family is not None
        family.quiet_at = now
    assert await sweeps.send_follow_ups(services, now) == 0
    assert await _items(services) == []
