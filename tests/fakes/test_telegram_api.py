"""Tests of the fake Telegram Bot API server, driven by the real aiogram Bot."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiohttp import ClientSession, web

from .telegram_api import (
    FAKE_JPEG,
    SECRET_HEADER,
    ApiError,
    FakeTelegramServer,
    LocalAiohttpSession,
    parse_html,
    parse_markdown_v2,
)


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
            for row in rows
        ]
    )


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as fake:
        yield fake


@pytest_asyncio.fixture
async def bot(server: FakeTelegramServer) -> AsyncIterator[Bot]:
    # The real aiogram client; LocalAiohttpSession only skips the 250 ms sleep in close().
    session = LocalAiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
    real_bot = Bot(token=server.token, session=session)
    yield real_bot
    await real_bot.session.close()


# -- basics -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_me_wrong_token_and_unknown_method(server: FakeTelegramServer, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "family_window_bot" and me.id == 123456

    wrong = Bot(
        token="123456:WRONG",
        session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)),
    )
    with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
        await wrong.get_me()
    await wrong.session.close()

    url = f"{server.base_url}/bot{server.token}/sendTelepathy"
    async with ClientSession() as http, http.post(url) as response:
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
    assert [e.error_code for e in server.errors] == [401, 404]


@pytest.mark.asyncio
async def test_long_polling_returns_user_text_early_and_offset_confirms(
    server: FakeTelegramServer, bot: Bot
) -> None:
    maria = server.user(1001, "Мария")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await server.wait_for_call("getUpdates")  # the long poll is now waiting

    started = time.monotonic()
    sent = await maria.send_text("Здравствуйте, нужна консультация")
    updates = await poll
    assert time.monotonic() - started < 1.0  # returned early, not after 5 s

    [update] = updates
    assert update.message is not None
    assert update.message.text == "Здравствуйте, нужна консультация"
    assert update.message.message_id == sent.message_id
    assert update.message.chat.id == 1001 and update.message.from_user is not None
    assert update.message.from_user.language_code == "ru"

    # Unconfirmed updates are re-delivered; offset confirms them.
    assert [u.update_id for u in await bot.get_updates()] == [update.update_id]
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []

    # limit + allowed_updates (updates of unwanted types are not stored).
    await maria.send_command("/start")
    await maria.send_text("второе")
    first = await bot.get_updates(limit=1, allowed_updates=["message"])
    assert [u.message.text for u in first if u.message] == ["/start"]
    assert first[0].message is not None and first[0].message.entities is not None
    assert first[0].message.entities[0].type == "bot_command"
    await maria.block()  # my_chat_member is not allowed now -> dropped
    rest = await bot.get_updates(offset=first[0].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["второе"]
    assert [kind for kind, _ in server.dropped_updates] == ["my_chat_member"]


@pytest.mark.asyncio
async def test_second_get_updates_terminates_the_first(
    server: FakeTelegramServer, bot: Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await server.wait_for_call("getUpdates")
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    await server.user().send_text("привет")
    assert len(await second) == 1


# -- sending, keyboards, callbacks --------------------------------------------


@pytest.mark.asyncio
async def test_html_message_with_inline_keyboard_then_press(
    server: FakeTelegramServer, bot: Bot
) -> None:
    maria = server.user(1001, "Мария")
    await maria.send_command("/start")
    sent = await bot.send_message(
        maria.id,
        "<b>Здравствуйте!</b> Что вас интересует &amp; беспокоит?",
        parse_mode="HTML",
        reply_markup=keyboard([("Записаться", "book")], [("Сайт", "x")]),
    )
    assert sent.entities is not None and sent.entities[0].type == "bold"

    recorded = maria.last_message
    assert recorded is not None and recorded.message_id == sent.message_id
    assert recorded.text == "Здравствуйте! Что вас интересует & беспокоит?"
    assert recorded.raw_text == "<b>Здравствуйте!</b> Что вас интересует &amp; беспокоит?"
    assert recorded.parse_mode == "HTML"
    assert recorded.buttons == [[("Записаться", "book")], [("Сайт", "x")]]

    query = await maria.press("Записаться")
    updates = await bot.get_updates()
    callback = updates[-1].callback_query
    assert callback is not None
    assert callback.data == "book" and callback.from_user.id == maria.id
    assert callback.message is not None and callback.message.message_id == sent.message_id

    assert await bot.answer_callback_query(callback.id, text="Выберите дату")
    assert query.answered and query.answer_text == "Выберите дату"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(callback.id)  # answering twice is an error

    with pytest.raises(AssertionError, match=r"Available buttons: \[\[\('Записаться', 'book'\)\]"):
        await maria.press("Отмена")


@pytest.mark.asyncio
async def test_callback_query_expires_after_15_seconds_of_fake_time(
    server: FakeTelegramServer, bot: Bot
) -> None:
    maria = server.user()
    await bot.send_message(maria.id, "Вопрос?", reply_markup=keyboard([("Да", "yes")]))
    query = await maria.press_data("forged:data")
    assert query.data == "forged:data"
    server.clock.advance(16)
    with pytest.raises(TelegramBadRequest, match="query is too old and response timeout expired"):
        await bot.answer_callback_query(query.id)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "text",
    [
        "<b>не закрыт",
        "Дети 3 < 5 лет",
        "строка<br>перенос",
        "<b>перепутаны</i>",
        'ссылка <a href="https://x.ru">без конца',
        "&nbsp;пробел",
    ],
)
async def test_invalid_html_is_rejected(server: FakeTelegramServer, bot: Bot, text: str) -> None:
    user = server.user()
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(user.id, text, parse_mode="HTML")
    assert user.messages == []
    assert server.errors[-1].description.startswith("Bad Request: can't parse entities: ")


@pytest.mark.asyncio
async def test_text_validation(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user()
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "кому?")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(user.id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user.id, "я" * 4097)
    assert (await bot.send_message(user.id, "я" * 4096)).text == "я" * 4096
    with pytest.raises(TelegramBadRequest, match="Character '!' is reserved"):
        await bot.send_message(user.id, "Спасибо!", parse_mode="MarkdownV2")
    ok = await bot.send_message(user.id, "*Спасибо*\\!", parse_mode="MarkdownV2")
    assert ok.text == "Спасибо!"


@pytest.mark.asyncio
async def test_callback_data_is_limited_to_64_bytes(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user()
    cyrillic_66_bytes = "д" * 33  # 33 characters, 66 UTF-8 bytes
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user.id, "Выбор", reply_markup=keyboard([("Да", cyrillic_66_bytes)]))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user.id, "Выбор", reply_markup=keyboard([("Да", "x" * 65)]))
    await bot.send_message(user.id, "Выбор", reply_markup=keyboard([("Да", "x" * 64)]))
    assert len(user.messages) == 1


@pytest.mark.asyncio
async def test_reply_keyboard_and_contact_button(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user()
    markup = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Поделиться номером", request_contact=True)]],
        resize_keyboard=True,
    )
    await bot.send_message(user.id, "Нужен ваш телефон", reply_markup=markup)
    assert user.last_message is not None and user.last_message.reply_keyboard == [
        ["Поделиться номером"]
    ]
    shared = await user.press_reply_button("Поделиться номером")
    assert shared.kind == "contact"
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.contact is not None
    assert update.message.contact.user_id == user.id


# -- blocking, faults, rate limits ---------------------------------------------


@pytest.mark.asyncio
async def test_blocked_user_gives_forbidden(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user()
    await user.block()
    [update] = await bot.get_updates()
    assert update.my_chat_member is not None
    assert update.my_chat_member.old_chat_member.status == "member"
    assert update.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(user.id, "Напоминание о встрече")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(user.id, "typing")
    await user.unblock()
    await bot.send_message(user.id, "С возвращением")
    assert [m.text for m in user.messages] == ["С возвращением"]

    stranger = server.user(2002, "Пётр", started=False)
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation with a user"):
        await bot.send_message(stranger.id, "Привет")


@pytest.mark.asyncio
async def test_fail_next_429_gives_retry_after(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user()
    server.fail_next("sendMessage", error_code=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(user.id, "раз")
    assert caught.value.retry_after == 3
    assert "Too Many Requests: retry after 3" in caught.value.message
    await bot.send_message(user.id, "два")  # only the next call fails
    assert [m.text for m in user.messages] == ["два"]
    assert server.errors[-1].injected
    server.assert_no_errors()  # injected faults don't count as bot mistakes

    server.fail_next("*", error_code=502, times=2)
    with pytest.raises(Exception, match="Bad Gateway"):
        await bot.get_me()


@pytest.mark.asyncio
async def test_rate_limit_per_chat(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user()
    server.rate_limit(per_chat_per_second=1)
    await bot.send_message(user.id, "первое")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(user.id, "второе")
    assert caught.value.retry_after == 1
    server.clock.advance(1.0)  # no real sleep needed
    await bot.send_message(user.id, "третье")
    assert [m.text for m in user.messages] == ["первое", "третье"]


# -- deleting and editing --------------------------------------------------------


@pytest.mark.asyncio
async def test_delete_messages(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user()
    keep = await bot.send_message(user.id, "остаётся")
    gone = await bot.send_message(user.id, "удалим")
    assert await bot.delete_message(user.id, gone.message_id)
    assert [m.text for m in user.messages] == ["остаётся"]
    assert [(m.text, m.deleted) for m in user.history] == [("остаётся", False), ("удалим", True)]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user.id, gone.message_id)

    old_user_message = await user.send_text("старое сообщение")
    server.clock.advance(49 * 3600)
    with pytest.raises(TelegramBadRequest, match="message can't be deleted for everyone"):
        await bot.delete_message(user.id, old_user_message.message_id)

    fresh = await bot.send_message(user.id, "свежее")
    assert await bot.delete_messages(user.id, [keep.message_id, fresh.message_id, 9999])
    assert fresh.message_id not in [m.message_id for m in user.messages]
    assert keep.message_id in [m.message_id for m in user.messages]  # too old to delete


@pytest.mark.asyncio
async def test_edit_to_identical_content_is_not_modified(
    server: FakeTelegramServer, bot: Bot
) -> None:
    user = server.user()
    markup = keyboard([("Готово", "done")])
    sent = await bot.send_message(
        user.id, "<b>Статус</b>: ждём", parse_mode="HTML", reply_markup=markup
    )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            text="<b>Статус</b>: ждём",
            chat_id=user.id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=markup,
        )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=user.id, message_id=sent.message_id, reply_markup=markup
        )

    # Same text without the keyboard *is* a modification: the keyboard disappears.
    await bot.edit_message_text(
        text="<b>Статус</b>: ждём", chat_id=user.id, message_id=sent.message_id, parse_mode="HTML"
    )
    [recorded] = user.messages
    assert recorded.edited and recorded.buttons == []

    mine = await user.send_text("моё")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text(text="чужое", chat_id=user.id, message_id=mine.message_id)


# -- media, groups, forum topics -------------------------------------------------


@pytest.mark.asyncio
async def test_photos_documents_and_forum_topics(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user()
    staff = server.create_supergroup(-1001234567890, "Специалисты", is_forum=True)

    photo = await bot.send_photo(
        user.id,
        BufferedInputFile(FAKE_JPEG, "card.jpg"),
        caption="<i>Памятка</i>",
        parse_mode="HTML",
    )
    recorded = user.last_message
    assert recorded is not None and recorded.photo == FAKE_JPEG and recorded.text == "Памятка"
    again = await bot.send_photo(user.id, photo.photo[-1].file_id if photo.photo else "")
    assert user.messages[-1].photo == (again.photo[-1].file_id if again.photo else None)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(user.id, BufferedInputFile(b"not an image", "x.jpg"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(user.id, "no-such-file-id")

    scan = await user.send_document("справка.pdf")
    assert scan.file is not None
    downloaded = await bot.download(await bot.get_file(scan.file.file_id))
    assert downloaded is not None and downloaded.read() == scan.file.data
    topic = await bot.create_forum_topic(staff.id, "Семья Ивановых")
    copied = await bot.copy_message(
        staff.id,
        from_chat_id=user.id,
        message_id=scan.message_id,
        message_thread_id=topic.message_thread_id,
    )
    in_topic = staff.get_message(copied.message_id)
    assert (
        in_topic is not None
        and in_topic.kind == "document"
        and in_topic.message_thread_id == topic.message_thread_id
    )
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(staff.id, "куда?", message_thread_id=777)
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(user.id, "нельзя")


# -- waiting helpers --------------------------------------------------------------


@pytest.mark.asyncio
async def test_wait_for_messages_timeout_shows_transcript_and_errors(
    server: FakeTelegramServer, bot: Bot
) -> None:
    user = server.user()
    await user.send_text("Есть кто?")
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(user.id, "<b>сломано", parse_mode="HTML")
    with pytest.raises(AssertionError) as caught:
        await user.wait_for_messages(1, timeout=0.05)
    report = str(caught.value)
    assert "'Есть кто?'" in report and "can't parse entities" in report


# -- webhook mode ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_webhook_posts_updates_with_secret_and_retries(
    server: FakeTelegramServer, bot: Bot
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    statuses = [500]  # first attempt fails, the retry succeeds

    async def receive(request: web.Request) -> web.Response:
        body = await request.json()
        received.append((request.headers.get(SECRET_HEADER), body))
        if statuses:
            return web.Response(status=statuses.pop(0))
        message = body.get("message") or {}
        if message.get("text") == "ping":  # answer inside the webhook response, as aiogram can
            return web.json_response(
                {"method": "sendMessage", "chat_id": message["chat"]["id"], "text": "pong"}
            )
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    try:
        assert await bot.set_webhook(url, secret_token="family-S3cret")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()

        user = server.user()
        await user.send_text("привет")
        await server.wait_idle(quiet=0.05)
        assert len(received) == 2  # one failure + one successful retry of the same update
        assert {secret for secret, _ in received} == {"family-S3cret"}
        assert received[0][1] == received[1][1]
        assert received[1][1]["message"]["text"] == "привет"
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message

        await user.send_text("ping")
        [pong] = await user.wait_for_messages()
        assert pong.text == "pong"

        with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
            await bot.set_webhook("http://example.com/hook")
        assert await bot.delete_webhook()
        assert await bot.get_updates() == []
    finally:
        await runner.cleanup()


# -- a real aiogram Dispatcher against the fake ------------------------------------


@pytest.mark.asyncio
async def test_dispatcher_end_to_end(server: FakeTelegramServer, bot: Bot) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(
            "<b>Здравствуйте!</b> Чем помочь?",
            parse_mode="HTML",
            reply_markup=keyboard([("Записаться", "book")], [("Справка", "help")]),
        )

    @router.callback_query(F.data == "help")
    async def show_help(query: CallbackQuery) -> None:
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.edit_text("Справка: пишите нам в любое время")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_signals=False, polling_timeout=1, close_bot_session=False
        )
    )
    try:
        maria = server.user(1001, "Мария")
        await maria.send_command("/start")
        [greeting] = await maria.wait_for_messages()
        assert greeting.text == "Здравствуйте! Чем помочь?"
        assert greeting.buttons == [[("Записаться", "book")], [("Справка", "help")]]

        query = await maria.press("Справка")
        await query.wait_answered()
        await maria.wait_idle(quiet=0.1)
        assert greeting.edited and greeting.text == "Справка: пишите нам в любое время"
        assert greeting.buttons == []
        server.assert_no_errors()
    finally:
        await dispatcher.stop_polling()
        await polling

    # The stopped dispatcher's abandoned long poll must not swallow new updates.
    await maria.send_text("есть кто-нибудь?")
    with pytest.raises(AssertionError, match="never fetched by the bot"):
        await server.wait_idle(quiet=0.05, timeout=0.2)


async def test_wait_idle_waits_for_the_bot_to_finish_handling(
    server: FakeTelegramServer,
) -> None:
    """A bot busy with its database makes no API calls; idle must still wait for it
    (a safe-exit test once passed its assertion before the deletions started)."""
    loop = asyncio.get_running_loop()
    done_at = loop.time() + 0.6
    server.bot_busy = lambda: 1 if loop.time() < done_at else 0
    started = loop.time()
    await server.wait_idle(quiet=0.05)
    assert loop.time() - started >= 0.6
    server.bot_busy = lambda: 1
    with pytest.raises(AssertionError, match="still handling 1 update"):
        await server.wait_idle(quiet=0.05, timeout=0.2)


# -- parsers (no HTTP) -------------------------------------------------------------


def test_parse_html_entities_and_offsets_are_utf16() -> None:
    text, entities = parse_html(
        '😀 <b>жир</b> <a href="https://example.org/?a=1&amp;b=2">ссылка</a> &lt;3 &#127881;'
    )
    assert text == "😀 жир ссылка <3 🎉"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 3},  # the emoji is 2 UTF-16 units
        {"type": "text_link", "offset": 7, "length": 6, "url": "https://example.org/?a=1&b=2"},
    ]
    text, entities = parse_html('<pre><code class="language-python">print(1)</code></pre>')
    assert entities == [{"type": "pre", "offset": 0, "length": 8, "language": "python"}]


def test_parse_errors_look_like_telegram() -> None:
    with pytest.raises(ApiError) as caught:
        parse_html("<b>x</i>")
    assert caught.value.description == (
        "Bad Request: can't parse entities: "
        'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'
    )
    with pytest.raises(ApiError) as caught:
        parse_markdown_v2("Итого: 5.")
    assert caught.value.description == (
        "Bad Request: can't parse entities: "
        "Character '.' is reserved and must be escaped with the preceding '\\'"
    )
    assert parse_markdown_v2("_курсив_ и \\_не курсив\\_")[0] == "курсив и _не курсив_"
