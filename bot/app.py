"""`family-window run`: the web chat, Telegram (when a token is set) and the
scheduler in one asyncio process.

The web chat answers first: aiogram (seconds to import on a small machine:
it builds hundreds of pydantic models) and the search index are brought up in
the background, so a family never waits for them to say hello.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import logging
import signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bot.channels.vk import vk_enabled
from bot.channels.web.app import WebChat, build_app
from bot.config import Settings
from bot.consult import delivery
from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.jobs import schedule_jobs
from bot.knowledge.loader import seed_if_empty
from bot.outbound import announcements
from bot.storage.migrate import upgrade

if TYPE_CHECKING:
    from bot.channels.telegram.adapter import TelegramChannel
    from bot.channels.vk.adapter import VkChannel

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
VK_CALLBACK_PATH = "/vk/callback"


def freeze_startup_objects() -> None:
    """Move what start-up built (journeys, catalogs, the search index) out of the
    garbage collector's sight, so full collections stay short on the message path."""
    gc.collect()
    gc.freeze()


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
    telegram_ready: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    scheduler: AsyncIOScheduler | None = None
    vk: VkChannel | None = None

    @classmethod
    def build(cls, settings: Settings, services: Services | None = None) -> Application:
        services = services or Services.build(settings)
        frontdoor = FrontDoor(services)
        web = WebChat(frontdoor, settings)
        app = cls(settings, services, frontdoor, web, build_app(web))
        # Everything sent goes through the outbox: web visitors now, messengers once connected.
        services.outbox.register("web", web.courier)
        if delivery.delivered not in services.outbox.on_delivered:
            services.outbox.on_delivered.append(delivery.delivered)
            services.outbox.on_claimed.append(delivery.resolve_edits)
        from admin.app import build_admin

        extra: list[Any] = [Route("/healthz", app._health), Mount("/admin", build_admin(services))]
        if settings.telegram_token and settings.telegram_mode == "webhook":
            extra.append(Route(WEBHOOK_PATH, app._webhook, methods=["POST"]))
        if vk_enabled(settings) and settings.vk_mode == "callback":
            extra.append(Route(VK_CALLBACK_PATH, app._vk_callback, methods=["POST"]))
        app.asgi = build_app(web, extra)
        return app

    async def start(self) -> None:
        """Everything but the HTTP server; slow parts go to the background."""
        self.tasks.append(asyncio.create_task(self._load_knowledge(), name="knowledge"))
        self.tasks.append(asyncio.create_task(self.services.outbox.run(), name="outbox"))
        feeder = announcements.Feeder(self.services)  # news of the centre, a batch at a time
        self.tasks.append(asyncio.create_task(feeder.run(), name="announcements"))
        if self.settings.telegram_token:
            self.tasks.append(asyncio.create_task(self._start_telegram(), name="telegram"))
        if vk_enabled(self.settings):
            self.tasks.append(asyncio.create_task(self._start_vk(), name="vk"))
        self.scheduler = schedule_jobs(self.services)
        self.scheduler.start()

    async def wait_ready(self) -> None:
        """For tests and scripts: until Telegram (if enabled) is connected."""
        if self.settings.telegram_token:
            await self.telegram_ready.wait()

    async def _load_knowledge(self) -> None:
        try:
            await self.services.knowledge.refresh(force=True)
        except Exception:
            log.exception("knowledge base could not be loaded; will retry on demand")
        freeze_startup_objects()

    async def _start_telegram(self) -> None:
        # Imported here: a deployment without Telegram never pays for aiogram.
        from bot.channels.telegram.adapter import TelegramChannel, make_bot

        settings = self.settings
        self.telegram = TelegramChannel(self.frontdoor, make_bot(settings))
        if settings.telegram_mode == "polling":
            self.telegram_ready.set()
            await self.telegram.polling()
            return
        if not settings.telegram_webhook_url:
            log.error("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL; Telegram is off")
            return
        # Retry until Telegram accepts the webhook (the API may be unreachable at start).
        backoff = 1.0
        while not await self.telegram.set_webhook(
            settings.telegram_webhook_url, webhook_secret(settings)
        ):
            log.error("could not set the Telegram webhook; retrying in %.1f s", backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 60.0)
        self.telegram_ready.set()

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(given, webhook_secret(self.settings)):
            return JSONResponse({"ok": False}, status_code=403)
        if self.telegram is None or not self.telegram_ready.is_set():
            return JSONResponse({"ok": False}, status_code=503)  # Telegram retries later
        try:
            update = await request.json()
        except ValueError:
            return JSONResponse({"ok": False}, status_code=400)
        if not isinstance(update, dict):
            return JSONResponse({"ok": False}, status_code=400)
        # Answer Telegram at once; the turn runs in the background so a slow
        # turn never makes Telegram retry (and deliver the update twice).
        self.telegram.feed(update)
        return JSONResponse({"ok": True})

    # -- VK ---------------------------------------------------------------------------
    async def _start_vk(self) -> None:
        """The VK community: its courier joins the outbox; events by long poll, or by
        the Callback API route (then there is nothing to run)."""
        from bot.channels.vk.adapter import VkChannel  # vkbottle is loaded only when needed

        self.vk = VkChannel(self.frontdoor, self.settings)
        self.services.outbox.register("vk", self.vk.courier)
        if self.settings.vk_mode == "callback":
            problem = self.vk.callback_problem
            if problem is not None:
                log.error(
                    "VK_MODE=callback needs VK_CALLBACK_SECRET and VK_CONFIRMATION (%s): "
                    "every VK event is refused until both are set",
                    problem,
                )
                return
            self.vk.callback_ready = True
            return
        await self.vk.polling()

    async def _vk_callback(self, request: Request) -> Response:
        if self.vk is None:
            return Response("starting", status_code=503)  # VK retries later
        return await self.vk.callback_endpoint(request)

    def _vk_status(self) -> str:
        if not vk_enabled(self.settings):
            return "off"
        return self.vk.status if self.vk is not None else "starting"

    # -- (end of VK) --------------------------------------------------------------------
    async def _health(self, request: Request) -> Response:
        """Is the service up, and is Telegram connected? (for monitoring)"""
        telegram = self.telegram.status if self.telegram is not None else "starting"
        if not self.settings.telegram_token:
            telegram = "off"
        vk = self._vk_status()
        ok = telegram in ("ok", "off") and vk in ("ok", "off")
        body = {"ok": ok, "telegram": telegram} | ({"vk": vk} if vk != "off" else {})
        return JSONResponse(body, status_code=200 if ok else 503)

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.telegram is not None:
            await self.telegram.stop()
        if self.vk is not None:
            await self.vk.stop()
        for task in self.tasks:
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.services.db.dispose()


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
        access_log=False,
        lifespan="off",
        proxy_headers=True,  # the real visitor address, for the web chat's rate limits
        forwarded_allow_ips=settings.web_trusted_proxies,
    )
    server = uvicorn.Server(config)
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":  # Windows event loops have no signal handlers
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    telegram = f" and Telegram ({settings.telegram_mode})" if settings.telegram_token else ""
    log.info("web chat on http://%s:%d/%s", settings.web_host, settings.web_port, telegram)
    try:
        await server.serve()
    finally:
        await app.stop()
