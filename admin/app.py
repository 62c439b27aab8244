"""The admin panel as an ASGI app: mounted at /admin by `family-window run`,
or served on its own by `family-window admin`."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import admin.pages
from admin.web import AdminState, Page, error_page, guard
from bot.core.services import Services

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    # Pages carry names of staff and what families asked: never kept by a shared browser.
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


BODY_MAX = 3 * 1024 * 1024  # the largest form: a 2 MB knowledge import, with room
LOGIN_BODY_MAX = 16 * 1024  # a login form is tiny, and anyone may post it
TOO_LARGE = "Слишком большой запрос: файл для загрузки — не больше 2 МБ."


class BodyLimit:
    """Refuse request bodies over the limit before they are parsed or spooled to disk.

    Counts the bytes as they stream in, so a missing or false Content-Length
    does not get past it (Starlette limits only non-file form fields itself).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        limit = LOGIN_BODY_MAX if scope["path"].endswith("/login") else BODY_MAX
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            response = error_page(Request(scope), 413, TOO_LARGE)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413)  # inside the handler: rendered by _http_error
            return message

        await self.app(scope, counted, send)


def all_pages() -> list[Page]:
    """Every page of every module in admin.pages (each exports ROUTES)."""
    pages: list[Page] = []
    for info in sorted(pkgutil.iter_modules(admin.pages.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"admin.pages.{info.name}")
        pages.extend(getattr(module, "ROUTES", []))
    return pages


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_page(request, 404, "Такой страницы нет.")
    if exc.status_code == 405:
        return error_page(request, 405, "Так эту страницу открыть нельзя.")
    if exc.status_code == 413:
        return error_page(request, 413, TOO_LARGE)
    return error_page(request, exc.status_code, "Запрос не удалось выполнить.")


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("admin page failed: %s", request.url.path, exc_info=exc)
    return error_page(request, 500, "Что-то пошло не так. Ошибка записана; попробуйте ещё раз.")


def build_admin(services: Services) -> Starlette:
    routes: list[Route | Mount] = [
        Route(
            p.path,
            p.endpoint if not p.roles else guard(p),
            methods=list(p.methods),
            name=f"{p.name}:{p.methods[0]}",
        )
        for p in all_pages()
    ]
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.admin = AdminState(services)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    return app


def standalone(services: Services) -> Starlette:
    """The panel alone (no web chat), still under /admin so links stay the same."""

    async def to_admin(request: Request) -> Response:
        return RedirectResponse("/admin/", status_code=307)

    return Starlette(routes=[Route("/", to_admin), Mount("/admin", build_admin(services))])
