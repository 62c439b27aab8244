"""A consultation from start to end, with a family and two consultants as users of
a fake Bot API server (the staff group is a forum: one topic per case)."""

from __future__ import annotations

from sqlalchemy import select

from bot.config import Settings
from bot.core.services import Services
from bot.storage.models import CaseMessage, Conversation
from tests.consult.conftest import (
    GROUP,
    Room,
    ask_for_psychologist,
    consultant,
    settle,
    staff_room,
    tap,
)
from tests.fakes.telegram_api import FakeTelegramServer, FakeUser


async def test_a_full_consultation_in_telegram(services: Services, settings: Settings) -> None:
    await consultant(services, "anna", "Анна", "psychologist", 5001)
    await consultant(services, "oleg", "Олег", "lawyer", 5002)
    async with staff_room(services, settings) as room:
        fake, group = room.fake, room.group
        family = fake.user(user_id=1001, first_name="Мария")
        anna = fake.user(user_id=5001, first_name="Анна")
        oleg = fake.user(user_id=5002, first_name="Олег")

        # The family asks for a psychologist and is told where it stands.
        await ask_for_psychologist(family, "Срок 8 недель, муж против, не знаю что делать")
        opened = "\n".join(m.text or "" for m in await settle(fake, family))
        assert "обращение №" in opened.lower()
        assert "первые в очереди" in opened
        case = await room.case()
        thread = await room.thread_of(case.id)

        # The topic opens with the handoff card: what the family already said.
        card = await room.wait_thread_text(thread, "Обращение №")
        assert "Срок 8 недель" in (card.text or "")
        assert "Согласие на обработку данных: есть" in (card.text or "")
        assert f"№{case.id}" in group.topics[thread].name

        # Anna takes it from the card; the family learns who is joining.
        await anna.press("✋ Взять", card, chat=group)
        (joined,) = await family.wait_for_messages(1)
        assert "Анна" in (joined.text or "") and "психолог" in (joined.text or "")
        await room.wait_thread_text(thread, "взял(а) Анна")

        # Family → topic: words and a photo, copied into the case's topic.
        said = await family.send_text("Мне очень тревожно, я одна дома")
        copy = await room.wait_thread_text(thread, "Мне очень тревожно")
        assert copy.from_bot
        await family.send_photo(caption="вот справка")
        await fake.wait_until(
            lambda: any(m.kind == "photo" for m in room.thread_messages(thread)), what="photo"
        )

        # Topic → family: Anna's answer arrives in the family's own chat, as hers.
        answer = await anna.send_text(
            "Здравствуйте! Я рядом, давайте разберёмся.", chat=group, thread_id=thread
        )
        (got,) = await family.wait_for_messages(1)
        assert got.text == "Здравствуйте! Я рядом, давайте разберёмся."

        # Edits follow on both sides.
        await anna.edit(answer, "Здравствуйте! Я рядом — давайте разберёмся вместе.")
        await fake.wait_until(
            lambda: got.text == "Здравствуйте! Я рядом — давайте разберёмся вместе.", what="edit"
        )
        await family.edit(said, "Мне очень тревожно, я одна дома с ребёнком")
        await fake.wait_until(lambda: "с ребёнком" in (copy.text or ""), what="family edit")

        # A note stays inside; the journeys stay quiet meanwhile.
        before = len(family.chat.messages)
        await anna.send_text(
            "/note Похоже на давление со стороны мужа", chat=group, thread_id=thread
        )
        await room.wait_thread_text(thread, "Заметка сохранена")
        await fake.wait_idle()
        assert len(family.chat.messages) == before

        # Transfer to a lawyer: the family is told, Oleg takes it with /take.
        await anna.send_text("/transfer юрист", chat=group, thread_id=thread)
        (moved,) = await family.wait_for_messages(1)
        assert "юрист" in (moved.text or "")
        await oleg.send_text("/take", chat=group, thread_id=thread)
        (joined,) = await family.wait_for_messages(1)
        assert "Олег" in (joined.text or "")
        await oleg.send_text("Разберём ваши права на пособия.", chat=group, thread_id=thread)
        (got,) = await family.wait_for_messages(1)
        assert "пособия" in (got.text or "")

        # Close with a follow-up; the family rates the help and leaves a word.
        await oleg.send_text("/close 3", chat=group, thread_id=thread)
        (ended,) = await family.wait_for_messages(1)
        assert "оцените" in (ended.text or "")
        await fake.wait_until(lambda: group.topics[thread].closed, what="topic closed")
        await tap(family, "5")
        (thanks,) = await family.wait_for_messages(1)
        assert "Спасибо за оценку" in (thanks.text or "")
        await family.send_text("Спасибо, очень помогли")
        await family.wait_for_messages(1)
        await room.wait_thread_text(thread, "Оценка семьи: 5 из 5")

        closed = await room.case(case.id)
        assert (closed.status, closed.rating, closed.rating_comment) == (
            "closed",
            5,
            "Спасибо, очень помогли",
        )
        assert closed.follow_up_at is not None
        async with services.db.session() as session:
            kept = (
                await session.scalars(
                    select(CaseMessage.author)
                    .where(CaseMessage.case_id == case.id)
                    .order_by(CaseMessage.id)
                )
            ).all()
            conversation = await session.get(Conversation, closed.family_id)
        assert {"family", "consultant", "note", "service"} <= set(kept)
        assert conversation is not None and conversation.live_case_id is None

        # Back to the bot: the menu answers again.
        await family.send_command("/menu")
        (menu,) = await family.wait_for_messages(1)
        assert menu.inline_keyboard
        await fake.wait_idle()
        fake.assert_no_errors()
        assert await services.outbox.pending() == 0
        assert group.id == GROUP


async def _taken(room: Room, family: FakeUser, anna: FakeUser) -> tuple[int, int]:
    """A case for a psychologist, taken by Anna; (case id, topic id)."""
    await ask_for_psychologist(family, "Не сплю ночами, всё время плачу")
    await settle(room.fake, family)
    case = await room.case()
    thread = await room.thread_of(case.id)
    await anna.send_text("/take", chat=room.group, thread_id=thread)
    (joined,) = await family.wait_for_messages(1)
    assert "Анна" in (joined.text or "")
    return case.id, thread


async def test_a_restart_mid_consultation_loses_nothing(
    services: Services, settings: Settings
) -> None:
    await consultant(services, "anna", "Анна", "psychologist", 5001)
    async with FakeTelegramServer() as fake:
        group = fake.create_supergroup(GROUP, "Консультанты центра", is_forum=True)
        family = fake.user(user_id=1001, first_name="Мария")
        anna = fake.user(user_id=5001, first_name="Анна")
        async with staff_room(services, settings, fake=fake) as room:
            case_id, thread = await _taken(room, family, anna)
        # The service is down: both sides keep writing.
        await family.send_text("Вы здесь? Мне опять плохо")
        await anna.send_text("Я здесь, напишите, что случилось", chat=group, thread_id=thread)
        restarted = Services.build(settings)
        try:
            async with staff_room(restarted, settings, fake=fake) as room:
                (got,) = await family.wait_for_messages(1, timeout=10)
                assert got.text == "Я здесь, напишите, что случилось"
                copy = await room.wait_thread_text(thread, "Мне опять плохо")
                assert copy.message_thread_id == thread  # the same topic as before
                assert (await room.case(case_id)).thread_id == thread
                assert len(group.topics) == 1
                await fake.wait_idle()
                fake.assert_no_errors()
        finally:
            await restarted.db.dispose()


async def test_flood_limits_delay_but_never_drop_or_reorder(
    services: Services, settings: Settings
) -> None:
    await consultant(services, "anna", "Анна", "psychologist", 5001)
    async with staff_room(services, settings) as room:
        fake = room.fake
        family = fake.user(user_id=1001, first_name="Мария")
        anna = fake.user(user_id=5001, first_name="Анна")
        _case_id, thread = await _taken(room, family, anna)
        # Telegram answers 429 to the first copies into the family's chat for a while.
        fake.fail_next("copyMessage", error_code=429, retry_after=1, times=3, chat_id=family.id)
        lines = [f"Сообщение {n}" for n in range(1, 6)]
        for line in lines:
            await anna.send_text(line, chat=room.group, thread_id=thread)
        got = await family.wait_for_messages(5, timeout=20)
        assert [m.text for m in got] == lines  # later, in order, once each
        await fake.wait_idle()
        assert [m.text for m in family.chat.messages if m.text in lines] == lines
        assert await services.outbox.pending() == 0
