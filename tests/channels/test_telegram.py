"""End to end in Telegram: the real aiogram client polls a fake Bot API server
on 127.0.0.1; a fake family writes, presses buttons, sends stickers, blocks the bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.channels.telegram.adapter import TelegramChannel, make_bot
from bot.config import Settings
from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.storage.models import Case, Identity
from tests.fakes.telegram_api import FakeTelegramServer, FakeUser
from tests.support.outbox import outbox_worker


@dataclass
class Telegram:
    server: FakeTelegramServer
    channel: TelegramChannel
    services: Services

    def user(self, user_id: int = 1001, language: str = "ru") -> FakeUser:
        return self.server.user(user_id=user_id, first_name="Мария", language_code=language)


@contextlib.asynccontextmanager
async def running(services: Services, settings: Settings) -> AsyncIterator[Telegram]:
    async with FakeTelegramServer() as server, outbox_worker(services):
        settings.telegram_token = server.token
        settings.telegram_api_server = server.base_url
        channel = TelegramChannel(FrontDoor(services), make_bot(settings))
        server.bot_busy = lambda: channel.busy
        task = asyncio.create_task(channel.polling())
        try:
            yield Telegram(server, channel, services)
        finally:
            await channel.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def started(telegram: Telegram) -> FakeUser:
    """A family that has just opened the bot (welcome and menu read)."""
    user = telegram.user()
    await user.send_command("/start")
    await user.wait_for_messages(2)
    return user


def album(user: FakeUser, group: str, message_ids: tuple[int, ...], date: int) -> list[dict]:  # type: ignore[type-arg]
    """Raw updates of an album of photos, as Telegram sends them: one message each."""
    photo = [{"file_id": "p", "file_unique_id": "u", "width": 10, "height": 10}]
    return [
        {
            "message_id": message_id,
            "date": date,
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": {"id": user.id, "is_bot": False, "first_name": user.first_name},
            "photo": photo,
            "media_group_id": group,
        }
        for message_id in message_ids
    ]


@pytest.fixture
async def telegram(services: Services, settings: Settings) -> AsyncIterator[Telegram]:
    async with running(services, settings) as tg:
        yield tg


async def test_start_menu_and_buttons(telegram: Telegram) -> None:
    user = telegram.user()
    await user.send_command("/start")
    welcome, menu = await user.wait_for_messages(2)
    assert "Семейное окно" in welcome.text
    assert "112" in welcome.text
    labels = [label for row in menu.buttons for label, _ in row]
    assert "🤰 Беременность" in labels and "👤 Поговорить с человеком" in labels

    await user.press("🔎 Подобрать меры поддержки")
    (consent,) = await user.wait_for_messages(1)
    assert "согласие" in consent.text
    await user.press("✅ Даю согласие")
    thanks, start = await user.wait_for_messages(2)
    assert "Согласие можно отозвать" in thanks.text
    assert "мер поддержки" in start.text
    await user.press("▶️ Начать")
    (region,) = await user.wait_for_messages(1)
    assert "Где вы живёте" in region.text
    await telegram.server.wait_idle()
    telegram.server.assert_no_errors()
    # Every button press was answered (no endless spinner on the family's phone).
    assert all(q.answered for q in user.callback_queries)


async def test_free_text_question_and_bold_html(telegram: Telegram) -> None:
    user = telegram.user()
    await user.send_text("как получить материнский капитал")
    (answer,) = await user.wait_for_messages(1)
    assert "капитал" in answer.text.lower()
    assert answer.parse_mode == "HTML"
    assert "<b>" in answer.raw_text  # the title is bold
    await telegram.server.wait_idle()
    telegram.server.assert_no_errors()


async def test_crisis_message_interrupts_and_marks_case_urgent(telegram: Telegram) -> None:
    user = await started(telegram)
    await user.send_text("помогите муж бьет меня прямо сейчас")
    (crisis,) = await user.wait_for_messages(1)
    assert "112" in crisis.text and "8-800-7000-600" in crisis.text
    labels = [label for row in crisis.buttons for label, _ in row]
    assert "🚪 Быстрый выход" in labels
    async with telegram.services.db.session() as session:
        case = await session.scalar(select(Case))
    assert case is not None and case.priority == "urgent"
    assert "violence_now" in case.signals
    assert "бьет" not in case.summary  # the family's words are never stored


async def test_attachments_get_kind_answers(telegram: Telegram) -> None:
    user = telegram.user()
    await user.send_photo()
    (photo,) = await user.wait_for_messages(1)
    assert "Фотографии" in photo.text
    await user.send_sticker()
    (sticker,) = await user.wait_for_messages(1)
    assert "текст и кнопки" in sticker.text
    await user.send_voice()
    (voice,) = await user.wait_for_messages(1)
    assert "Голосовые" in voice.text and "112" in voice.text
    await user.send_document()
    (document,) = await user.wait_for_messages(1)
    assert "Файлы" in document.text
    # Each kind answer keeps the family's way forward: the current buttons.
    assert document.buttons
    await telegram.server.wait_idle()
    telegram.server.assert_no_errors()


async def test_edited_message_and_long_text(telegram: Telegram) -> None:
    user = telegram.user()
    sent = await user.send_text("как оформить пасобие по уходу за ребенком")
    await user.wait_for_messages(1)
    await user.edit(sent, "как оформить пособие по уходу за ребёнком до полутора лет")
    replies = await user.wait_for_messages(2)
    assert "исправили" in replies[0].text

    story = ("Здравствуйте, у нас сложная ситуация в семье. " * 110)[:5000]
    await user.send_text(story)
    (long_answer, *_) = await user.wait_for_messages(1)
    assert "консультант" in long_answer.text
    await telegram.server.wait_idle()
    telegram.server.assert_no_errors()


async def test_forged_callback_payloads(telegram: Telegram) -> None:
    user = await started(telegram)
    for data in (
        "pregnancy.start.99",
        "menu.nosuchnode.0",
        "nav.explode",
        "kb.no-such",
        "💥",
        "x" * 64,
    ):
        await user.press_data(data)
        (answer,) = await user.wait_for_messages(1)
        assert "кнопка" in answer.text or "справка" in answer.text.lower(), answer.text
    await telegram.server.wait_idle()
    telegram.server.assert_no_errors()


async def test_user_blocks_the_bot(telegram: Telegram) -> None:
    user = await started(telegram)
    await user.block()
    await telegram.server.wait_idle()
    async with telegram.services.db.session() as session:
        identity = await session.scalar(select(Identity))
    assert identity is not None and identity.blocked_at is not None
    # Writing again (after unblocking) is answered and clears the mark.
    await user.unblock()
    await user.send_text("/menu")
    await user.wait_for_messages(1)
    async with telegram.services.db.session() as session:
        identity = await session.scalar(select(Identity))
    assert identity is not None and identity.blocked_at is None


async def test_sending_to_a_blocked_user_is_survived(telegram: Telegram) -> None:
    user = await started(telegram)
    telegram.server.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user"
    )
    await user.send_text("/help")
    await telegram.server.wait_idle()
    async with telegram.services.db.session() as session:
        identity = await session.scalar(select(Identity))
    assert identity is not None and identity.blocked_at is not None


async def test_flood_limit_is_waited_out(telegram: Telegram) -> None:
    user = telegram.user()
    telegram.server.fail_next("sendMessage", error_code=429, retry_after=1)
    await user.send_text("/help")
    (help_text,) = await user.wait_for_messages(1, timeout=6)
    assert "/forget" in help_text.text


async def test_safe_exit_deletes_the_conversation(telegram: Telegram) -> None:
    user = await started(telegram)
    await user.press("🆘 Насилие дома")
    await user.wait_for_messages(1)
    await user.send_text("он опять угрожает")
    await user.wait_for_messages(1)
    await user.press_data("violence.exit_confirm.0")
    await telegram.server.wait_idle()
    assert user.messages == []  # every bot message of the last 48 hours is gone
    assert not [m for m in user.chat.all_messages if not m.from_bot and not m.deleted]
    telegram.server.assert_no_errors()


async def test_forget_command(telegram: Telegram) -> None:
    user = await started(telegram)
    await user.send_command("/forget")
    (done,) = await user.wait_for_messages(1)
    assert "удален" in done.text.lower()
    async with telegram.services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Identity)) == 0


async def test_restart_in_the_middle_of_a_journey(services: Services, settings: Settings) -> None:
    async with FakeTelegramServer() as server:
        settings.telegram_token = server.token
        settings.telegram_api_server = server.base_url
        user = server.user(user_id=3003)

        async def run_bot(services: Services) -> tuple[TelegramChannel, asyncio.Task[None]]:
            channel = TelegramChannel(FrontDoor(services), make_bot(settings))
            server.bot_busy = lambda: channel.busy
            outbox = asyncio.create_task(services.outbox.run())

            async def both() -> None:
                try:
                    await channel.polling()
                finally:  # as on a stop: the outbox lets go of its lease
                    outbox.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await outbox

            return channel, asyncio.create_task(both())

        channel, task = await run_bot(services)
        await user.send_command("/start")
        await user.wait_for_messages(2)
        await user.press("🔎 Подобрать меры поддержки")
        await user.wait_for_messages(1)
        await user.press("✅ Даю согласие")
        await user.wait_for_messages(2)
        await user.press("▶️ Начать")
        (region,) = await user.wait_for_messages(1)
        await channel.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

        # A new process: new services on the same database.
        restarted = Services.build(settings)
        channel, task = await run_bot(restarted)
        try:
            await user.press("Республика Дагестан", message=region)
            (question,) = await user.wait_for_messages(1)
            assert "ждёте ребёнка" in question.text
            await user.send_text("/menu")
            await user.wait_for_messages(1)
            server.assert_no_errors()
        finally:
            await channel.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await restarted.db.dispose()


async def test_polling_survives_an_unreachable_server_and_unreadable_updates(
    telegram: Telegram, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.telegram import polling

    monkeypatch.setattr(polling, "FIRST_BACKOFF", 0.05)
    server = telegram.server
    user = await started(telegram)
    # The Bot API server goes away for a while…
    server.fail_next("getUpdates", error_code=502, description="Bad Gateway", times=3)
    # …and then sends an update this version cannot read, among good ones.
    server.push_update(
        "message",
        {"message_id": 77, "date": 0, "chat": "not-a-chat", "text": "муж бьёт, секретный текст"},
    )
    await user.send_text("/help")
    (help_text,) = await user.wait_for_messages(1, timeout=10)
    assert "/forget" in help_text.text
    await server.wait_until(lambda: telegram.channel.status == "ok", timeout=10)
    assert "skipped an update" in caplog.text
    assert "секретный текст" not in caplog.text  # nothing of the message reaches the logs


async def test_wrong_token_is_reported_not_silent(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.telegram import polling

    monkeypatch.setattr(polling, "FIRST_BACKOFF", 0.05)
    async with FakeTelegramServer() as server:
        settings.telegram_token = "123456:WRONG"
        settings.telegram_api_server = server.base_url
        channel = TelegramChannel(FrontDoor(services), make_bot(settings))
        task = asyncio.create_task(channel.polling())
        try:
            for _ in range(100):
                if channel.status != "starting":
                    break
                await asyncio.sleep(0.05)
            assert channel.status == "down: TELEGRAM_TOKEN rejected"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await channel.stop()


async def test_albums_are_answered_once_and_service_messages_not_at_all(
    telegram: Telegram,
) -> None:
    user = await started(telegram)
    photos = album(user, "g1", (501, 502, 503), 1_700_000_000)
    for update in photos:
        telegram.server.push_update("message", update)
    service = {key: photos[0][key] for key in ("date", "chat", "from")}
    pinned = {**service, "message_id": 500, "text": "x"}
    telegram.server.push_update("message", {**service, "message_id": 504, "pinned_message": pinned})
    await telegram.server.wait_idle()
    replies = [m for m in user.messages if "Фотографии" in m.text]
    assert len(replies) == 1
    assert len(user.messages) == 3  # welcome, menu, one answer to the album


async def test_a_crisis_answer_is_never_overtaken_during_an_outage(
    telegram: Telegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.outbound import outbox

    monkeypatch.setattr(outbox, "RETRY_PAUSE", 0.01)
    user = await started(telegram)
    telegram.server.fail_next("sendMessage", error_code=500, description="Internal", times=5)
    await user.send_text("он меня душит помогите")
    (crisis,) = await user.wait_for_messages(1, timeout=10)
    assert "112" in crisis.text  # retried until it arrived, first


async def test_safe_exit_survives_passing_faults_and_deletes_albums(
    telegram: Telegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.telegram import adapter

    monkeypatch.setattr(adapter, "TRANSIENT_PAUSE", 0.01)
    user = await started(telegram)
    for update in album(user, "g7", (601, 602), int(telegram.server.clock.timestamp())):
        telegram.server.push_update("message", update)
    await telegram.server.wait_idle()
    await user.press("🆘 Насилие дома")
    await user.wait_for_messages(1)
    await user.press("🚪 Быстрый выход")
    await user.wait_for_messages(1)
    telegram.server.fail_next("deleteMessages", error_code=500, description="Internal", times=2)
    await user.press("🗑 Удалить переписку сейчас")
    await telegram.server.wait_idle()
    assert user.messages == []
    left = [m for m in user.chat.all_messages if not m.deleted]
    assert left == [], [m.message_id for m in left]


async def test_a_tap_and_a_quick_message_are_answered_in_order(telegram: Telegram) -> None:
    server = telegram.server
    answer = server._methods["answercallbackquery"][1]

    async def slow(fake, p):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.8)  # a slow network: the tap's spinner takes a while to stop
        return await answer(fake, p)

    server.add_method("answerCallbackQuery", slow)
    user = await started(telegram)
    await user.press("🆘 Насилие дома")
    await asyncio.sleep(0.05)
    await user.send_text("он опять пришёл пьяный, мне страшно")
    await user.wait_for_messages(1, timeout=10)
    await server.wait_idle(quiet=1.0, timeout=10)
    first, second = user.messages[-2:]
    assert "не ваша вина" in first.text  # the journey the tap opened…
    assert "112" in second.text  # …then the crisis answer to what was typed after it
