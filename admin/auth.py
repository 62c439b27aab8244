"""Staff accounts: argon2 passwords, database-backed sessions, login limits.

The browser holds a random session token; the database keeps only its SHA-256,
so a copy of the table logs no one in. Each session has its own CSRF token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import throttle
from bot.storage.models import ROLES, SPECIALTIES, StaffSession, StaffUser, utcnow

PASSWORD_MIN = 10
LOGIN_PATTERN = r"[a-z0-9][a-z0-9._-]{1,63}"
# Per account: a handful of tries, then a pause; per address: room for a shared office.
ACCOUNT_LIMIT = throttle.Limit(
    failures=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15)
)
ADDRESS_LIMIT = throttle.Limit(
    failures=20, window=timedelta(minutes=15), lockout=timedelta(minutes=30)
)
SEEN_EVERY = timedelta(minutes=1)  # write `seen_at` at most this often

_hasher = PasswordHasher()
# Verified when the login is unknown, so a wrong login takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


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
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
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
        password_hash=hash_password(password),
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
    """New password; the account's other sessions end (a reset locks out a thief)."""
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    await session.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user.id, StaffSession.token_hash != (keep_session or "")
        )
    )


async def log_in(
    session: AsyncSession,
    login: str,
    password: str,
    address: str,
    lifetime: timedelta,
) -> LoginResult:
    """Check the password within the limits; on success open a session."""
    login = normal_login(login)[:64]
    keys = [f"login:{login}", f"addr:{address}"]
    locked = await throttle.locked_until(session, keys)
    if locked is not None:
        return LoginResult(locked_until=locked)
    user = await session.scalar(select(StaffUser).where(StaffUser.login == login))
    stored = user.password_hash if user is not None and user.active else None
    if not verify_password(stored, password) or user is None:
        ends = [
            await throttle.fail(session, keys[0], ACCOUNT_LIMIT),
            await throttle.fail(session, keys[1], ADDRESS_LIMIT),
        ]
        return LoginResult(locked_until=max((e for e in ends if e), default=None))
    await throttle.clear(session, keys[0])
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        StaffSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            seen_at=now,
            expires_at=now + lifetime,
        )
    )
    return LoginResult(token=token, user=user)


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
