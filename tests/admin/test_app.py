"""Where the panel lives: at /admin beside the web chat, or on its own; and the
sweep that forgets expired sessions and old failed-login counters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import select

from admin.app import LOGIN_BODY_MAX, standalone
from bot.app import Application
from bot.core.services import Services
from bot.jobs import purge_staff_sessions
from bot.storage.models import StaffSession, Throttle, utcnow
from tests.admin.conftest import Accounts, StaffClient

MakeClient = Callable[[str], Awaitable[StaffClient]]


async def test_the_panel_is_served_beside_the_web_chat(services: Services) -> None:
    app = Application.build(services.settings, services)
    transport = httpx.ASGITransport(app=app.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        login = await client.get("/admin/login")
        assert login.status_code == 200 and "Вход для сотрудников" in login.text
        bare = await client.get("/admin")
        assert bare.status_code in (307, 308) and bare.headers["location"].endswith("/admin/")
        css = await client.get("/admin/static/admin.css")
        assert css.status_code == 200
        chat = await client.get("/")
        assert chat.status_code == 200  # the family's chat is untouched


async def test_the_panel_runs_on_its_own(services: Services) -> None:
    transport = httpx.ASGITransport(app=standalone(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        root = await client.get("/")
        assert root.headers["location"] == "/admin/"
        assert (await client.get("/admin/login")).status_code == 200
        assert (await client.get("/admin/")).headers["location"].startswith("/admin/login")


async def test_sweep_forgets_expired_sessions_and_old_counters(
    services: Services, accounts: Accounts
) -> None:
    now = utcnow()
    async with services.db.session() as session:
        user_id = accounts.users["editor"].id
        session.add_all(
            [
                StaffSession(
                    token_hash="old", user_id=user_id, csrf="x", expires_at=now - timedelta(1)
                ),
                StaffSession(
                    token_hash="live", user_id=user_id, csrf="y", expires_at=now + timedelta(1)
                ),
                Throttle(key="addr:old", failures=3, window_start=now - timedelta(days=2)),
                Throttle(
                    key="login:locked",
                    failures=0,
                    window_start=now - timedelta(days=2),
                    locked_until=now + timedelta(minutes=5),
                ),
                Throttle(key="addr:recent", failures=1, window_start=now),
            ]
        )
    await purge_staff_sessions(services)
    async with services.db.session() as session:
        sessions = (await session.scalars(select(StaffSession.token_hash))).all()
        keys = sorted((await session.scalars(select(Throttle.key))).all())
    assert sessions == ["live"]
    assert keys == ["addr:recent", "login:locked"]


async def test_oversized_bodies_are_refused_before_they_are_read(
    anonymous: StaffClient, staff_client: MakeClient
) -> None:
    big = "x" * (LOGIN_BODY_MAX + 1)
    declared = await anonymous.http.post("/admin/login", data={"login": big})
    assert declared.status_code == 413 and "Слишком большой запрос" in declared.text

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield (
            b'--BB\r\nContent-Disposition: form-data; name="file"; filename="a.yaml"\r\n'
            b"Content-Type: application/x-yaml\r\n\r\n"
        )
        for _ in range(8):
            yield b"y" * (1024 * 1024)
        yield b"\r\n--BB--\r\n"

    editor = await staff_client("editor")
    streamed = await editor.http.post(
        "/admin/knowledge/import",
        content=stream(),
        headers={"content-type": "multipart/form-data; boundary=BB"},
    )
    assert streamed.status_code == 413


async def test_ids_beyond_the_database_range_are_simply_not_found(
    staff_client: MakeClient,
) -> None:
    admin = await staff_client("admin")
    for path in ("/admin/partners/9223372036854775808", "/admin/audit/99999999999"):
        assert (await admin.get(path)).status_code == 404
    assert (await admin.get("/admin/requests?page=99999999999999999999")).status_code == 200
    assert (await admin.get("/admin/audit?from=0001-01-01&to=9999-12-31")).status_code == 200
    assert (await admin.get("/admin/dashboard?from=0001-01-01&to=0001-02-01")).status_code == 200
