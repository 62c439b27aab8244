"""Linking the logged-in staff member's Telegram from the panel: a one-time code
for `/link` in the bot, and unlinking (see bot/vouchers/staff_link.py).

Shared by the pages that offer it — the partner's own page and the consultants'
inbox. Each page keeps its own redirects and its own words for what the link is
for; the rules and the audit records are the same everywhere.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from admin import audit
from admin.web import staff, state
from bot.storage.models import StaffUser
from bot.vouchers import staff_link

ALREADY_LINKED = "Telegram уже привязан. Чтобы привязать другой, сначала отвяжите этот."
NOTHING_TO_UNLINK = "Telegram не был привязан."
# How long a code works, as the pages tell it.
LINK_MINUTES = int(staff_link.LIFETIME.total_seconds() // 60)


async def is_linked(session: AsyncSession, user_id: int) -> bool:
    """Read afresh: the account may have been linked from the bot since login."""
    me = await session.get(StaffUser, user_id)
    return me is not None and me.telegram_user_id is not None


async def issue_code(request: Request) -> str | None:
    """A fresh one-time code for `/link` in the bot (any earlier one stops working),
    or None when a Telegram is already linked. Only its hash is kept: show it in
    this answer only."""
    who = staff(request)
    async with state(request).services.db.session() as session:
        user = await session.get(StaffUser, who.user.id)
        assert user is not None
        if user.telegram_user_id is not None:
            return None
        code, expires = staff_link.offer_code(user)
        # The code itself never goes to the log: with it anyone could link.
        await audit.record(
            session,
            who,
            "telegram_link",
            "staff_user",
            user.id,
            after={"code_issued": True, "expires": expires.isoformat()},
        )
    return code


async def unlink(request: Request) -> bool:
    """Forget the linked Telegram and any pending code; False when none was linked."""
    who = staff(request)
    async with state(request).services.db.session() as session:
        user = await session.get(StaffUser, who.user.id)
        assert user is not None
        if not staff_link.unlink(user):
            return False
        await audit.record(
            session,
            who,
            "telegram_unlink",
            "staff_user",
            user.id,
            before={"linked": True},
            after={"linked": False},
        )
    return True
