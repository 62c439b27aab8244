"""End to end in VK: the real vkbottle client talks to a fake VK API server on
127.0.0.1 (long poll, methods, photo upload); a fake family writes, presses
buttons, sends stickers, forbids messages. Replies travel through the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Route

from bot.channels.vk import polling as vk_polling
from bot.channels.vk.adapter import VkChannel
from bot.config import Settings
from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.core.types import Button, Reply
from bot.storage.models import Case, Identity
from tests.fakes.vk_api import FakeVkMessage, FakeVkServer, FakeVkUser
from tests.support.outbox import outbox_worker


@dataclass
class Vk:
    server: FakeVkServer
    channel: VkChannel
    services: Services

    def user(self, user_id: int = 1001, **client: bool) -> FakeVkUser:
        return self.server.user(user_id, **client)  # type: ignore[arg-type]

    async def idle(self, timeout: float = 15.0) -> None:
        await self.server.idle(timeout=timeout)


def configure(settings: Settings, server: FakeVkServer, mode: str = "longpoll") -> None:
    settings.vk_token = server.token
    settings.vk_group_id = server.group_id
    settings.vk_api_url = server.api_url
    settings.vk_mode = mode


@contextlib.asynccontextmanager
async def channel_on(services: Services, server: FakeVkServer) -> AsyncIterator[VkChannel]:
    """A VK channel polling `server` (a process: its own front door)."""
    channel = VkChannel(FrontDoor(services), services.settings)
    server.bot_busy = lambda: channel.busy
    task = asyncio.create_task(channel.polling())
    try:
        # Events before the first long poll server are not delivered (as in VK).
        for _ in range(200):
            if channel.status == "ok":
                break
            await asyncio.sleep(0.02)
        yield channel
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await channel.stop()


@contextlib.asynccontextmanager
async def running(services: Services, settings: Settings) -> AsyncIterator[Vk]:
    async with FakeVkServer() as server, outbox_worker(services):
        configure(settings, server)
        async with channel_on(services, server) as channel:
            yield Vk(server, channel, services)


@pytest.fixture
async def vk(services: Services, settings: Settings) -> AsyncIterator[Vk]:
    async with running(services, settings) as running_vk:
        yield running_vk


async def turn(vk: Vk, user: FakeVkUser) -> list[FakeVkMessage]:
    """Everything the bot sent in answer to the last action (waits until it settles)."""
    await vk.idle()
    new = user.history[user._cursor :]
    user.skip_read()
    return new


def labels(messages: list[FakeVkMessage]) -> list[str]:
    return [label for message in messages for label in message.labels]


def text(messages: list[FakeVkMessage]) -> str:
    return "\n".join(m.text for m in messages)


async def started(vk: Vk, user_id: int = 1001, **client: bool) -> FakeVkUser:
    """A family that has just opened the dialog (welcome and menu read)."""
    user = vk.user(user_id, **client)
    await user.send_text("Начать", payload='{"command":"start"}')
    await turn(vk, user)
    return user


async def test_start_consent_and_menu(vk: Vk) -> None:
    user = vk.user()
    await user.send_text("Начать", payload='{"command":"start"}')
    welcome, menu, *more = await turn(vk, user)
    assert "Семейное окно" in welcome.text and "112" in welcome.text
    every = labels([menu, *more])
    assert "🤰 Беременность" in every and "👤 Поговорить с человеком" in every
    # 15 buttons: VK shows 10 on one inline keyboard, the rest follow in a "…" message.
    assert menu.inline and menu.button_types() == {"callback"} and len(menu.labels) <= 10
    assert [m.text for m in more] == ["…"] and more[0].inline
    await user.press("🔎 Подобрать меры поддержки")
    (consent,) = await turn(vk, user)
    assert "согласие" in consent.text
    await user.press("✅ Даю согласие")
    thanks, _ = await turn(vk, user)
    assert "Согласие можно отозвать" in thanks.text
    await user.press("▶️ Начать")
    (region,) = await turn(vk, user)
    assert "Где вы живёте" in region.text
    # Every press was acknowledged (no endless spinner), no API error on the way.
    assert set(user.answered_events) == set(user.sent_events)
    assert not vk.server.errors, vk.server.errors
    assert not any("**" in m.text for m in user.messages)  # VK shows plain text
    async with vk.services.db.session() as session:
        identity = await session.scalar(select(Identity))
    assert identity is not None and identity.channel == "vk" and identity.external_id == "1001"


TOP_LEVEL = [
    "🤰 Беременность",
    "🆘 Насилие дома",
    "👨\u200d👩\u200d👧\u200d👦 Многодетная семья",
    "♿ Ребёнок с ОВЗ",
    "🧺 Трудная ситуация",
    "🕯 Потеря близкого",
    "⚖️ Юрист",
    "💬 Психолог",
    "🎁 Мои сертификаты и семейная карта",
    "📍 Организации",
    "☎️ Телефоны помощи",
    "👤 Поговорить с человеком",
    "🤝 Для организаций",
    "⚙️ Настройки",
]


async def test_every_top_level_journey_opens(vk: Vk, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    vk.services.outbox.pace.limits.clear()  # many turns: no need to wait out VK's pace here
    user = await started(vk)
    for label in TOP_LEVEL:
        await user.send_text("меню")
        menu = await turn(vk, user)
        assert label in labels(menu), (label, labels(menu))
        await user.press(label)
        answer = await turn(vk, user)
        assert answer and all(m.text.strip() for m in answer), label
        assert "сломалось" not in text(answer) and "кнопка" not in text(answer), label
        # Each screen's buttons go further: press the first one too.
        first = next((m.labels[0] for m in answer if m.labels), None)
        if first is not None and "согласие" not in text(answer).lower():
            await user.press(first)
            further = await turn(vk, user)
            assert further and "сломалось" not in text(further), (label, first)
    assert not vk.server.errors, vk.server.errors
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_pregnancy_in_doubt_to_a_psychologist_case(vk: Vk) -> None:
    user = await started(vk)
    await user.press("🤰 Беременность")
    await turn(vk, user)
    await user.press("💭 Сомневаюсь, сохранять ли")
    await turn(vk, user)
    await user.press("💬 Поговорить с психологом")
    await turn(vk, user)
    await user.press("💬 Написать психологу")
    consent = await turn(vk, user)
    if any("Даю согласие" in label for label in labels(consent)):
        await user.press("✅ Даю согласие")
        await turn(vk, user)
    await user.send_text("Не знаю, как быть, мне страшно говорить родителям")
    done = await turn(vk, user)
    assert "🔎 Подобрать меры поддержки" in labels(done)
    async with vk.services.db.session() as session:
        case = await session.scalar(select(Case))
    assert case is not None and case.specialty == "psychologist"
    assert not vk.server.errors


async def test_crisis_mid_journey_is_answered_first_and_marks_the_case(vk: Vk) -> None:
    user = await started(vk)
    await user.press("🆘 Насилие дома")
    await turn(vk, user)
    await user.send_text("помогите муж бьет меня прямо сейчас")
    crisis, *_ = await turn(vk, user)
    assert "112" in crisis.text and "8-800-7000-600" in crisis.text
    assert "🚪 Быстрый выход" in crisis.labels
    async with vk.services.db.session() as session:
        case = await session.scalar(select(Case))
    assert case is not None and case.priority == "urgent"
    assert "бьет" not in case.summary


async def test_attachments_long_text_and_emoji(vk: Vk) -> None:
    user = await started(vk)
    await user.send_photo()
    assert "Фотографии" in text(await turn(vk, user))
    await user.send_sticker()
    assert "текст и кнопки" in text(await turn(vk, user))
    await user.send_voice()
    voice = text(await turn(vk, user))
    assert "Голосовые" in voice and "112" in voice
    await user.send_document()
    assert "Файлы" in text(await turn(vk, user))
    await user.send_location()
    assert await turn(vk, user)
    story = ("Здравствуйте, у нас сложная ситуация в семье. " * 110)[:5000]
    await user.send_text(story)
    assert "консультант" in text(await turn(vk, user))
    await user.send_text("😢😢😢")
    assert await turn(vk, user)
    assert not vk.server.errors, vk.server.errors


async def test_forged_payloads_get_the_stale_button_answer(
    vk: Vk, caplog: pytest.LogCaptureFixture
) -> None:
    vk.services.outbox.pace.limits.clear()
    user = await started(vk)
    forged: list[object] = [
        {"p": "b.nonexistent.x"},
        {"p": "pregnancy.start.99"},
        {"command": "explode"},
        "not json at all",
        42,
        {"p": "x" * 300},
        None,
    ]
    for payload in forged:
        user.press_event(payload)
        answer = text(await turn(vk, user))
        assert "кнопка" in answer or "справка" in answer.lower(), (payload, answer)
    for raw in ("{not json", json.dumps({"p": "menu.nosuchnode.0"}), "y" * 300):
        await user.send_text("кнопка", payload=raw)
        answer = text(await turn(vk, user))
        assert "кнопка" in answer or "справка" in answer.lower(), (raw, answer)
    # The bot keeps working.
    await user.send_text("меню")
    assert "🤰 Беременность" in labels(await turn(vk, user))
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_client_without_callback_buttons_gets_text_buttons(vk: Vk) -> None:
    user = await started(vk, 2002, callback=False)
    messages = user.messages
    assert all(not m.inline for m in messages if m.keyboard)
    assert {t for m in messages for t in m.button_types()} == {"text"}
    await user.press("🤰 Беременность")  # a message_new with the payload
    answer = await turn(vk, user)
    assert "💭 Сомневаюсь, сохранять ли" in labels(answer)
    assert not vk.server.errors
    # An old client without inline keyboards: the same.
    old = await started(vk, 2003, inline=False, callback=False)
    assert not any(m.inline for m in old.messages)
    await old.press("🆘 Насилие дома")
    assert "не ваша вина" in text(await turn(vk, old))


async def test_unknown_client_falls_back_after_a_refused_keyboard(vk: Vk) -> None:
    # The bot restarted and has not seen this family's app: it tries callback
    # buttons, VK refuses them, the same reply goes with text buttons.
    user = vk.user(2004, callback=False)
    await vk.services.outbox.send(
        "vk", "2004", [Reply("Проверка", ((Button("Меню", "nav.menu"),),))]
    )
    (message,) = await turn(vk, user)
    assert message.button_types() == {"text"} and message.text == "Проверка"


async def test_safe_exit_deletes_the_bots_messages(vk: Vk) -> None:
    user = await started(vk)
    await user.press("🆘 Насилие дома")
    await turn(vk, user)
    await user.send_text("он опять угрожает")
    await turn(vk, user)
    await user.press("🚪 Быстрый выход")
    await turn(vk, user)
    await user.press("🗑 Удалить переписку сейчас")
    await vk.idle()
    # Every bot message is gone; VK keeps the family's own, so they are told
    # (one neutral line) to delete the chat by hand.
    (note,) = user.messages
    assert "Удалите этот чат вручную" in note.text
    assert vk.server.calls_to("messages.delete")[0].params["delete_for_all"] == "1"


async def test_edited_message_and_deny_allow(vk: Vk) -> None:
    user = await started(vk)
    sent = await user.send_text("как оформить пасобие по уходу за ребенком")
    await turn(vk, user)
    await user.edit(sent, "как оформить пособие по уходу за ребёнком до полутора лет")
    replies = await turn(vk, user)
    assert "исправили" in replies[0].text

    await user.deny()
    await vk.idle()
    async with vk.services.db.session() as session:
        identity = await session.scalar(select(Identity))
    assert identity is not None and identity.blocked_at is not None
    await user.allow()
    await vk.idle()
    async with vk.services.db.session() as session:
        identity = await session.scalar(select(Identity))
    assert identity is not None and identity.blocked_at is None


async def test_a_denied_chat_is_marked_blocked_when_sending(vk: Vk) -> None:
    user = await started(vk)
    user.allowed = False  # forbidden without the event reaching us
    await vk.services.outbox.send("vk", "1001", [Reply("Напоминание")])
    await vk.idle()
    async with vk.services.db.session() as session:
        identity = await session.scalar(select(Identity))
    assert identity is not None and identity.blocked_at is not None


async def test_flood_control_reply_arrives_later_once(
    vk: Vk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.vk import courier

    monkeypatch.setitem(courier.RETRY_SECONDS, 9, 0.5)
    user = await started(vk)
    vk.server.fail_next("messages.send", code=9)
    await user.send_text("/help")
    answer = await turn(vk, user)
    assert len(answer) == 1 and "/forget" in answer[0].text
    assert [c.error for c in vk.server.calls_to("messages.send")][-2:] == [9, None]


async def test_a_retried_multipart_reply_is_not_duplicated(
    vk: Vk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.vk import courier

    monkeypatch.setitem(courier.RETRY_SECONDS, 9, 0.3)
    user = vk.user(3001)
    long_text = "\n\n".join(f"Абзац {i}. " + "слово " * 150 for i in range(12))  # > 4096
    sends = len(vk.server.calls_to("messages.send"))
    original = vk.server._api_messages_send
    count = 0

    async def flaky(params: dict[str, str], fail: int | None = None) -> object:
        nonlocal count
        count += 1
        if count == 2:  # the second part hits the flood limit, after the first went out
            return await original(params, fail=9)
        return await original(params, fail=fail)

    monkeypatch.setattr(vk.server, "_api_messages_send", flaky)
    await vk.services.outbox.send("vk", "3001", [Reply(long_text)])
    parts = await turn(vk, user)
    assert len(parts) == 3, parts  # the first part's retry made no second copy
    assert [p.text[:8] for p in parts] == ["Абзац 0.", "Абзац 4.", "Абзац 8."]
    assert len(vk.server.calls_to("messages.send")) - sends == 5
    assert all(len(p.text) <= 4096 for p in parts)


async def test_voucher_qr_arrives_as_an_uploaded_photo(vk: Vk) -> None:
    import io

    import segno
    import zxingcpp
    from PIL import Image

    user = await started(vk)
    buffer = io.BytesIO()
    segno.make("FW-TEST-1234", error="m").save(buffer, kind="png", scale=8)
    reply = Reply("Ваш сертификат: покажите код партнёру.", image=buffer.getvalue())
    assert await vk.services.outbox.send("vk", "1001", [reply], user_id="1001")
    (message,) = await turn(vk, user)
    assert message.text.startswith("Ваш сертификат") and len(message.attachments) == 1
    data = vk.server.photo_bytes(message.attachments[0])
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    assert code.text == "FW-TEST-1234"
    # A text too long for one message: the photo first, then the text.
    await vk.services.outbox.send("vk", "1001", [Reply("Слово " * 1000, image=data)])
    photo, *words = await turn(vk, user)
    assert photo.attachments and words and all("Слово" in w.text for w in words)
    assert not any(w.attachments for w in words)


async def test_restart_mid_journey_continues(services: Services, settings: Settings) -> None:
    async with FakeVkServer() as server:
        configure(settings, server)
        user = server.user(3003)
        async with outbox_worker(services), channel_on(services, server):
            await user.send_text("Начать", payload='{"command":"start"}')
            await server.idle()
            await user.press("🔎 Подобрать меры поддержки")
            await server.idle()
            await user.press("✅ Даю согласие")
            await server.idle()
            await user.press("▶️ Начать")
            await server.idle()
            region = user.messages[-1]
            assert "Где вы живёте" in region.text
        # A new process: new services on the same database; the app is not seen yet.
        restarted = Services.build(settings)
        try:
            async with outbox_worker(restarted), channel_on(restarted, server):
                user.skip_read()
                await user.press("Республика Дагестан", message=region)
                (question,) = await user.wait_for_messages(1, timeout=10)
                assert "ждёте ребёнка" in question.text
        finally:
            await restarted.db.dispose()


async def test_long_poll_survives_failures_and_unreadable_events(
    vk: Vk, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vk_polling, "FIRST_BACKOFF", 0.05)
    user = await started(vk)
    server = vk.server
    server.fail_poll(502, times=2)  # a proxy in front of VK is down for a while
    server.fail_poll({"failed": 2})  # the key expired
    server.fail_poll({"failed": 3})
    server.fail_poll({"failed": 1, "ts": str(len(server.events) + 1)})
    server.push_raw({"type": "message_new", "object": {"message": {"peer_id": "секретный текст"}}})
    server.push_raw({"type": "message_new", "object": "муж бьёт, секретный текст"})
    server.push_raw(["not", "an", "event"])  # type: ignore[arg-type]
    # The poll in progress takes those; the next ones meet every failure in turn.
    assert await server.wait_until(
        lambda: not server._poll_failures and vk.channel.status == "ok", timeout=15
    )
    await user.send_text("/help")
    (answer,) = await user.wait_for_messages(1, timeout=15)
    assert "/forget" in answer.text
    assert len(server.calls_to("groups.getLongPollServer")) >= 3
    assert "skipped a VK event" in caplog.text
    assert "секретный текст" not in caplog.text


# -- Callback API ---------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def callback_mode(
    services: Services,
    settings: Settings,
    *,
    secret: str | None = "s3cret",
    confirmation: str | None = "a1b2c3d4",
) -> AsyncIterator[Vk]:
    async with FakeVkServer() as server, outbox_worker(services):
        configure(settings, server, mode="callback")
        settings.vk_callback_secret = secret
        settings.vk_confirmation = confirmation
        channel = VkChannel(FrontDoor(services), settings)
        channel.callback_ready = True
        app = Starlette(routes=[Route("/vk/callback", channel.callback_endpoint, methods=["POST"])])
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        answers: list[httpx.Response] = []

        async def post(body: dict[str, object]) -> None:
            answers.append(await client.post("/vk/callback", json=body))

        server.callback = post
        server.callback_secret = secret or ""
        server.bot_busy = lambda: channel.busy
        try:
            yield Vk(server, channel, services)
        finally:
            await channel.stop()
            await client.aclose()


async def test_callback_api(services: Services, settings: Settings) -> None:
    async with callback_mode(services, settings) as vk:
        app = Starlette(
            routes=[Route("/vk/callback", vk.channel.callback_endpoint, methods=["POST"])]
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            group = vk.server.group_id
            confirm = {"type": "confirmation", "group_id": group, "secret": "s3cret"}
            answer = await client.post("/vk/callback", json=confirm)
            assert answer.status_code == 200 and answer.text == "a1b2c3d4"
            wrong = await client.post("/vk/callback", json={**confirm, "secret": "guess"})
            assert wrong.status_code == 403
            other = await client.post("/vk/callback", json={**confirm, "group_id": group + 1})
            assert other.status_code == 403
            assert (await client.post("/vk/callback", content=b"{oops")).status_code == 400

            # A message through the callback is answered; VK's repeat of it is not.
            user = vk.user()
            await user.send_text("/help")
            (help_text,) = await user.wait_for_messages(1, timeout=10)
            assert "/forget" in help_text.text
            event = vk.server.events[-1]
            repeat = await client.post("/vk/callback", json={**event, "secret": "s3cret"})
            assert repeat.status_code == 200 and repeat.text == "ok"
            # A button press repeated (message_event has no message id of its own).
            await user.send_text("меню")
            await vk.idle()
            user.skip_read()
            await user.press("🤰 Беременность")
            await vk.idle()
            press = vk.server.events[-1]
            again = await client.post("/vk/callback", json={**press, "secret": "s3cret"})
            assert again.text == "ok"
            await vk.idle()
            answers = user.history[user._cursor :]
            assert "💭 Сомневаюсь, сохранять ли" in answers[0].labels
            assert len([m for m in answers if m.text.startswith("Беременность")]) == 1
            assert len([m for m in user.history if "/forget" in m.text]) == 1


async def test_the_application_wires_vk(services: Services, settings: Settings) -> None:
    from bot.app import Application

    async with FakeVkServer() as server:
        configure(settings, server, mode="callback")
        settings.vk_callback_secret = "s3cret"
        settings.vk_confirmation = "c0nf1rm"
        app = Application.build(settings, services)
        transport = httpx.ASGITransport(app=app.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = {"type": "confirmation", "group_id": server.group_id, "secret": "s3cret"}
            assert (await client.post("/vk/callback", json=body)).status_code == 503
            await app._start_vk()  # callback mode: nothing to run
            answer = await client.post("/vk/callback", json=body)
            assert answer.text == "c0nf1rm"
            health = (await client.get("/healthz")).json()
            assert health["vk"] == "ok" and health["ok"] is True
            assert "vk" in services.outbox.couriers
        assert app.vk is not None
        await app.vk.stop()


# -- review: hardening ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("secret", "confirmation"), [(None, "a1b2c3d4"), ("", "a1b2c3d4"), ("s3cret", None)]
)
async def test_callback_mode_without_a_secret_refuses_everything(
    services: Services, settings: Settings, secret: str | None, confirmation: str | None
) -> None:
    async with callback_mode(services, settings, secret=secret, confirmation=confirmation) as vk:
        # A family VK really wrote to (handed to the channel directly, as by long poll).
        user = vk.user()
        vk.server.callback = None
        await user.send_text("Начать", payload='{"command":"start"}')
        vk.channel.dispatch(vk.server.events[-1])
        await turn(vk, user)
        assert vk.channel.status.startswith("down: ")
        async with vk.services.db.session() as session:
            assert await session.scalar(select(Identity)) is not None
        # Anyone posting as VK, with no secret or a guessed one: refused.
        forged = {
            "type": "message_new",
            "group_id": vk.server.group_id,
            "event_id": "forged-1",
            "object": {
                "message": {"peer_id": 1001, "from_id": 1001, "text": "/forget", "id": 999},
                "client_info": user.client_info(),
            },
        }
        transport = httpx.ASGITransport(
            app=Starlette(
                routes=[Route("/vk/callback", vk.channel.callback_endpoint, methods=["POST"])]
            )
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for guess in ({}, {"secret": ""}, {"secret": None}, {"secret": "s3cret"}):
                answer = await client.post("/vk/callback", json={**forged, **guess})
                assert answer.status_code == 403, guess
            confirm = {"type": "confirmation", "group_id": vk.server.group_id, "secret": ""}
            assert (await client.post("/vk/callback", json=confirm)).status_code == 403
        await vk.idle()
        assert user.history[user._cursor :] == []
        async with vk.services.db.session() as session:
            assert await session.scalar(select(Identity)) is not None


async def test_the_application_reports_callback_mode_without_a_secret(
    services: Services, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.app import Application

    caplog.set_level(logging.ERROR)
    async with FakeVkServer() as server:
        configure(settings, server, mode="callback")
        settings.vk_callback_secret = None
        settings.vk_confirmation = "c0nf1rm"
        app = Application.build(settings, services)
        await app._start_vk()
        transport = httpx.ASGITransport(app=app.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = {"type": "confirmation", "group_id": server.group_id, "secret": ""}
            assert (await client.post("/vk/callback", json=body)).status_code == 403
            health = await client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["vk"] == "down: VK_CALLBACK_SECRET not set"
        (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert "VK_CALLBACK_SECRET" in error.getMessage()
        assert app.vk is not None
        await app.vk.stop()


async def test_callback_body_is_capped_and_odd_json_refused(
    services: Services, settings: Settings
) -> None:
    async with callback_mode(services, settings) as vk:
        app = Starlette(
            routes=[Route("/vk/callback", vk.channel.callback_endpoint, methods=["POST"])]
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            group = vk.server.group_id
            body = {"type": "confirmation", "group_id": group, "secret": "s3cret"}
            big = json.dumps({**body, "padding": "x" * 70_000}).encode()
            assert (await client.post("/vk/callback", content=big)).status_code == 413

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read in chunks
                for start in range(0, len(big), 4096):
                    yield big[start : start + 4096]

            assert (await client.post("/vk/callback", content=chunks())).status_code == 413
            deep = b"[" * 30_000 + b"]" * 30_000  # within the cap, too deep for the parser
            assert (await client.post("/vk/callback", content=deep)).status_code == 400
            assert (await client.post("/vk/callback", content=b"\xff\xfe")).status_code == 400
            answer = await client.post("/vk/callback", json={**body, "padding": "x" * 1000})
            assert answer.status_code == 200 and answer.text == "a1b2c3d4"


VOUCHER = "Ваш сертификат FW-TEST-1234: покажите код партнёру."


def qr_png() -> bytes:
    import io

    import segno

    buffer = io.BytesIO()
    segno.make("FW-TEST-1234", error="m").save(buffer, kind="png", scale=4)
    return buffer.getvalue()


async def test_a_photo_vk_will_not_take_leaves_the_voucher_text(
    vk: Vk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    vk.services.outbox.pace.limits.clear()
    user = await started(vk)
    image = qr_png()
    buttons = ((Button("Меню", "nav.menu"),),)
    failures: list[Callable[[], None]] = [
        lambda: vk.server.fail_upload({"error": "ERR_UPLOAD_BAD_IMAGE_SIZE: too small"}),
        lambda: vk.server.fail_next("photos.saveMessagesPhoto", code=100),
        lambda: vk.server.fail_next("photos.getMessagesUploadServer", code=15),
    ]
    for fail in failures:
        fail()
        assert await vk.services.outbox.send("vk", "1001", [Reply(VOUCHER, buttons, image=image)])
        (message,) = await turn(vk, user)
        assert message.text == VOUCHER and not message.attachments
        assert message.labels == ["Меню"]
    assert caplog.text.count("VK did not take a photo") == 3
    # A text too long for the photo's message: the text alone, no empty message.
    vk.server.fail_next("photos.saveMessagesPhoto", code=100)
    await vk.services.outbox.send("vk", "1001", [Reply("Слово " * 1000, image=image)])
    words = await turn(vk, user)
    assert words and all("Слово" in w.text and not w.attachments for w in words)
    # A passing fault (VK's internal error) is retried: the photo arrives.
    vk.server.fail_next("photos.saveMessagesPhoto", code=10)
    await vk.services.outbox.send("vk", "1001", [Reply(VOUCHER, image=image)])
    await vk.server.wait_until(lambda: bool(user.history[user._cursor :]), timeout=15)
    (message,) = await turn(vk, user)
    assert message.text == VOUCHER and len(message.attachments) == 1


async def test_a_photo_failing_again_and_again_is_left_out_in_the_end(
    vk: Vk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.vk import courier
    from bot.outbound import outbox

    monkeypatch.setattr(outbox, "RETRY_PAUSE", 0.05)
    monkeypatch.setattr(courier, "PHOTO_ATTEMPTS", 3, raising=False)
    user = await started(vk)
    vk.server.fail_upload(502, times=10)  # a proxy before the upload server is down
    await vk.services.outbox.send("vk", "1001", [Reply(VOUCHER, image=qr_png())])
    assert await vk.server.wait_until(lambda: bool(user.history[user._cursor :]), timeout=15)
    (message,) = await turn(vk, user)
    assert message.text == VOUCHER and not message.attachments


async def test_bot_features_off_the_words_still_arrive(vk: Vk) -> None:
    vk.server.bot_features = False  # VK refuses every keyboard with error 912
    for user_id, client in ((1001, {}), (1002, {"callback": False})):
        user = vk.user(user_id, **client)
        await user.send_text("Начать", payload='{"command":"start"}')
        welcome, *menu = await turn(vk, user)
        assert "Семейное окно" in welcome.text and menu
        assert not any(m.keyboard for m in [welcome, *menu])
        await user.send_text("/help")
        (answer,) = await turn(vk, user)
        assert "/forget" in answer.text and not answer.keyboard
    assert {c.error for c in vk.server.errors} == {912}
    # Once the community turns them on again, the next message brings buttons back.
    vk.server.bot_features = True
    await user.send_text("меню")
    assert "🤰 Беременность" in labels(await turn(vk, user))


async def test_an_edit_without_a_message_id_is_given_up(vk: Vk) -> None:
    from bot.outbound.outbox import Parcel, Undeliverable

    parcel = Parcel(1, "vk", "1001", "edit", {"text": "x"}, None, 0)
    with pytest.raises(Undeliverable):
        await vk.channel.courier(parcel)
