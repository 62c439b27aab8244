"""Linking a partner staff account to its Telegram user, with a one-time code.

The panel makes the code and shows it once; only its SHA-256 is kept, with an
expiry. The person sends `/link CODE` to the bot from their own Telegram, which
proves the Telegram account is theirs. Wrong codes count per Telegram user
against a lock (the code has 40 random bits and lives 15 minutes, so guessing
is hopeless anyway; the lock keeps the log quiet and the database idle).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import audit as audit_log
from bot.storage import throttle
from bot.storage.models import StaffUser, utcnow
from bot.vouchers.codes import ALPHABET

LENGTH = 8
LIFETIME = timedelta(minutes=15)
LIMIT = throttle.Limit(failures=5, window=timedelta(minutes=15), lockout=timedelta(minutes=30))
TYPED_MAX = 32
# Read the way voucher codes are: case and separators do not matter, O is 0, I and L are 1.
_IGNORED = str.maketrans("", "", " -–—_.\u00a0\t")
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str) -> str:
    return typed[:TYPED_MAX].upper().translate(_IGNORED).translate(_LOOKALIKES)


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def throttle_key(telegram_user_id: str) -> str:
    return f"tglink:{telegram_user_id}"


def is_partner_staff(user: StaffUser) -> bool:
    return user.active and user.role == "partner"


def may_link(user: StaffUser) -> bool:
    """Partner staff check codes in Telegram; consultants (and the manager) work
    with cases in the staff group. Editors have nothing to do there."""
    return user.active and user.role in ("partner", "consultant", "admin")


def offer_code(user: StaffUser) -> tuple[str, datetime]:
    """A fresh code for `user` (any earlier one stops working); shown once, kept hashed."""
    code = new_code()
    expires = utcnow() + LIFETIME
    user.telegram_link_hash = code_hash(code)
    user.telegram_link_expires = expires
    return code, expires


def unlink(user: StaffUser) -> bool:
    """Forget the linked Telegram user and any pending code; whether anything was linked."""
    linked = user.telegram_user_id is not None
    user.telegram_user_id = None
    user.telegram_link_hash = None
    user.telegram_link_expires = None
    return linked


@dataclass(frozen=True, slots=True)
class Linking:
    user: StaffUser | None = None  # linked now
    locked_until: datetime | None = None


async def link(session: AsyncSession, telegram_user_id: str, typed: str) -> Linking:
    """`/link CODE` from `telegram_user_id`: link the account whose live code this is."""
    key = throttle_key(telegram_user_id)
    locked = await throttle.locked_until(session, [key])
    if locked is not None:
        return Linking(locked_until=locked)
    code = normalise(typed)
    user = None
    if len(code) == LENGTH:
        user = await session.scalar(
            select(StaffUser)
            .where(StaffUser.telegram_link_hash == code_hash(code))
            .where(StaffUser.telegram_link_expires > utcnow())
            .with_for_update()
        )
    if user is None or not may_link(user):
        return Linking(locked_until=await throttle.fail(session, key, LIMIT))
    # One Telegram user, one account: a person moving to a new account takes the
    # link along (cleared first, so the unique column never holds it twice).
    await session.execute(
        update(StaffUser)
        .where(StaffUser.telegram_user_id == telegram_user_id, StaffUser.id != user.id)
        .values(telegram_user_id=None)
    )
    user.telegram_user_id = telegram_user_id
    user.telegram_link_hash = None
    user.telegram_link_expires = None
    await throttle.clear(session, key)
    # As the panel's audit records read; the Telegram user id stays out.
    audit_log.add(session, user, "telegram_link", "staff_user", user.id, after={"linked": True})
    return Linking(user=user)


async def linked_staff(session: AsyncSession, telegram_user_id: str) -> StaffUser | None:
    """The active partner staff account linked to this Telegram user, if any."""
    user = await session.scalar(
        select(StaffUser).where(StaffUser.telegram_user_id == telegram_user_id)
    )
    return user if user is not None and is_partner_staff(user) else None
