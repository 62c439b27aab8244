"""Logging in and out, and one's own account (password change)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import audit, auth
from admin.web import (
    EVERYONE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Page,
    client_address,
    cookie_path,
    form,
    page,
    redirect,
    render,
    same_origin,
    secure_cookies,
    staff,
    state,
    text,
    url,
)
from bot.storage.models import Partner, StaffUser, utcnow

log = logging.getLogger(__name__)
PUBLIC: frozenset[str] = frozenset()  # no session needed


def _safe_next(target: str) -> str:
    """Only a path inside the panel: never an outside address (open redirect)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and len(target) < 300:
        return target
    return "/"


def _login_page(request: Request, status: int = 200, error: str = "", login: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        status=status,
        login_csrf=token,
        error=error,
        login=login,
        next=_safe_next(request.query_params.get("next", "/")),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )
    return response


async def login_form(request: Request) -> Response:
    return _login_page(request)


async def login(request: Request) -> Response:
    data = await form(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = text(data, "csrf", 100)
    if not (expected and given and hmac.compare_digest(expected, given)) or not same_origin(
        request
    ):
        return _login_page(request, 403, "Страница входа устарела. Попробуйте ещё раз.")
    login_name = text(data, "login", 64)
    password = data.get("password")
    password = password if isinstance(password, str) else ""
    admin = state(request)
    result = await auth.log_in(
        admin.services.db,
        login_name,
        password[:256],
        client_address(request),
        admin.session_lifetime,
    )
    if result.user is not None or result.just_locked:
        async with admin.services.db.session() as session:
            # Logins and lockouts are in the audit log (who tried, never a password);
            # single wrong passwords are not, or a guesser could flood it.
            await audit.record(
                session,
                None,
                "login" if result.user is not None else "lockout",
                "staff_user",
                result.user.id if result.user is not None else auth.normal_login(login_name),
                login=result.user.login if result.user is not None else "—",
                user_id=result.user.id if result.user is not None else None,
            )
    if result.locked_until is not None and result.token is None:
        minutes = max(1, math.ceil((result.locked_until - utcnow()).total_seconds() / 60))
        if result.just_locked:
            log.warning("admin login locked after repeated failures (see the audit log)")
        return _login_page(
            request,
            429,
            f"Слишком много неудачных попыток. Попробуйте снова через {minutes} мин.",
            login_name,
        )
    if result.token is None or result.user is None:
        return _login_page(request, 401, "Неверный логин или пароль.", login_name)
    target = "/account" if result.user.must_change_password else _safe_next(text(data, "next"))
    response = RedirectResponse(url(request, target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=int(admin.session_lifetime.total_seconds()),
        path=cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=cookie_path(request))
    return response


async def logout(request: Request) -> Response:
    who = staff(request)
    async with state(request).services.db.session() as session:
        await auth.log_out(session, who.token_hash)
        await audit.record(session, who, "logout", "staff_user", who.user.id)
    response = RedirectResponse(url(request, "/login"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
    return response


async def account(request: Request) -> Response:
    who = staff(request)
    partner_name = ""
    if who.user.partner_id is not None:
        async with state(request).services.db.session() as session:
            partner = await session.get(Partner, who.user.partner_id)
            partner_name = partner.name if partner else ""
    return render(request, "account.html", partner_name=partner_name, error="")


async def change_password(request: Request) -> Response:
    who = staff(request)
    data = await form(request)
    current, new, repeat = (str(data.get(k) or "")[:256] for k in ("current", "new", "repeat"))
    # Both slow hashes run off the event loop and before the write transaction.
    error, hashed = "", ""
    if not await asyncio.to_thread(auth.verify_password, who.user.password_hash, current):
        error = "Текущий пароль введён неверно."
    elif new != repeat:
        error = "Новый пароль и повтор не совпадают."
    elif new == current:
        error = "Новый пароль должен отличаться от прежнего."
    else:
        try:
            hashed = await asyncio.to_thread(auth.hash_password, new)
        except auth.AccountError as exc:
            error = str(exc)
    if error:
        return render(request, "account.html", status=400, partner_name="", error=error)
    async with state(request).services.db.session() as session:
        user = await session.get(StaffUser, who.user.id)
        assert user is not None
        await auth.store_hash(session, user, hashed, must_change=False, keep_session=who.token_hash)
        await audit.record(session, who, "password", "staff_user", user.id)
    return redirect(request, "/", "Пароль изменён. Другие сеансы этой учётной записи закрыты.")


ROUTES: list[Page] = [
    page("/login", login_form, PUBLIC, name="login_form"),
    page("/login", login, PUBLIC, post=True),
    page("/logout", logout, EVERYONE, post=True),
    page("/account", account, EVERYONE),
    page("/account/password", change_password, EVERYONE, post=True, name="account"),
]
