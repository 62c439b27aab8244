"""Behaviours found by trying the bot as a new family would (each failed before its fix)."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.services import Services
from bot.core.types import Attachment, Channel, Incoming
from bot.journeys.engine import _parse_int
from bot.storage.models import Case, Conversation
from tests.support.family import TestFamily


async def test_danger_in_a_description_keeps_the_story(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    await family.press("Поговорить с человеком")
    await family.press("Даю согласие")
    await family.press("Юрист")
    outcome = await family.send("Муж бьёт меня каждый вечер, хочу развестись и забрать детей")
    assert outcome.replies[0].urgent  # danger first…
    assert "обращение №" in family.text.lower()  # …and the request is not lost
    async with services.db.session() as session:
        case = await session.scalar(select(Case))
    assert case is not None and case.priority == "urgent"
    assert "хочу развестись" in case.summary
    assert case.summary.startswith("СРОЧНО: насилие сейчас")


async def test_a_later_request_never_wipes_the_danger_line(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    await family.send("я больше не хочу жить")
    await family.press("Поговорить с психологом")
    await family.press("Описать ситуацию")
    await family.press("Даю согласие")
    await family.send("Мне очень плохо последние недели")
    async with services.db.session() as session:
        case = await session.scalar(select(Case))
    assert case is not None
    assert case.summary.splitlines()[0] == "СРОЧНО: мысли о самоубийстве"
    assert "Мне очень плохо" in case.summary


def test_ages_and_counts_in_words_and_units() -> None:
    assert _parse_int("8 месяцев", years=True) == 0
    assert _parse_int("полтора года", years=True) == 1
    assert _parse_int("1,5 года", years=True) == 1
    assert _parse_int("двое детей, старшему 5") == 2
    assert _parse_int("пятнадцать") == 15
    assert _parse_int("не знаю") is None


async def test_finder_understands_a_baby_in_months(family: TestFamily, services: Services) -> None:
    await family.send("/start")
    await family.press("Подобрать меры поддержки")
    await family.press("Даю согласие")
    await family.press("Начать")
    await family.press("Республика Дагестан")
    await family.press("Нет")
    await family.send("1")
    await family.send("8 месяцев")
    async with services.db.session() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None and conversation.vars["youngest_age"] == 0


async def test_greetings_thanks_feelings_and_requests(family: TestFamily) -> None:
    await family.send("Здравствуйте!")
    assert family.replies[0].node == "menu:greeting" and family.node == "menu:start"
    await family.send("спасибо большое")
    assert family.node == "menu:thanks"
    await family.send("😭😭😭")
    assert family.node == "menu:no_words"
    await family.send("мне нужен психолог")
    assert family.node == "menu:consent"  # then straight on to the psychologist
    await family.send("да")  # a typed yes gives consent
    assert family.node == "person:describe"


async def test_spasite_is_never_thanks(family: TestFamily) -> None:
    await family.send("/start")
    await family.send("спасите")
    assert family.node != "menu:thanks"


async def test_main_menu_topics_can_be_typed_anywhere(family: TestFamily) -> None:
    await family.send("/start")
    await family.press("Ребёнок с ОВЗ")
    await family.send("организации")
    assert family.node == "directory:city"
    await family.send("удалить мои данные")
    assert family.node == "settings:forget"


async def test_declining_consent_forgets_where_they_were_heading(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    await family.press("Ребёнок с ОВЗ")
    await family.press("Социальный консультант")
    await family.press("Не сейчас")
    async with services.db.session() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None and conversation.vars == {}


async def test_captions_locations_and_crisis_return(family: TestFamily) -> None:
    await family.send("/start")
    await family.attach(Attachment.LOCATION)
    assert "112" in family.text and "не сохраняю" in family.text
    outcome = await family.frontdoor.handle(
        Incoming(
            Channel.CLI,
            family.user,
            family.user,
            text="справка из МФЦ",
            attachment=Attachment.PHOTO,
            message_id="900",
        )
    )
    assert "подпись" in outcome.replies[0].text
    await family.press("Подобрать меры поддержки")
    await family.send("хочу умереть")
    await family.send("что такое маткапитал")
    await family.press("Вернуться к разговору")
    assert family.node == "menu:consent"  # where they were before the crisis
