"""The second review's findings, each a test that failed before its fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.core.services import Services
from bot.jobs import apply_retention
from bot.storage.models import Case, EventCount, Family
from tests.support.family import TestFamily


@pytest.mark.parametrize(
    "text",
    [
        "консультант в МФЦ нагрубил",
        "оператор не отвечает на 112",
        "юрист сказал что алименты не положены",
        "мне не нужен психолог",
        "ребенку нужна операция",
        "муж психопат",
        "я психолог, хочу стать волонтером",
        "быстрый выход из декрета",
        "удалить данные из госуслуг",
    ],
)
async def test_intents_never_hijack_other_meanings(family: TestFamily, text: str) -> None:
    await family.send("/start")
    await family.send(text)
    assert family.node not in ("menu:consent", "person:describe", "violence:exit_confirm")
    assert family.node != "settings:forget"


async def test_consent_in_plain_words(family: TestFamily) -> None:
    await family.send("/start")
    await family.press("Подобрать меры поддержки")
    await family.send("да, согласна")
    assert family.node == "finder:start"
    await family.send("/forget")
    await family.send("/start")
    await family.press("Подобрать меры поддержки")
    await family.send("нет, не хочу")
    assert family.node == "menu:start"


async def test_a_not_understood_answer_keeps_urgent_help_one_tap_away(family: TestFamily) -> None:
    await family.send("/start")
    await family.send("рецепт плова с бараниной")
    assert "112" in family.text
    await family.press("Телефоны помощи")
    assert family.node == "menu:hotlines"


async def test_forged_go_payload_cannot_open_a_crisis_screen(family: TestFamily) -> None:
    await family.send("/start")
    await family.payload("go.crisis")
    assert not family.node.startswith("crisis")


async def test_reopening_the_page_does_not_leave_a_crisis_screen(family: TestFamily) -> None:
    await family.send("/start")
    await family.press("Беременность")
    await family.send("у меня сильное кровотечение, 20 недель")
    assert family.node == "crisis:pregnancy"
    await family.payload("nav.show")  # what the web page sends when it is reopened
    assert family.node == "crisis:pregnancy"


async def test_leaving_a_crisis_for_the_menu_forgets_the_return_point(
    family: TestFamily,
) -> None:
    await family.send("/start")
    await family.press("Насилие дома")
    await family.send("он меня душит")
    await family.send("/menu")
    await family.press("Настройки")
    await family.press("Какие данные хранятся")
    await family.press("Даю согласие")
    assert family.node == "menu:start"  # not back into the violence journey


async def test_events_are_counters_not_rows(family: TestFamily, services: Services) -> None:
    await family.send("/start")
    await family.send("хочу умереть")
    await family.press("Вернуться к разговору")
    await family.send("хочу умереть")
    async with services.db.session() as session:
        rows = (await session.scalars(select(EventCount).where(EventCount.kind == "crisis"))).all()
    assert [row.count for row in rows] == [2]  # one counter, no sequence to line up
    assert all(row.hour.minute == row.hour.second == 0 for row in rows)


async def test_a_waiting_case_keeps_its_family_from_the_sweep(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    await family.send("хочу умереть")  # an urgent case, no consent
    long_ago = datetime.now(UTC) - timedelta(days=90)
    async with services.db.session() as session:
        await session.execute(update(Family).values(last_seen_at=long_ago))
    assert await apply_retention(services) == 0
    async with services.db.session() as session:
        await session.execute(update(Case).values(status="closed"))
    assert await apply_retention(services) == 1
