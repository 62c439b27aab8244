"""The admin panel's request plumbing: pages with their roles, the guard every
page passes through (session, role, CSRF), rendering and redirects.

Each page module exports `ROUTES`, a list of `Page`s; the role set on a page is
the whole access rule for it, so the permission-matrix test can read them all.
"""

from __future__ import annotations

import csv
import hmac
import io
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from admin import auth
from bot.config import Settings
from bot.core.services import Services

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
SESSION_COOKIE = "fw_admin"
LOGIN_CSRF_COOKIE = "fw_admin_login"
FLASH_COOKIE = "fw_admin_flash"
SAFE_METHODS = frozenset({"GET", "HEAD"})
TEMPLATES = Path(__file__).resolve().parent / "templates"

ADMIN = "admin"
EDITOR = "editor"
CONSULTANT = "consultant"
PARTNER = "partner"
EVERYONE = frozenset({ADMIN, EDITOR, CONSULTANT, PARTNER})
# Pages that stay open to an account that must first change its password.
PASSWORD_CHANGE_PAGES = frozenset({"account", "logout"})


@dataclass(frozen=True, slots=True)
class Page:
    path: str
    endpoint: Handler
    roles: frozenset[str]
    methods: tuple[str, ...] = ("GET",)
    name: str = ""


def page(
    path: str, endpoint: Handler, roles: frozenset[str], *, post: bool = False, name: str = ""
) -> Page:
    return Page(path, endpoint, roles, ("POST",) if post else ("GET",), name or endpoint.__name__)


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    roles: frozenset[str]


NAV = (
    NavItem("Главная", "/", EVERYONE),
    NavItem("База знаний", "/knowledge", frozenset({ADMIN, EDITOR, CONSULTANT})),
    NavItem("Сценарии", "/journeys", frozenset({ADMIN, EDITOR, CONSULTANT})),
    NavItem("Чаты с семьями", "/inbox", frozenset({ADMIN, CONSULTANT})),
    NavItem("Обращения", "/cases", frozenset({ADMIN, CONSULTANT})),
    NavItem("Шаблоны ответов", "/canned", frozenset({ADMIN, EDITOR, CONSULTANT})),
    NavItem("Сертификаты", "/vouchers", frozenset({ADMIN, CONSULTANT})),
    NavItem("Семейные карты", "/cards", frozenset({ADMIN})),
    NavItem("Партнёры", "/partners", frozenset({ADMIN})),
    NavItem("Рассылки", "/announcements", frozenset({ADMIN, EDITOR})),
    NavItem("Проверить код", "/check", frozenset({PARTNER})),
    NavItem("Моя организация", "/partner", frozenset({PARTNER})),
    NavItem("Заявки организаций", "/requests", frozenset({ADMIN})),
    NavItem("Мониторинг", "/dashboard", frozenset({ADMIN, EDITOR})),
    NavItem("Отчёт по партнёрам", "/vouchers/report", frozenset({ADMIN})),
    NavItem("Сотрудники", "/users", frozenset({ADMIN})),
    NavItem("Журнал изменений", "/audit", frozenset({ADMIN})),
)

ROLE_NAMES = {
    ADMIN: "Руководитель (администратор)",
    EDITOR: "Редактор контента",
    CONSULTANT: "Консультант",
    PARTNER: "Сотрудник партнёра",
}
SPECIALTY_NAMES = {
    "psychologist": "психолог",
    "lawyer": "юрист",
    "social": "специалист по социальной работе",
    "crisis": "кризисный специалист",
}


@dataclass
class AdminState:
    """What every page needs; one per admin app."""

    services: Services
    jinja: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.jinja = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.jinja.globals.update(ROLE_NAMES=ROLE_NAMES, SPECIALTY_NAMES=SPECIALTY_NAMES)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.admin_session_hours)

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.admin_idle_minutes)


def state(request: Request) -> AdminState:
    admin: AdminState = request.app.state.admin
    return admin


def staff(request: Request) -> auth.Staff:
    """The logged-in person (set by the guard)."""
    found: auth.Staff = request.state.staff
    return found


def url(request: Request, path: str) -> str:
    """An absolute path inside the admin app, wherever it is mounted."""
    root = request.scope.get("root_path", "").rstrip("/")
    return f"{root}{path}"


def cookie_path(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/") or "/"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure_cookies(request: Request) -> bool:
    return state(request).settings.admin_secure_cookies or request.url.scheme == "https"


# -- responses ------------------------------------------------------------------------
def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    who: auth.Staff | None = getattr(request.state, "staff", None)
    flash = unquote(request.cookies.get(FLASH_COOKIE, ""))[:300]
    role = who.role if who else None
    nav = [item for item in NAV if role in item.roles]
    here = request.url.path.removeprefix(url(request, "")) or "/"
    # The section a page belongs to: the longest menu path it starts with.
    section = max(
        (
            i.path
            for i in nav
            if here == i.path or (i.path != "/" and here.startswith(i.path + "/"))
        ),
        key=len,
        default="",
    )
    html = (
        state(request)
        .jinja.get_template(template)
        .render(
            request=request,
            staff=who.user if who else None,
            csrf=who.csrf if who else context.pop("login_csrf", ""),
            nav=nav,
            flash=flash,
            url=lambda path: url(request, path),
            current=here,
            section=section,
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=cookie_path(request))
    return response


def redirect(request: Request, path: str, flash: str = "") -> RedirectResponse:
    response = RedirectResponse(url(request, path), status_code=303)
    if flash:
        response.set_cookie(
            FLASH_COOKIE,
            quote(flash),
            max_age=60,
            path=cookie_path(request),
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
        )
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


def forbidden(request: Request) -> HTMLResponse:
    return error_page(request, 403, "У вашей учётной записи нет доступа к этой странице.")


def not_found(request: Request) -> HTMLResponse:
    return error_page(request, 404, "Такой страницы нет: возможно, запись уже удалена.")


# -- forms ----------------------------------------------------------------------------
async def form(request: Request) -> FormData:
    """The posted form (read once, kept on the request)."""
    return await request.form(max_files=4, max_fields=2000, max_part_size=4 * 1024 * 1024)


def text(data: FormData, name: str, limit: int = 10_000) -> str:
    value = data.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def texts(data: FormData, name: str) -> list[str]:
    return [v.strip() for v in data.getlist(name) if isinstance(v, str) and v.strip()]


# Ids are 32-bit in the database; a larger number names no row (and would overflow).
ID_MAX = 2**31 - 1


def int_param(value: str | None) -> int | None:
    """A whole number from a query or form field, or None if it is not one we can use."""
    if value is None or not value.strip() or len(value) > 12:
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if -ID_MAX <= number <= ID_MAX else None


# -- exports ------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A text cell Excel would run as a formula (a partner named "=HYPERLINK(…)")
    is kept as text with a leading apostrophe; numbers pass as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV the way Excel with Russian settings opens it: `;` between columns and a
    byte-order mark, so Cyrillic reads as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# -- the guard ------------------------------------------------------------------------
def same_origin(request: Request) -> bool:
    """A state-changing request must come from our own pages (when the browser says)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def csrf_ok(request: Request, expected: str) -> bool:
    if not same_origin(request):
        return False
    given = request.headers.get("x-csrf-token", "")
    if not given:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await form(request)).get("csrf")
            given = value if isinstance(value, str) else ""
    return bool(given) and hmac.compare_digest(given, expected)


def guard(page: Page) -> Handler:
    """Wrap a page: a session, the page's role, and (for POST) a valid CSRF token."""

    async def endpoint(request: Request) -> Response:
        admin = state(request)
        token = request.cookies.get(SESSION_COOKIE, "")
        async with admin.services.db.session() as session:
            who = await auth.resume(session, token, admin.idle) if token else None
        if who is None:
            if request.method in SAFE_METHODS:
                target = request.url.path.removeprefix(url(request, ""))
                return RedirectResponse(
                    url(request, f"/login?next={quote(target)}"), status_code=303
                )
            return error_page(request, 401, "Сеанс закончился. Войдите снова.")
        request.state.staff = who
        if who.role not in page.roles:
            log.info("403: role %s on %s", who.role, page.name)
            return forbidden(request)
        if request.method not in SAFE_METHODS and not await csrf_ok(request, who.csrf):
            log.warning("CSRF check failed on %s", page.name)
            return error_page(
                request,
                403,
                "Форма устарела или отправлена не со страницы панели. "
                "Обновите страницу и отправьте ещё раз.",
            )
        if who.user.must_change_password and page.name not in PASSWORD_CHANGE_PAGES:
            return redirect(request, "/account", "Сначала задайте себе новый пароль.")
        if any(isinstance(v, int) and not 0 < v <= ID_MAX for v in request.path_params.values()):
            return not_found(request)
        return await page.endpoint(request)

    endpoint.__name__ = page.name
    return endpoint
