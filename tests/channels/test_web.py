"""The web chat: its JSON API over HTTP, and the page in a real headless Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.channels.web.app import WebChat, build_app, visitor_id
from bot.config import Settings
from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from tests.support.browser import chromium, launch, serving

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def web(services: Services, settings: Settings) -> WebChat:
    return WebChat(FrontDoor(services), settings)


@pytest.fixture
async def client(web: WebChat) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(web))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def start(client: httpx.AsyncClient, language: str = "ru-RU") -> tuple[str, dict]:  # type: ignore[type-arg]
    response = await client.post("/api/chat/start", json={"token": None, "language": language})
    assert response.status_code == 200
    body = response.json()
    return body["token"], body


async def test_start_send_and_press(client: httpx.AsyncClient) -> None:
    token, body = await start(client)
    assert len(token) >= 20
    assert "Семейное окно" in body["messages"][0]["text"]
    menu = body["messages"][-1]
    labels = [b["label"] for row in menu["buttons"] for b in row]
    assert "🆘 Насилие дома" in labels
    payload = next(b["payload"] for row in menu["buttons"] for b in row if "Насилие" in b["label"])
    headers = {"X-Chat-Token": token}
    pressed = await client.post("/api/chat/send", json={"payload": payload}, headers=headers)
    assert pressed.status_code == 200
    assert pressed.json()["messages"][0]["node"] == "violence:start"
    typed = await client.post(
        "/api/chat/send", json={"text": "как получить маткапитал"}, headers=headers
    )
    assert "капитал" in typed.json()["messages"][0]["text"].lower()


async def test_returning_visitor_continues_where_they_were(client: httpx.AsyncClient) -> None:
    token, body = await start(client)
    headers = {"X-Chat-Token": token}
    payload = next(
        b["payload"]
        for row in body["messages"][-1]["buttons"]
        for b in row
        if "Юрист" in b["label"]
    )
    await client.post("/api/chat/send", json={"payload": payload}, headers=headers)
    again = await client.post("/api/chat/start", json={"token": token, "language": "ru"})
    assert again.json()["token"] == token
    assert again.json()["messages"][-1]["node"] == "legal:start"


async def test_crisis_message_is_urgent(client: httpx.AsyncClient) -> None:
    token, _ = await start(client)
    response = await client.post(
        "/api/chat/send", json={"text": "он меня душит помогите"}, headers={"X-Chat-Token": token}
    )
    messages = response.json()["messages"]
    assert messages[0]["urgent"] is True
    assert "112" in messages[0]["text"]


async def test_bad_requests_get_clear_answers(client: httpx.AsyncClient, web: WebChat) -> None:
    token, _ = await start(client)
    headers = {"X-Chat-Token": token}
    assert (await client.post("/api/chat/send", json={"text": "привет"})).status_code == 401
    assert (
        await client.post("/api/chat/send", content=b"{oops", headers=headers)
    ).status_code == 400
    assert (await client.post("/api/chat/send", json=[1, 2], headers=headers)).status_code == 400
    assert (await client.post("/api/chat/send", json={}, headers=headers)).status_code == 400
    too_long = await client.post("/api/chat/send", json={"text": "я" * 4001}, headers=headers)
    assert too_long.status_code == 413
    forged = await client.post("/api/chat/send", json={"payload": "menu.start.77"}, headers=headers)
    assert forged.status_code == 200
    assert "кнопка" in forged.json()["messages"][0]["text"]


async def test_rate_limit(client: httpx.AsyncClient, web: WebChat) -> None:
    token, _ = await start(client)
    headers = {"X-Chat-Token": token}
    statuses = []
    for _ in range(web.settings.web_rate_per_minute + 2):
        response = await client.post("/api/chat/send", json={"text": "меню"}, headers=headers)
        statuses.append(response.status_code)
    assert statuses[-1] == 429
    assert int(response.headers["Retry-After"]) >= 1


async def test_safe_exit_effect(client: httpx.AsyncClient) -> None:
    token, _ = await start(client)
    headers = {"X-Chat-Token": token}
    await client.post("/api/chat/send", json={"text": "насилие дома"}, headers=headers)
    await client.post("/api/chat/send", json={"text": "🚪 Быстрый выход"}, headers=headers)
    response = await client.post(
        "/api/chat/send", json={"text": "🗑 Удалить переписку сейчас"}, headers=headers
    )
    effects = response.json()["effects"]
    assert effects == [{"type": "safe_exit", "redirect": "https://yandex.ru/pogoda"}]


async def test_updates_long_poll_delivers_later_messages(
    client: httpx.AsyncClient, web: WebChat
) -> None:
    token, _ = await start(client)
    headers = {"X-Chat-Token": token}

    async def later() -> None:
        await asyncio.sleep(0.2)
        web.inbox.publish(
            visitor_id(token), {"text": "Здравствуйте, я психолог центра", "from": "consultant"}
        )

    task = asyncio.create_task(later())
    response = await client.get("/api/chat/updates", headers=headers)
    await task
    body = response.json()
    assert [m["text"] for m in body["messages"]] == ["Здравствуйте, я психолог центра"]
    # The cursor lets the page continue without getting the same message twice.
    web.inbox.publish(visitor_id(token), {"text": "Как вы?", "from": "consultant"})
    again = await client.get(f"/api/chat/updates?after={body['cursor']}", headers=headers)
    assert [m["text"] for m in again.json()["messages"]] == ["Как вы?"]


async def test_page_headers_and_exit_url(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert "frame-ancestors" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'content="https://yandex.ru/pogoda"' in page.text
    assert "{{" not in page.text
    assert (await client.get("/static/chat.js")).status_code == 200
    assert (await client.get("/embed-demo")).status_code == 200
    assert (await client.get("/healthz")).json() == {"ok": True}


# -- a real browser -------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_web_chat_in_chromium(web: WebChat) -> None:
    executable = chromium()
    if executable is None:
        pytest.skip("chromium is not installed")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with serving(build_app(web)) as base, async_playwright() as pw:
        web.settings.web_exit_url = base + "/healthz"  # a neutral page, offline
        browser = await launch(pw, executable)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="ru-RU")
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/")
            bot_messages = page.locator('[data-testid="message"][data-from="bot"]')
            await bot_messages.first.wait_for()
            assert "Семейное окно" in await bot_messages.first.inner_text()
            await page.wait_for_timeout(400)  # let the fade-in finish for the screenshot
            await page.screenshot(path=str(ARTIFACTS / "web-chat-welcome.png"))

            # Press a button, then type a question.
            await page.get_by_role("button", name="🔎 Подобрать меры поддержки").click()
            await page.get_by_text("Даю согласие").last.wait_for()
            await page.locator('[data-testid="composer-input"]').fill(
                "как получить материнский капитал"
            )
            await page.locator('[data-testid="composer-send"]').click()
            await page.get_by_text("Материнский", exact=False).last.wait_for()

            # A crisis message is shown as urgent, with 112 as a phone link.
            await page.locator('[data-testid="composer-input"]').fill("хочу умереть")
            await page.locator('[data-testid="composer-send"]').click()
            urgent = page.locator('[data-testid="message"][data-urgent="true"]')
            await urgent.first.wait_for()
            assert await urgent.first.locator('a[href="tel:112"]').count() >= 1
            await page.wait_for_timeout(400)
            await page.screenshot(path=str(ARTIFACTS / "web-chat-crisis.png"))

            # Quick exit leaves the page and keeps no token.
            await page.locator('[data-testid="quick-exit"]').click()
            await page.wait_for_url(base + "/healthz")
            assert await page.evaluate("localStorage.getItem('fw.token')") is None
            assert errors == []
        finally:
            await browser.close()


async def test_forget_tells_the_page_to_drop_everything(client: httpx.AsyncClient) -> None:
    token, _ = await start(client)
    response = await client.post(
        "/api/chat/send", json={"text": "/forget"}, headers={"X-Chat-Token": token}
    )
    assert {"type": "forget"} in response.json()["effects"]


async def test_huge_bodies_are_refused_before_reading(client: httpx.AsyncClient) -> None:
    token, _ = await start(client)
    big = b'{"text": "' + b"a" * 200_000 + b'"}'
    response = await client.post(
        "/api/chat/send",
        content=big,
        headers={"X-Chat-Token": token, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_language_follows_the_browser(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/chat/start", json={"token": None}, headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    assert response.json()["language"] == "en"
