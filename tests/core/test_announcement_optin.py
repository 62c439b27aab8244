"""The centre's news only with the family's own "yes": Settings → «Новости центра»
shows the state (off by default), asks for consent before storing a yes, toggles
and persists; /forget takes the choice with the family."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.core.services import Services
from bot.storage.models import Family
from tests.support.family import TestFamily


async def news_ok(services: Services) -> bool | None:
    async with services.db.session() as session:
        return await session.scalar(select(Family.announcements_ok))


async def test_news_are_off_until_the_family_turns_them_on(
    family: TestFamily, services: Services
) -> None:
    await family.walk("/start", "Настройки", "Новости центра")
    assert family.node == "menu:consent"  # a yes is stored: consent first
    await family.press("Даю согласие")
    assert family.node == "settings:news"
    assert "новые программы" in family.text and "выключить можно здесь" in family.text
    assert "Сейчас новости центра **выключены**" in family.text
    assert "🔔 Включить новости" in family.labels
    assert "🔕 Выключить новости" not in family.labels
    assert await news_ok(services) is False

    await family.press("Включить новости")
    assert "новости центра **включены**" in family.text
    assert family.labels[0] == "🔕 Выключить новости"
    assert await news_ok(services) is True

    # Persisted: shown as on when the family comes back later.
    await family.walk("/menu", "Настройки", "Новости центра")
    assert "Сейчас новости центра **включены**" in family.text

    await family.press("Выключить новости")
    assert "**выключены**. Больше мы их не пришлём" in family.text
    assert "🔔 Включить новости" in family.labels
    assert await news_ok(services) is False


async def test_declining_consent_leaves_news_off(family: TestFamily, services: Services) -> None:
    await family.walk("/start", "Настройки", "Новости центра", "Не сейчас")
    assert family.node == "settings:start"
    assert await news_ok(services) is False


async def test_forget_takes_the_choice_with_the_family(
    family: TestFamily, services: Services
) -> None:
    await family.walk("/start", "Настройки", "Новости центра", "Даю согласие", "Включить новости")
    assert await news_ok(services) is True
    await family.send("/forget")
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Family)) == 0
    # Back again: a fresh family, news off.
    await family.send("/start")
    assert await news_ok(services) is False


async def test_news_typed_in_words_and_in_english(family: TestFamily, services: Services) -> None:
    family.language = "en"
    await family.send("/start")
    await family.send("centre news")
    await family.press("I give my consent")
    assert family.node == "settings:news"
    assert "The centre's news is **off** now." in family.text
    await family.press("Turn news on")
    assert "the centre's news is **on**" in family.text
    assert await news_ok(services) is True


async def test_the_privacy_text_mentions_news_and_linking(family: TestFamily) -> None:
    await family.walk("/start", "Поговорить с человеком", "Подробнее о данных")
    assert "Новости центра" in family.text
    assert "Связать Telegram и VK" in family.text


async def test_news_switched_off_takes_back_what_was_already_queued(
    services: Services,
) -> None:
    """An announcement queued for a family that then turns news off is not sent."""
    from bot.core.frontdoor import FrontDoor
    from bot.core.types import Channel
    from bot.outbound import announcements
    from bot.storage.models import Announcement
    from tests.support.outbox import Recorder

    recorder = Recorder(services)
    family = TestFamily(FrontDoor(services), user="4242", channel=Channel.TELEGRAM)
    await family.walk("/start", "Настройки", "Новости центра", "Даю согласие", "Включить новости")
    assert await news_ok(services) is True
    async with services.db.session() as session:
        announcement = Announcement(text="День открытых дверей в субботу")
        session.add(announcement)
        await session.flush()
        assert await announcements.start(session, announcement, None)
        announcement_id = announcement.id
    await announcements.Feeder(services).top_up()
    assert await services.outbox.pending() > 0

    await family.press("Выключить новости")
    assert await news_ok(services) is False
    news = [t for t in await recorder.texts() if "открытых дверей" in t]
    assert news == []
    async with services.db.session() as session:
        row = await session.get(Announcement, announcement_id)
        assert row is not None and row.sent == 0 and row.failed == 1
