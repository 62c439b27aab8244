"""The web chat: a page for the centre's site and a small JSON API over the core.

A visitor is known by a random token kept in the browser (localStorage); the
server stores only its SHA-256, so a database leak gives no session. Message
texts are never stored, on either side.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import logging
import secrets
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.config import Settings
from bot.core.frontdoor import FrontDoor
from bot.core.types import Channel, EffectKind, Incoming, Outcome, Reply
from bot.outbound.outbox import Parcel, Undeliverable

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_TEXT = 4000
MAX_PAYLOAD = 64
MAX_BODY = 32 * 1024  # bytes: a 4,000-character message is at most ~16 KB of JSON
POLL_SECONDS = 25.0


def visitor_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:40]


def reply_json(reply: Reply, sender: str = "bot") -> dict[str, Any]:
    return {
        "text": reply.text,
        "buttons": [
            [{"label": b.label, "payload": b.payload, "url": b.url} for b in row]
            for row in reply.buttons
        ],
        "urgent": reply.urgent,
        "node": reply.node,
        # Inline (the page allows data: images): a voucher's QR never leaves the reply.
        "image": image_url(reply.image) if reply.image is not None else None,
        "from": sender,
    }


def image_url(image: bytes) -> str:
    """A reply's PNG image as a data URL the chat page shows as <img>."""
    return "data:image/png;base64," + base64.b64encode(image).decode("ascii")


def effects_json(outcome: Outcome, settings: Settings) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for effect in outcome.effects:
        if effect.kind is EffectKind.SAFE_EXIT:
            out.append({"type": "safe_exit", "redirect": effect.value or settings.web_exit_url})
        elif effect.kind is EffectKind.LANGUAGE:
            out.append({"type": "language", "language": effect.value})
        elif effect.kind is EffectKind.FORGET:
            # The page drops its token and clears what it shows (the reply stays).
            out.append({"type": "forget"})
    return out


class RateLimiter:
    """A sliding window per key: at most `limit` events per `window` seconds."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self.hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> float:
        """0 when allowed, else seconds to wait."""
        now = time.monotonic()
        hits = self.hits[key]
        while hits and now - hits[0] > self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return self.window - (now - hits[0])
        hits.append(now)
        if len(self.hits) > 50_000:  # forget idle visitors
            for stale in [k for k, v in self.hits.items() if not v or now - v[-1] > self.window]:
                del self.hits[stale]
        return 0.0


class WebInbox:
    """Messages that reach a web visitor later (a consultant's reply): long-polled.

    In process memory: a web visitor is served by the worker it polls; the
    consultant relay publishes here for visitors of this worker.
    """

    def __init__(self, keep: int = 100) -> None:
        self.keep = keep
        self.messages: dict[str, deque[tuple[int, dict[str, Any]]]] = defaultdict(deque)
        self.counter = 0
        # Visitors polling right now: an event to wake them, and how many polls share it.
        self.waiting: dict[str, tuple[asyncio.Event, int]] = {}

    def publish(self, visitor: str, message: dict[str, Any]) -> None:
        self.counter += 1
        box = self.messages[visitor]
        box.append((self.counter, message))
        while len(box) > self.keep:
            box.popleft()
        if visitor in self.waiting:
            self.waiting[visitor][0].set()

    def since(self, visitor: str, cursor: int) -> list[tuple[int, dict[str, Any]]]:
        return [(n, m) for n, m in self.messages.get(visitor, ()) if n > cursor]

    async def wait(
        self, visitor: str, cursor: int, seconds: float
    ) -> list[tuple[int, dict[str, Any]]]:
        found = self.since(visitor, cursor)
        if found:
            return found
        event, polls = self.waiting.get(visitor, (asyncio.Event(), 0))
        self.waiting[visitor] = (event, polls + 1)
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return []
        finally:
            event, polls = self.waiting[visitor]
            if polls == 1:
                del self.waiting[visitor]
            else:
                self.waiting[visitor] = (event, polls - 1)
        return self.since(visitor, cursor)


class WebChat:
    def __init__(self, frontdoor: FrontDoor, settings: Settings) -> None:
        self.frontdoor = frontdoor
        self.settings = settings
        self.inbox = WebInbox()
        self.per_token = RateLimiter(settings.web_rate_per_minute)
        self.per_address = RateLimiter(settings.web_rate_per_minute * 4)
        self._page = (STATIC / "index.html").read_text(encoding="utf-8")

    async def courier(self, parcel: Parcel) -> list[str]:
        """The outbox's courier for web visitors (a consultant's words, a voucher,
        a rating request): published for the page's long poll."""
        if parcel.kind != "reply":
            raise Undeliverable(f"a web chat cannot take a {parcel.kind} item")
        sender = str(parcel.payload.get("sender", "bot"))
        self.inbox.publish(parcel.chat_id, reply_json(parcel.reply(), sender))
        return []

    # -- pages ------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        origins = self.settings.web_embed_origins.strip() or "'self'"
        return {
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'self'; style-src 'self'; "
                "img-src 'self' data: blob:; connect-src 'self'; "
                f"frame-ancestors {origins}; base-uri 'none'; form-action 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }

    async def page(self, request: Request) -> Response:
        exit_url = html.escape(self.settings.web_exit_url, quote=True)
        body = self._page.replace("{{EXIT_URL}}", exit_url)
        return HTMLResponse(body, headers=self.headers())

    async def embed_demo(self, request: Request) -> Response:
        headers = {
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "frame-src 'self'; base-uri 'none'"
            ),
            "Cache-Control": "no-store",
        }
        return FileResponse(STATIC / "embed-demo.html", headers=headers)

    async def favicon(self, request: Request) -> Response:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    # -- API --------------------------------------------------------------------
    async def _json(self, request: Request) -> dict[str, Any] | Response:
        """The request body as an object, read no further than MAX_BODY bytes."""
        too_big = JSONResponse({"error": "request too large"}, status_code=413)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            return too_big
        raw = bytearray()
        async for chunk in request.stream():
            raw.extend(chunk)
            if len(raw) > MAX_BODY:
                return too_big
        try:
            body = json.loads(raw)
        except ValueError:
            return JSONResponse({"error": "invalid JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "expected an object"}, status_code=400)
        return body

    def _limited(self, request: Request, token: str | None) -> Response | None:
        address = request.client.host if request.client else "?"
        wait = self.per_address.allow(address) or (self.per_token.allow(token) if token else 0)
        if wait:
            return JSONResponse(
                {"error": "too many messages"},
                status_code=429,
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        return None

    async def _turn(self, incoming: Incoming) -> Outcome:
        return await self.frontdoor.handle(incoming)

    def _response(self, outcome: Outcome, token: str | None = None) -> JSONResponse:
        body: dict[str, Any] = {
            "language": outcome.language,
            "messages": [reply_json(r) for r in outcome.replies],
            "effects": effects_json(outcome, self.settings),
        }
        if token is not None:
            body["token"] = token
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def start(self, request: Request) -> Response:
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        token = body.get("token")
        if not isinstance(token, str) or not (20 <= len(token) <= 100):
            token = None
        if limited := self._limited(request, token):
            return limited
        language = body.get("language") if isinstance(body.get("language"), str) else None
        language = language or _accept_language(request)
        if token is None:
            token = secrets.token_urlsafe(24)
            incoming = self._incoming(token, text="/start", language=language)
        else:
            incoming = self._incoming(token, payload="nav.show", language=language)
        return self._response(await self._turn(incoming), token)

    async def send(self, request: Request) -> Response:
        token = request.headers.get("x-chat-token", "")
        if not (20 <= len(token) <= 100):
            return JSONResponse({"error": "unknown token"}, status_code=401)
        if limited := self._limited(request, token):
            return limited
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        text, data = body.get("text"), body.get("payload")
        if isinstance(data, str) and data:
            if len(data) > MAX_PAYLOAD:
                return JSONResponse({"error": "payload too long"}, status_code=400)
            incoming = self._incoming(token, payload=data, language=_accept_language(request))
        elif isinstance(text, str) and text.strip():
            if len(text) > MAX_TEXT:
                return JSONResponse({"error": "text too long"}, status_code=413)
            incoming = self._incoming(token, text=text, language=_accept_language(request))
        else:
            return JSONResponse({"error": "text or payload required"}, status_code=400)
        return self._response(await self._turn(incoming))

    async def updates(self, request: Request) -> Response:
        token = request.headers.get("x-chat-token", "")
        if not (20 <= len(token) <= 100):
            return JSONResponse({"error": "unknown token"}, status_code=401)
        if limited := self._limited(request, None):
            return limited
        after = request.query_params.get("after")
        try:
            # No cursor: the page has just opened — only what arrives from now on.
            cursor = int(after) if after else self.inbox.counter
        except ValueError:
            cursor = self.inbox.counter
        found = await self.inbox.wait(visitor_id(token), cursor, POLL_SECONDS)
        return JSONResponse(
            {
                "cursor": str(found[-1][0] if found else cursor),
                "messages": [m for _, m in found],
            },
            headers={"Cache-Control": "no-store"},
        )

    def _incoming(
        self,
        token: str,
        *,
        text: str | None = None,
        payload: str | None = None,
        language: str | None = None,
    ) -> Incoming:
        visitor = visitor_id(token)
        return Incoming(
            channel=Channel.WEB,
            user_id=visitor,
            chat_id=visitor,
            text=text,
            payload=payload,
            language_hint=language,
        )

    def routes(self) -> list[Route | Mount]:
        return [
            Route("/", self.page),
            Route("/chat", self.page),
            Route("/embed-demo", self.embed_demo),
            Route("/healthz", self.health),
            Route("/favicon.ico", self.favicon),
            Route("/api/chat/start", self.start, methods=["POST"]),
            Route("/api/chat/send", self.send, methods=["POST"]),
            Route("/api/chat/updates", self.updates),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]


def _accept_language(request: Request) -> str | None:
    """The browser's first language ("en-GB,en;q=0.9" → "en-GB"), a hint for new families."""
    header = request.headers.get("accept-language", "")
    first = header.split(",", 1)[0].split(";", 1)[0].strip()
    return first or None


def build_app(chat: WebChat, extra: list[Route | Mount] | None = None) -> Starlette:
    return Starlette(routes=[*(extra or []), *chat.routes()])
