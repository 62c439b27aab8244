"""Where the panel lives: at /admin beside the web chat, or on its own; and the
sweep that forgets expired sessions and old failed-login counters."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from admin.app import standalone
from bot.app import Application
from bot.core.services import Services
from bot.jobs import purge_staff_sessions
from bot.storage.models import StaffSession, Throttle, utcnow
from tests.admin.conftest import Accounts


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
