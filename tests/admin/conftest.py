"""Admin panel fixtures: the panel mounted at /admin on the test database, one
account per role, and clients already logged in as each of them."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from admin import auth
from admin.app import build_admin
from admin.web import SESSION_COOKIE
from bot.core.services import Services
from bot.storage.models import Partner, StaffSession, StaffUser, utcnow

PASSWORD = "correct horse battery"
ROLES = ("admin", "editor", "consultant", "partner")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@cache
def password_hash() -> str:
    """Hashed once per run: argon2 is slow on purpose."""
    return PasswordHasher().hash(PASSWORD)


@dataclass
class Accounts:
    users: dict[str, StaffUser]
    partner: Partner  # the partner user's own organisation
    other_partner: Partner  # someone else's


class StaffClient:
    """A browser-like client for one staff member: cookies kept, CSRF filled in."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        self._remember(response)
        return response

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        data = dict(data or {})
        if csrf:
            if not self.csrf:
                await self.get("/admin/account")
            data.setdefault("csrf", self.csrf)
        response = await self.http.post(path, data=data, **kwargs)
        self._remember(response)
        return response

    async def login(self, login: str, password: str = PASSWORD) -> httpx.Response:
        page = await self.http.get("/admin/login")
        token = _CSRF.search(page.text)
        assert token, page.text
        return await self.http.post(
            "/admin/login",
            data={"csrf": token.group(1), "login": login, "password": password, "next": "/"},
        )

    def _remember(self, response: httpx.Response) -> None:
        found = (
            _CSRF.search(response.text)
            if "html" in response.headers.get("content-type", "")
            else None
        )
        if found:
            self.csrf = found.group(1)


async def session_client(
    app: ASGIApp, services: Services, user_id: int, address: str = "127.0.0.1"
) -> httpx.AsyncClient:
    """A client already logged in as `user_id` (the session row made directly:
    logging in through argon2 for every test would be slow)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with services.db.session() as session:
        session.add(
            StaffSession(
                token_hash=auth.token_hash(token),
                user_id=user_id,
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                seen_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: token},
    )


@pytest.fixture
def admin_asgi(services: Services) -> Starlette:
    return Starlette(routes=[Mount("/admin", build_admin(services))])


@pytest.fixture
async def accounts(services: Services) -> Accounts:
    async with services.db.session() as session:
        partner = Partner(
            name="Детский магазин «Карапуз»", kind="children_shop", city="makhachkala"
        )
        other = Partner(name="Салон «Новый образ»", kind="salon", city="derbent")
        session.add_all([partner, other])
        await session.flush()
        users = {
            role: StaffUser(
                login=f"{role}-user",
                name=f"Тест {role}",
                role=role,
                specialties=["psychologist", "crisis"] if role == "consultant" else [],
                partner_id=partner.id if role == "partner" else None,
                password_hash=password_hash(),
                must_change_password=False,
            )
            for role in ROLES
        }
        session.add_all(users.values())
    return Accounts(users=users, partner=partner, other_partner=other)


@pytest.fixture
async def anonymous(admin_asgi: Starlette) -> AsyncIterator[StaffClient]:
    transport = httpx.ASGITransport(app=admin_asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield StaffClient(client)


@pytest.fixture
async def staff_client(
    admin_asgi: Starlette, services: Services, accounts: Accounts
) -> AsyncIterator[Callable[[str], Awaitable[StaffClient]]]:
    """`await staff_client("editor")`: a client with a live session for that role
    (made directly: logging in through argon2 for every test would be slow)."""
    clients: list[httpx.AsyncClient] = []

    async def make(role: str) -> StaffClient:
        client = await session_client(admin_asgi, services, accounts.users[role].id)
        clients.append(client)
        return StaffClient(client)

    yield make
    for client in clients:
        await client.aclose()
