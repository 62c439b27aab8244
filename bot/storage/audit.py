"""Writing an audit record: who changed what, before and after.

The panel (`admin.audit`) and the bot's own staff paths (Telegram commands,
the consultants' desk) write the same rows through this one function.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditRecord, StaffUser


def add(
    session: AsyncSession,
    user: StaffUser | None,
    action: str,
    entity: str,
    entity_id: object = "",
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    login: str = "system",
    user_id: int | None = None,
) -> None:
    """Add one record in the caller's transaction (a rolled-back change leaves none).

    Without a `user`, `login`/`user_id` name who acted (a clerk known only by id).
    """
    session.add(
        AuditRecord(
            user_id=user.id if user is not None else user_id,
            user_login=user.login if user is not None else login,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=before,
            after=after,
        )
    )
