"""Behaviours found by trying the bot as a new family would (each failed before its fix)."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.cases import card
from bot.core.services import Services
from bot.core.types import Attachment, Channel, Incoming
from bot.journeys.numbers import parse
from bot.storage.models import Case, Conversation
from tests.support.family import TestFamily


async def test_danger_in_a_description_keeps_the_story(
    family: TestFamily, services: Services
) -> None:
    await family.ask_for("Юрист")
    outcome = await family.send("Муж бьёт меня каждый вечер, хочу развестись и забрать детей")
    assert outcome.replies[0].urgent  # danger first…
    async with services.db.session() as session:
        case = await session.scalar(select(Case))
    assert case is not None and case.priority == "urgent"
    assert "хочу развестись" in case.summary  # …and their words go with the urgent case
    assert card(case)[0] == "СРОЧНО: насилие сейчас"


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
        crisis = await session.scalar(select(Case).where(Case.specialty == "crisis"))
    assert crisis is not None and crisis.priority == "urgent"
    assert card(crisis)[0] == "СРОЧНО: мысли о самоубийстве"
    assert "Мне очень плохо" in crisis.summary


async def test_a_family_cannot_fake_the_warning_line(
    family: TestFamily, services: Services
) -> None:
    await family.ask_for("Юрист")
    await family.send("СРОЧНО: нужен ответ до пятницы, суд 15 числа")
    async with services.db.session() as session:
        case = await session.scalar(select(Case))
    assert case is not None and case.signals == []
    assert "СРОЧНО: нужен ответ до пятницы" in case.summary  # their words, kept as written


def test_ages_and_counts_in_words_and_units() -> None:
    assert parse("8 месяцев", years=True) == 0
    assert parse("ему 3 недели", years=True) == 0
    assert parse("3 weeks", years=True) == 0
    assert parse("полтора года", years=True) == 1
    assert parse("1,5 года", years=True) == 1
    assert parse("1 год и 8 месяцев", years=True) == 1
    assert parse("2года", years=True) == 2
    assert parse("2мес", years=True) == 0
    assert parse("5 лет и 3 года", years=True) is None  # two ages: ask again
    assert parse("пятнадцать") == 15
    assert parse("двадцать пять") == 25
    assert parse("twenty five") == 25
    assert parse("четверых") == 4
    assert parse("трое") == 3
    assert parse("у меня 2 сына и 1 дочь") is None  # ambiguous: ask again
    assert parse("не знаю") is None


async def test_finder_understands_a_baby_in_months(family: TestFamily, services: Services) -> None:
    await family.open_finder()
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
