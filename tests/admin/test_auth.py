"""Logging in: passwords, limits on guessing, sessions, CSRF, and what never leaks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from admin import auth
from admin.web import SESSION_COOKIE
from bot.core.services import Services
from bot.storage.models import AuditRecord, StaffSession, StaffUser, Throttle, utcnow
from tests.admin.conftest import PASSWORD, Accounts, StaffClient

MakeClient = Callable[[str], Awaitable[StaffClient]]


async def test_login_opens_a_session_with_a_safe_cookie(
    anonymous: StaffClient, accounts: Accounts
) -> None:
    response = await anonymous.login("editor-user")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    home = await anonymous.get("/admin/")
    assert home.status_code == 200
    assert "Тест editor" in home.text
    assert home.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]


async def test_login_is_case_insensitive_and_ignores_spaces(
    anonymous: StaffClient, accounts: Accounts
) -> None:
    response = await anonymous.login("  Editor-User ")
    assert response.status_code == 303


async def test_wrong_password_and_unknown_login_get_the_same_answer(
    anonymous: StaffClient, accounts: Accounts
) -> None:
    wrong = await anonymous.login("editor-user", "not the password")
    unknown = await anonymous.login("nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Неверный логин или пароль" in wrong.text
    assert "Неверный логин или пароль" in unknown.text
    assert f"{SESSION_COOKIE}=" not in wrong.headers.get("set-cookie", "")


async def test_an_account_is_locked_after_five_wrong_passwords(
    anonymous: StaffClient, accounts: Accounts, services: Services, admin_asgi: Starlette
) -> None:
    for _ in range(4):
        assert (await anonymous.login("admin-user", "guess-guess")).status_code == 401
    locked = await anonymous.login("admin-user", "guess-guess")
    assert locked.status_code == 429
    assert "Слишком много неудачных попыток" in locked.text
    # Even the right password waits until the lock ends: guessing gains nothing.
    assert (await anonymous.login("admin-user")).status_code == 429
    # Another account from the same office is not punished for it…
    assert (await anonymous.login("editor-user")).status_code == 303
    # …nor is the real owner elsewhere: a stranger cannot lock a colleague out.
    transport = httpx.ASGITransport(app=admin_asgi, client=("10.20.30.40", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await StaffClient(http).login("admin-user")).status_code == 303
    # The lock is in the database (a restart or a second worker keeps it) and in the log.
    async with services.db.session() as session:
        row = await session.get(Throttle, "login:admin-user|127.0.0.1")
        assert row is not None and row.locked_until is not None
        row.locked_until = utcnow() - timedelta(seconds=1)
        lockouts = (
            await session.scalars(select(AuditRecord).where(AuditRecord.action == "lockout"))
        ).all()
        assert [r.entity_id for r in lockouts] == ["admin-user"]
    assert (await anonymous.login("admin-user")).status_code == 303


async def test_a_password_reset_lifts_the_lock(
    anonymous: StaffClient, accounts: Accounts, services: Services
) -> None:
    for _ in range(5):
        await anonymous.login("editor-user", "guess-guess")
    assert (await anonymous.login("editor-user")).status_code == 429
    async with services.db.session() as session:
        user = await session.get(StaffUser, accounts.users["editor"].id)
        assert user is not None
        await auth.set_password(session, user, PASSWORD, must_change=False)
    assert (await anonymous.login("editor-user")).status_code == 303


def test_ipv6_guessers_are_counted_per_network() -> None:
    assert (
        auth.address_key("2001:db8::1") == auth.address_key("2001:db8::ffff") == ("2001:db8::/64")
    )
    assert auth.address_key("192.0.2.7") == "192.0.2.7"


async def test_one_address_guessing_many_logins_is_locked(
    anonymous: StaffClient, accounts: Accounts
) -> None:
    statuses = [
        (await anonymous.login(f"someone-{i}", "guess-guess")).status_code for i in range(20)
    ]
    assert statuses[:19] == [401] * 19
    assert statuses[19] == 429
    assert (await anonymous.login("editor-user")).status_code == 429


async def test_a_successful_login_clears_the_accounts_failures(
    anonymous: StaffClient, accounts: Accounts
) -> None:
    for _ in range(4):
        await anonymous.login("editor-user", "typo-typo-typo")
    assert (await anonymous.login("editor-user")).status_code == 303
    for _ in range(4):
        assert (await anonymous.login("editor-user", "typo-typo-typo")).status_code == 401


async def test_login_form_without_its_token_is_refused(
    anonymous: StaffClient, accounts: Accounts
) -> None:
    response = await anonymous.http.post(
        "/admin/login", data={"login": "editor-user", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert f"{SESSION_COOKIE}=" not in response.headers.get("set-cookie", "")


async def test_a_post_without_csrf_token_changes_nothing(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    client = await staff_client("editor")
    data = {"current": PASSWORD, "new": "a brand new secret", "repeat": "a brand new secret"}
    refused = await client.post("/admin/account/password", data, csrf=False)
    assert refused.status_code == 403
    assert "Форма устарела" in refused.text
    forged = await client.post("/admin/account/password", {**data, "csrf": "forged"})
    assert forged.status_code == 403
    other_site = await client.post(
        "/admin/account/password", data, headers={"origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    async with services.db.session() as session:
        user = await session.get(StaffUser, accounts.users["editor"].id)
        assert user is not None and user.password_hash == accounts.users["editor"].password_hash
    assert (await client.post("/admin/account/password", data)).status_code == 303


async def test_anonymous_visitors_are_sent_to_login(anonymous: StaffClient) -> None:
    page = await anonymous.get("/admin/cases")
    assert page.status_code == 303
    assert page.headers["location"] == "/admin/login?next=/cases"
    post = await anonymous.http.post("/admin/logout", data={"csrf": "x"})
    assert post.status_code == 401


async def test_next_never_leads_outside_the_panel(
    anonymous: StaffClient, accounts: Accounts
) -> None:
    page = await anonymous.http.get("/admin/login?next=//evil.example/x")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    response = await anonymous.http.post(
        "/admin/login",
        data={
            "csrf": token,
            "login": "editor-user",
            "password": PASSWORD,
            "next": "//evil.example/x",
        },
    )
    assert response.headers["location"] == "/admin/"


async def test_first_login_with_a_temporary_password_must_change_it(
    anonymous: StaffClient, accounts: Accounts, services: Services
) -> None:
    async with services.db.session() as session:
        await session.execute(
            update(StaffUser)
            .where(StaffUser.login == "consultant-user")
            .values(must_change_password=True)
        )
    response = await anonymous.login("consultant-user")
    assert response.headers["location"] == "/admin/account"
    blocked = await anonymous.get("/admin/cases")
    assert blocked.status_code == 303 and blocked.headers["location"] == "/admin/account"
    account = await anonymous.get("/admin/account")
    assert "временным паролем" in account.text
    short = await anonymous.post(
        "/admin/account/password", {"current": PASSWORD, "new": "short", "repeat": "short"}
    )
    assert short.status_code == 400 and "не короче 10" in short.text
    changed = await anonymous.post(
        "/admin/account/password",
        {"current": PASSWORD, "new": "my own long secret", "repeat": "my own long secret"},
    )
    assert changed.status_code == 303
    assert (await anonymous.get("/admin/cases")).status_code == 200


async def test_changing_the_password_ends_the_other_sessions(
    staff_client: MakeClient, accounts: Accounts
) -> None:
    laptop = await staff_client("admin")
    phone = await staff_client("admin")
    new = "a much better secret"
    response = await laptop.post(
        "/admin/account/password", {"current": PASSWORD, "new": new, "repeat": new}
    )
    assert response.status_code == 303
    assert (await laptop.get("/admin/")).status_code == 200
    assert (await phone.get("/admin/")).status_code == 303  # sent to log in again


async def test_logout_ends_the_session_for_good(anonymous: StaffClient, accounts: Accounts) -> None:
    await anonymous.login("editor-user")
    token = anonymous.http.cookies[SESSION_COOKIE]
    await anonymous.get("/admin/")
    assert (await anonymous.post("/admin/logout")).status_code == 303
    anonymous.http.cookies.set(SESSION_COOKIE, token)  # a copied cookie is worth nothing now
    assert (await anonymous.get("/admin/")).status_code == 303


@pytest.mark.parametrize("how", ["expired", "idle", "disabled"])
async def test_sessions_end(
    how: str, staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    client = await staff_client("editor")
    assert (await client.get("/admin/")).status_code == 200
    async with services.db.session() as session:
        if how == "expired":
            await session.execute(update(StaffSession).values(expires_at=utcnow()))
        elif how == "idle":
            idle = timedelta(minutes=services.settings.admin_idle_minutes + 1)
            await session.execute(update(StaffSession).values(seen_at=utcnow() - idle))
        else:
            await session.execute(
                update(StaffUser).where(StaffUser.login == "editor-user").values(active=False)
            )
    assert (await client.get("/admin/")).status_code == 303


async def test_no_password_or_session_token_reaches_logs_or_pages(
    anonymous: StaffClient,
    accounts: Accounts,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "my-wrong-password-123"
    failed = await anonymous.login("editor-user", wrong)
    ok = await anonymous.login("editor-user")
    token = anonymous.http.cookies[SESSION_COOKIE]
    pages = [await anonymous.get(p) for p in ("/admin/", "/admin/account")]
    for text in (caplog.text, failed.text, *(p.text for p in pages)):
        assert wrong not in text and PASSWORD not in text and token not in text
        assert "argon2" not in text
    assert ok.status_code == 303
    async with services.db.session() as session:
        # Only the token's hash is stored; audit records carry no secrets either.
        assert await session.get(StaffSession, token) is None
        records = (await session.scalars(select(AuditRecord))).all()
        assert records and all("password_hash" not in str(r.after) for r in records)
        logins = await session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "login")
        )
        assert logins == 1
