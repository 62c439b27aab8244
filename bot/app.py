"""`family-window run`: the web chat, Telegram (when a token is set) and the
scheduler in one asyncio process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import signal
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels.telegram.adapter import TelegramChannel, make_bot
from bot.channels.web.app import WebChat, build_app
from bot.config import Settings
from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.jobs import schedule_jobs
from bot.knowledge.loader import seed_if_empty
from bot.storage.migrate import upgrade

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram echoes in every webhook call; stable across workers."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret
    assert settings.telegram_token
    digest = hmac.new(settings.telegram_token.encode(), b"family-window-webhook", hashlib.sha256)
    return digest.hexdigest()


@dataclass
class Application:
    settings: Settings
    services: Services
    frontdoor: FrontDoor
    web: WebChat
    asgi: Starlette
    telegram: TelegramChannel | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    scheduler: AsyncIOScheduler | None = None

    @classmethod
    def build(cls, settings: Settings, services: Services | None = None) -> Application:
        services = services or Services.build(settings)
        frontdoor = FrontDoor(services)
        web = WebChat(frontdoor, settings)
        telegram = (
            TelegramChannel(frontdoor, make_bot(settings)) if settings.telegram_token else None
        )
        extra: list[Any] = []
        if telegram is not None and settings.telegram_mode == "webhook":
            extra.append(
                Route(WEBHOOK_PATH, _webhook_endpoint(telegram, settings), methods=["POST"])
            )
        asgi = build_app(web, extra)
        return cls(settings, services, frontdoor, web, asgi, telegram)

    async def start(self) -> None:
        """Everything but the HTTP server: content, Telegram, jobs."""
        await self.services.knowledge.refresh(force=True)
        if self.telegram is not None:
            if self.settings.telegram_mode == "polling":
                self.tasks.append(asyncio.create_task(self.telegram.polling(), name="telegram"))
            else:
                url = self.settings.telegram_webhook_url
                if not url:
                    raise SystemExit("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL")
                await self.telegram.set_webhook(url, webhook_secret(self.settings))
        self.scheduler = schedule_jobs(self.services)
        self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.telegram is not None:
            await self.telegram.stop()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.services.db.dispose()


def _webhook_endpoint(telegram: TelegramChannel, settings: Settings) -> Any:
    secret = webhook_secret(settings)

    async def endpoint(request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(given, secret):
            return JSONResponse({"ok": False}, status_code=403)
        try:
            update = await request.json()
        except ValueError:
            return JSONResponse({"ok": False}, status_code=400)
        # Answer Telegram at once; the turn runs in the background so a slow
        # turn never makes Telegram retry (and deliver the update twice).
        task = asyncio.create_task(telegram.feed(update))
        _background.add(task)
        task.add_done_callback(_background.discard)
        return JSONResponse({"ok": True})

    return endpoint


_background: set[asyncio.Task[Any]] = set()


async def serve(settings: Settings, *, migrate: bool = True) -> None:
    services = Services.build(settings)
    if migrate:
        await upgrade(services.db)
        async with services.db.session() as session:
            await seed_if_empty(session, settings.knowledge_dir)
    app = Application.build(settings, services)
    await app.start()
    config = uvicorn.Config(
        app.asgi,
        host=settings.web_host,
        port=settings.web_port,
        log_level="warning",
        access_log=False,  # URLs carry no personal data, but keep logs lean
        lifespan="off",
    )
    server = uvicorn.Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    log.info(
        "Семейное окно: web chat on http://%s:%d/%s",
        settings.web_host,
        settings.web_port,
        " + Telegram " + settings.telegram_mode if app.telegram else "",
    )
    try:
        await server.serve()
    finally:
        await app.stop()
