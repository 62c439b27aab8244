"""Many families at once, one family's messages in order, and the sweeps that
keep personal data short-lived."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.jobs import apply_retention, purge_message_ids
from bot.storage.models import ChatMessage, Conversation, Family
from tests.support.family import TestFamily

FINDER = [
    ("press", "Подобрать меры поддержки"),
    ("press", "Даю согласие"),
    ("press", "Начать"),
    ("press", "Республика Дагестан"),
    ("press", "Нет"),
    ("send", "2"),
    ("send", "4"),
    ("press", "Нет"),
    ("press", "Да, ниже"),
    ("press", "Нет"),
]


async def walk(family: TestFamily) -> str:
    await family.send("/start")
    for kind, value in FINDER:
        if kind == "press":
            await family.press(value)
        else:
            await family.send(value)
    return family.node


async def test_forty_families_at_once(frontdoor: FrontDoor, services: Services) -> None:
    families = [TestFamily(frontdoor, user=f"f{i}") for i in range(40)]
    nodes = await asyncio.gather(*(walk(f) for f in families))
    assert set(nodes) == {"finder:result"}
    async with services.db.session() as session:
        rows = (await session.scalars(select(Conversation))).all()
    assert len(rows) == 40
    assert all(row.vars["children_count"] == 2 for row in rows)


async def test_one_familys_messages_are_taken_in_order(
    frontdoor: FrontDoor, services: Services
) -> None:
    family = TestFamily(frontdoor, user="fast-typer")
    await walk(family)
    await family.send("/menu")
    await family.press("Подобрать меры поддержки")
    await family.press("Начать")
    await family.press("Республика Дагестан")
    await family.press("Нет")
    # Two answers typed quickly: the first answers "children", the second "youngest".
    first = family.send("3")
    second = family.send("5")
    await asyncio.gather(first, second)
    async with services.db.session() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None
    assert conversation.vars["children_count"] == 3
    assert conversation.vars["youngest_age"] == 5


async def test_retention_and_message_id_sweeps(family: TestFamily, services: Services) -> None:
    await family.send("/start")  # no consent
    other = TestFamily(family.frontdoor, user="consented")
    await other.send("/start")
    await other.press("Подобрать меры поддержки")
    await other.press("Даю согласие")
    long_ago = datetime.now(UTC) - timedelta(days=40)
    async with services.db.session() as session:
        await session.execute(update(Family).values(last_seen_at=long_ago))
        await session.execute(update(ChatMessage).values(sent_at=long_ago))
    await purge_message_ids(services)
    assert await apply_retention(services) == 1  # 30 days without consent; a year with it
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ChatMessage)) == 0
        left = (await session.scalars(select(Family))).all()
    assert len(left) == 1 and left[0].consent_at is not None


async def test_a_journey_step_is_a_handful_of_queries(
    frontdoor: FrontDoor, services: Services
) -> None:
    from sqlalchemy import event

    family = TestFamily(frontdoor, user="counted")
    await family.send("/start")
    await family.press("Подобрать меры поддержки")
    await family.press("Даю согласие")
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0].upper())

    event.listen(services.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await family.press("Начать")  # a button press
        press = list(statements)
        statements.clear()
        await family.press("Республика Дагестан")  # an answer stored
        answer = list(statements)
        statements.clear()
        await family.send("как получить материнский капитал")  # a question
        question = list(statements)
    finally:
        event.remove(services.db.engine.sync_engine, "before_cursor_execute", count)
    for step in (press, answer, question):
        assert len(step) <= 8, step


async def test_two_quick_messages_are_both_answered_in_order(
    frontdoor: FrontDoor, services: Services, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from bot.knowledge import base as knowledge_base

    # Each message now checks the content version first (an await before the
    # turn): the second message must still not overtake the first.
    monkeypatch.setattr(knowledge_base, "CHECK_EVERY", 0.0)
    from bot.core.types import Channel, Incoming, Outcome
    from bot.storage.models import Case

    def message(text: str, message_id: int) -> Incoming:
        return Incoming(Channel.TELEGRAM, "42", "42", text=text, message_id=str(message_id))

    await frontdoor.handle(message("/start", 1))
    delivered: list[Outcome] = []

    async def deliver(outcome: Outcome) -> None:
        delivered.append(outcome)

    await asyncio.gather(
        frontdoor.serve(message("он меня душит", 2), deliver),
        frontdoor.serve(message("что делать дальше", 3), deliver),
    )
    assert len(delivered) == 2
    assert delivered[0].urgent, "the crisis answer must come first, as it was sent first"
    assert delivered[1].replies
    async with services.db.session() as session:
        case = await session.scalar(select(Case))
    assert case is not None and case.priority == "urgent"
