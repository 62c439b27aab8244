"""The core as a family meets it: journeys, consent, cases, crisis, bad input."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.core.types import Attachment, EffectKind
from bot.storage.models import Case, ChatMessage, Conversation, EventCount, Family, OrgRequest
from tests.support.family import TestFamily


async def count(services: Services, model: type) -> int:
    async with services.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_start_greets_and_shows_the_single_window(family: TestFamily) -> None:
    await family.send("/start")
    assert "Семейное окно" in family.replies[0].text
    assert "112" in family.replies[0].text
    assert "/forget" in family.replies[0].text  # the privacy notice comes first
    assert family.node == "menu:start"
    for label in ("Беременность", "Насилие дома", "Поговорить с человеком", "Для организаций"):
        family.button(label)


async def test_finder_gives_a_personal_list(family: TestFamily, services: Services) -> None:
    await family.send("/start")
    await family.press("Подобрать меры поддержки")
    assert family.node == "menu:consent"  # nothing personal before consent
    await family.press("Даю согласие")
    await family.press("Начать")
    await family.press("Республика Дагестан")
    await family.press("Да")  # pregnant
    await family.send("трое")  # children: a number in words
    assert family.node == "finder:youngest"
    await family.send("не помню")  # not a number
    assert "от 0 до 17" in family.text
    assert family.node == "finder:youngest"
    await family.send("1")
    await family.press("Нет")  # disability
    await family.press("Да, ниже")  # low income
    await family.press("Нет")  # single parent
    await family.press("Работаю")
    text = family.text
    assert family.node == "finder:result"
    assert "Единое пособие" in text
    assert "Куда обращаться" in text and "Документы" in text
    assert "«Сертификат жизни»" in text  # a Dagestan measure for a pregnant woman
    assert "450" in text  # a third child: the mortgage payment for large families
    # Any measure's card: type its name.
    await family.send("единое пособие")
    assert "Источник" in family.text and family.node == "kb:unified-benefit"


async def test_finder_without_children_skips_child_questions(family: TestFamily) -> None:
    await family.open_finder()
    await family.press("Другой регион России")
    await family.press("Нет")  # not pregnant
    await family.press("0")
    assert family.node == "finder:income"
    await family.press("Нет")
    assert family.node == "finder:result"
    assert "Сертификат жизни" not in family.text  # regional measures only for Dagestan


async def test_declining_consent_stores_nothing(family: TestFamily, services: Services) -> None:
    await family.send("/start")
    await family.press("Подобрать меры поддержки")
    await family.press("Не сейчас")
    assert family.node == "menu:start"
    async with services.db.session() as session:
        conversation = await session.scalar(select(Conversation))
        consented = await session.scalar(select(Family.consent_at))
    assert conversation is not None and conversation.vars == {}
    assert consented is None


async def test_state_survives_a_restart(services: Services) -> None:
    first = TestFamily(FrontDoor(services))
    await first.send("/start")
    await first.press("Подобрать меры поддержки")
    await first.press("Даю согласие")
    await first.press("Начать")
    await first.press("Республика Дагестан")
    assert first.node == "finder:pregnant"
    # A new process: new services on the same database, nothing in memory.
    restarted = Services.build(services.settings)
    try:
        again = TestFamily(FrontDoor(restarted), message_id=first.message_id)
        # A button from a message of the old process still works.
        await again.payload(first.button("Да").payload or "")
        assert again.node == "finder:children"
        await again.send("2")
        assert again.node == "finder:youngest"
    finally:
        await restarted.db.dispose()


async def test_talk_to_a_person_opens_a_case_with_a_summary(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    await family.press("Беременность")
    await family.press("Поговорить с психологом")
    await family.press("Написать психологу")
    await family.press("Даю согласие")
    assert family.node == "person:describe"
    await family.send("Срок 8 недель, муж против ребёнка, не знаю что делать")
    text = family.text
    assert "обращение №" in text.lower()
    assert "пн–пт" in text  # honest hours
    assert "8-800-2000-122" in text  # hotlines meanwhile
    async with services.db.session() as session:
        case = await session.scalar(select(Case))
    assert case is not None
    assert (case.topic, case.specialty, case.priority) == ("pregnancy", "psychologist", "high")
    assert "Срок 8 недель" in case.summary
    assert case.channel == "cli" and case.language == "ru"
    # Asking the same specialist again does not queue the family twice…
    await family.send("/menu")
    await family.press("Поговорить с человеком")
    await family.press("Психолог")
    await family.press("Пропустить")
    assert "уже в очереди" in family.text
    assert await count(services, Case) == 1
    # …and a question for a lawyer waits in the lawyers' queue.
    await family.send("/menu")
    await family.press("Поговорить с человеком")
    await family.press("Юрист")
    await family.press("Пропустить")
    assert "обращение №" in family.text.lower()
    assert await count(services, Case) == 2


async def test_crisis_interrupts_a_journey_and_can_resume(
    family: TestFamily, services: Services
) -> None:
    await family.open_finder()
    await family.press("Республика Дагестан")
    await family.press("Нет")
    assert family.node == "finder:children"
    outcome = await family.send("я больше не хочу жить")
    assert outcome.urgent
    assert family.node == "crisis:suicide"
    assert "112" in family.text and "8-800-2000-122" in family.text
    async with services.db.session() as session:
        case = await session.scalar(select(Case))
        crisis_events = await session.scalar(
            select(func.sum(EventCount.count)).where(EventCount.kind == "crisis")
        )
    assert case is not None and case.priority == "urgent" and case.urgent_at is not None
    assert case.signals == ["suicide"]
    assert "жить" not in case.summary
    assert crisis_events == 1
    await family.press("Вернуться к разговору")
    assert family.node == "finder:children"


async def test_elevated_message_adds_a_gentle_note(family: TestFamily, services: Services) -> None:
    await family.send("/start")
    outcome = await family.send("сил больше нет, всё бессмысленно")
    assert not outcome.urgent
    assert outcome.replies[0].node == "crisis:elevated_distress"
    assert "точного ответа" not in family.text  # no cold "no answer" after the note
    async with services.db.session() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None and conversation.node == "start"  # not interrupted


async def test_free_text_questions(family: TestFamily) -> None:
    await family.send("/start")
    await family.send("как получить митеринский капитал")  # a typo
    assert "Материнский" in family.text
    assert family.node.startswith("kb:")
    family.button("Поговорить с человеком")
    await family.send("рецепт плова с бараниной")
    assert "точного ответа" in family.text
    family.button("Поговорить с человеком")
    family.button("Меню")


async def test_typing_a_button_label_presses_it(family: TestFamily) -> None:
    await family.send("/start")
    await family.send("насилие дома")
    assert family.node == "violence:start"
    await family.send("МЕНЮ")
    assert family.node == "menu:start"


async def test_back_button_returns_to_the_previous_step(family: TestFamily) -> None:
    await family.send("/start")
    await family.press("Насилие дома")
    await family.press("Сейчас я в безопасности")
    assert family.node == "violence:help"
    await family.press("Назад")
    assert family.node == "violence:start"
    await family.press("Назад")
    assert family.node == "menu:start"


async def test_attachments_are_answered_kindly(family: TestFamily) -> None:
    await family.send("/start")
    for kind, words in (
        (Attachment.PHOTO, "Фотографии"),
        (Attachment.STICKER, "текст и кнопки"),
        (Attachment.VOICE, "112"),
        (Attachment.DOCUMENT, "Файлы"),
        (Attachment.LOCATION, "112"),
    ):
        await family.attach(kind)
        assert words in family.text
        assert family.buttons, "the family keeps its way forward"


async def test_bad_input_never_breaks(family: TestFamily) -> None:
    await family.send("/start")
    for data in (
        "",
        "nav.",
        "kb.",
        "go.nowhere",
        "menu.start.-1",
        "menu.start.999",
        "finder.region.o.dagestan",
        "a" * 300,
        "\x00\x01",
        "menu..0",
    ):
        outcome = await family.payload(data)
        assert outcome.replies, data
        assert "сломалось" not in family.text, data
    for text in (
        "🙂🙂🙂",
        "/unknowncommand",
        " ",
        "\u200b",
        "а" * 5000,
        "<script>alert(1)</script>",
    ):
        outcome = await family.send(text)
        assert "сломалось" not in family.text, text


async def test_edited_messages(family: TestFamily) -> None:
    await family.open_finder()
    await family.press("Другой регион России")
    await family.press("Нет")
    await family.send("2", edited=True)  # an edit at a question: asked to answer anew
    assert "исправили" in family.text and family.node == "finder:children"
    await family.send("/menu")
    await family.send("пособие на ребенка", edited=True)
    assert "исправленный" in family.text


async def test_duplicate_delivery_is_ignored(family: TestFamily, frontdoor: FrontDoor) -> None:
    from bot.core.types import Channel, Incoming

    message = Incoming(Channel.CLI, "dup", "dup", text="/start", message_id="7")
    first = await frontdoor.handle(message)
    second = await frontdoor.handle(message)
    assert first.replies and not second.replies


async def test_forget_deletes_everything_and_says_what(
    family: TestFamily, services: Services
) -> None:
    await family.ask_for("Психолог")
    await family.send("Мне тяжело")
    assert await count(services, Case) == 1
    outcome = await family.send("/forget")
    text = family.text
    assert "обращений к консультантам — 1" in text
    assert "согласие на обработку данных — да" in text
    assert any(e.kind is EffectKind.FORGET for e in outcome.effects)
    for model in (Family, Case, Conversation, ChatMessage):
        assert await count(services, model) == 0, model.__name__
    # The next message starts from a clean slate.
    await family.send("/forget")
    assert "не было" in family.text


async def test_delete_my_data_from_settings_asks_first(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    await family.press("Настройки")
    await family.press("Удалить мои данные")
    assert family.node == "settings:forget"
    await family.press("Нет, оставить")
    assert await count(services, Family) == 1
    await family.press("Удалить мои данные")
    await family.press("Да, удалить всё")
    assert await count(services, Family) == 0


async def test_organisation_request_is_recorded(family: TestFamily, services: Services) -> None:
    await family.send("/start")
    await family.press("Для организаций")
    await family.press("Бизнес: стать партнёром")
    await family.press("Оставить заявку")
    await family.press("Даю согласие")
    await family.send("Детский магазин «Радуга»")
    await family.send("Махачкала")
    await family.send("не знаю")  # not a contact
    assert "телефон или e-mail" in family.text.lower()
    await family.send("+7 900 123-45-67")
    await family.send("Хотим участвовать в «Сертификате жизни»")
    assert "Заявка №" in family.text
    async with services.db.session() as session:
        request = await session.scalar(select(OrgRequest))
        conversation = await session.scalar(select(Conversation))
    assert request is not None
    assert (request.kind, request.org_name, request.city) == (
        "partner",
        "Детский магазин «Радуга»",
        "Махачкала",
    )
    assert request.contact == "+7 900 123-45-67"
    assert conversation is not None and "org_contact" not in conversation.vars


async def test_directory_by_city_and_kind(family: TestFamily) -> None:
    await family.send("/start")
    await family.press("Организации")
    await family.press("Махачкала")
    await family.press("Психологическая помощь")
    text = family.text
    assert "Тёплый дом на горе" in text
    await family.press("Другой город")
    assert family.node == "directory:city"


async def test_safe_exit_collects_message_ids(family: TestFamily) -> None:
    await family.send("/start")
    await family.press("Насилие дома")
    await family.send("он снова кричит")
    await family.press("Вернуться к разговору")
    await family.press("Быстрый выход")
    outcome = await family.press("Удалить переписку сейчас")
    (effect,) = [e for e in outcome.effects if e.kind is EffectKind.SAFE_EXIT]
    assert {"1", "2"} <= set(effect.message_ids)  # the family's own messages too
    assert not outcome.replies  # nothing new appears in the wiped chat
    # From now on the service never writes first (vouchers, reminders).
    async with family.frontdoor.services.db.session() as session:
        quiet = await session.scalar(select(Family.quiet_at))
    assert quiet is not None


async def test_language_follows_messenger_and_settings(frontdoor: FrontDoor) -> None:
    english = TestFamily(frontdoor, user="en-1", language="en-GB")
    await english.send("/start")
    assert "Family Window" in english.text
    await english.press("Settings")
    await english.press("Language")
    await english.press("Русский")
    assert "Готово, язык изменён" in english.text
    assert english.node == "settings:start"
