"""Staff accounts: argon2 passwords, database-backed sessions, login limits.

The browser holds a random session token; the database keeps only its SHA-256,
so a copy of the table logs no one in. Each session has its own CSRF token.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import throttle
from bot.storage.db import Database
from bot.storage.models import ROLES, SPECIALTIES, StaffSession, StaffUser, utcnow

PASSWORD_MIN = 10
LOGIN_PATTERN = r"[a-z0-9][a-z0-9._-]{1,63}"
# One login from one address: a handful of tries, then a pause. One address: room for
# a shared office. One login from anywhere: only a crowd of addresses gets there.
PAIR_LIMIT = throttle.Limit(failures=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
ADDRESS_LIMIT = throttle.Limit(
    failures=20, window=timedelta(minutes=15), lockout=timedelta(minutes=30)
)
ACCOUNT_LIMIT = throttle.Limit(
    failures=100, window=timedelta(hours=1), lockout=timedelta(minutes=15)
)
SEEN_EVERY = timedelta(minutes=1)  # write `seen_at` at most this often

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the login is unknown, so a wrong login takes as long as a wrong
    password. Made on first use: hashing is slow on purpose, and start-up must not be."""
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A clear, staff-facing reason an account could not be created or changed."""


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"Пароль должен быть не короче {PASSWORD_MIN} символов.")
    if len(password) > 256:
        raise AccountError("Пароль слишком длинный (больше 256 символов).")
    if password.strip() != password:
        raise AccountError("Пароль не должен начинаться или заканчиваться пробелом.")


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def random_password() -> str:
    """A password nobody knows (a disabled account) or a one-time one to hand over."""
    return secrets.token_urlsafe(15)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normal_login(login: str) -> str:
    return login.strip().lower()


@dataclass(frozen=True, slots=True)
class Staff:
    """The logged-in person for one request."""

    user: StaffUser
    csrf: str
    token_hash: str

    @property
    def role(self) -> str:
        return self.user.role


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str | None = None
    user: StaffUser | None = None
    locked_until: datetime | None = None
    just_locked: bool = False  # this attempt was the one that locked


async def create_user(
    session: AsyncSession,
    *,
    login: str,
    password: str,
    role: str,
    name: str = "",
    specialties: list[str] | None = None,
    partner_id: int | None = None,
    must_change_password: bool = True,
) -> StaffUser:
    login = normal_login(login)
    if not re.fullmatch(LOGIN_PATTERN, login):
        raise AccountError(
            "Логин: 2–64 символа, латинские буквы, цифры, точка, дефис или подчёркивание."
        )
    check_role(role, specialties or [], partner_id)
    if await session.scalar(select(StaffUser.id).where(StaffUser.login == login)):
        raise AccountError(f"Логин «{login}» уже занят.")
    user = StaffUser(
        login=login,
        name=name.strip()[:120],
        role=role,
        specialties=sorted(set(specialties or [])) if role == "consultant" else [],
        partner_id=partner_id if role == "partner" else None,
        password_hash=await asyncio.to_thread(hash_password, password),
        must_change_password=must_change_password,
    )
    session.add(user)
    await session.flush()
    return user


def check_role(role: str, specialties: list[str], partner_id: int | None) -> None:
    if role not in ROLES:
        raise AccountError(f"Неизвестная роль «{role}».")
    unknown = set(specialties) - set(SPECIALTIES)
    if unknown:
        raise AccountError(f"Неизвестные специальности: {', '.join(sorted(unknown))}.")
    if role == "consultant" and not specialties:
        raise AccountError("У консультанта должна быть хотя бы одна специальность.")
    if role == "partner" and partner_id is None:
        raise AccountError("Сотрудник партнёра должен быть привязан к организации-партнёру.")


async def set_password(
    session: AsyncSession,
    user: StaffUser,
    password: str,
    *,
    must_change: bool,
    keep_session: str | None = None,
) -> None:
    """New password (see `store_hash`)."""
    hashed = await asyncio.to_thread(hash_password, password)
    await store_hash(session, user, hashed, must_change=must_change, keep_session=keep_session)


async def store_hash(
    session: AsyncSession,
    user: StaffUser,
    hashed: str,
    *,
    must_change: bool,
    keep_session: str | None = None,
) -> None:
    """Keep a new password hash; the account's other sessions end (a reset locks out a
    thief), and any lock on its login is lifted (a reset is how staff get back in)."""
    user.password_hash = hashed
    user.must_change_password = must_change
    await throttle.clear_prefix(session, f"login:{user.login}")
    await session.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user.id, StaffSession.token_hash != (keep_session or "")
        )
    )


def address_key(address: str) -> str:
    """Who is guessing, for the limits: an IPv6 host usually owns a whole /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


async def log_in(
    db: Database,
    login: str,
    password: str,
    address: str,
    lifetime: timedelta,
) -> LoginResult:
    """Check the password within the limits; on success open a session.

    Three counters: this login from this address (a few tries, then a pause),
    this address (many logins guessed from one place), and this login from
    anywhere (a generous limit: only a crowd of addresses reaches it, and a
    stranger must not be able to lock a colleague out with five wrong tries).
    The slow hash is checked outside any transaction and off the event loop:
    SQLite has one writer and the family chat shares the loop.
    """
    login = normal_login(login)[:64]
    where = address_key(address)
    keys = [f"login:{login}|{where}", f"addr:{where}", f"login:{login}"]
    async with db.session() as session:
        locked = await throttle.locked_until(session, keys)
        if locked is not None:
            return LoginResult(locked_until=locked)
        user = await session.scalar(select(StaffUser).where(StaffUser.login == login))
    stored = user.password_hash if user is not None and user.active else None
    valid = await asyncio.to_thread(verify_password, stored, password)
    async with db.session() as session:
        if not valid or user is None:
            ends = [
                await throttle.fail(session, key, limit)
                for key, limit in zip(keys, (PAIR_LIMIT, ADDRESS_LIMIT, ACCOUNT_LIMIT), strict=True)
            ]
            until = max((e for e in ends if e), default=None)
            return LoginResult(locked_until=until, just_locked=until is not None)
        await throttle.clear(session, keys[0])
        fresh = await session.get(StaffUser, user.id)
        if fresh is None or not fresh.active:
            return LoginResult()
        if _hasher.check_needs_rehash(fresh.password_hash):
            fresh.password_hash = await asyncio.to_thread(_hasher.hash, password)
        fresh.last_login_at = utcnow()
        token = secrets.token_urlsafe(32)
        now = utcnow()
        session.add(
            StaffSession(
                token_hash=token_hash(token),
                user_id=fresh.id,
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                seen_at=now,
                expires_at=now + lifetime,
            )
        )
        return LoginResult(token=token, user=fresh)


async def resume(session: AsyncSession, token: str, idle: timedelta) -> Staff | None:
    """The staff member behind a session cookie, if the session is alive."""
    if not token or len(token) > 128:
        return None
    hashed = token_hash(token)
    row = (
        await session.execute(
            select(StaffSession, StaffUser)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .where(StaffSession.token_hash == hashed)
        )
    ).one_or_none()
    if row is None:
        return None
    staff_session, user = row
    now = utcnow()
    if not user.active or staff_session.expires_at <= now or now - staff_session.seen_at > idle:
        await session.delete(staff_session)
        return None
    if now - staff_session.seen_at > SEEN_EVERY:
        staff_session.seen_at = now
    return Staff(user=user, csrf=staff_session.csrf, token_hash=hashed)


async def log_out(session: AsyncSession, hashed: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == hashed))


async def purge_sessions(session: AsyncSession) -> int:
    result = await session.execute(delete(StaffSession).where(StaffSession.expires_at < utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


async def count_admins(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(StaffUser)
            .where(StaffUser.role == "admin", StaffUser.active.is_(True))
        )
        or 0
    )
