"""Telegram webhook mode: the fake Bot API posts updates to our HTTP endpoint,
which checks the secret token."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn

from bot.app import WEBHOOK_PATH, Application, webhook_secret
from bot.config import Settings
from bot.core.services import Services
from tests.fakes.telegram_api import FakeTelegramServer

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_round_trip(services: Services, settings: Settings) -> None:
    port = free_port()
    async with FakeTelegramServer() as fake:
        settings.telegram_token = fake.token
        settings.telegram_api_server = fake.base_url
        settings.telegram_mode = "webhook"
        settings.telegram_webhook_url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        app = Application.build(settings, services)
        server = uvicorn.Server(
            uvicorn.Config(
                app.asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
            )
        )
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            await app.start()
            await asyncio.wait_for(app.wait_ready(), 30)
            telegram = app.telegram
            assert telegram is not None
            fake.bot_busy = lambda: telegram.busy
            assert fake.webhook_url == settings.telegram_webhook_url
            user = fake.user(user_id=2002)
            await user.send_command("/start")
            welcome, menu = await user.wait_for_messages(2)
            assert "Семейное окно" in welcome.text and menu.buttons
            await user.press("☎️ Телефоны помощи")
            (hotlines,) = await user.wait_for_messages(1)
            assert "112" in hotlines.text
            fake.assert_no_errors()

            # Anyone else posting to the endpoint is refused.
            async with httpx.AsyncClient() as http:
                url = settings.telegram_webhook_url
                forged = await http.post(
                    url, json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
                )
                assert forged.status_code == 403
                good = await http.post(
                    url,
                    content=b"not json",
                    headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret(settings)},
                )
                assert good.status_code == 400
        finally:
            server.should_exit = True
            await serving
            await app.stop()
