"""The audit log: who changed what and when, with the values before and after."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from admin.auth import Staff
from bot.storage import audit as audit_log
from bot.storage.models import Base, utcnow

# Never written to the log, whatever the entity.
SECRET_FIELDS = frozenset({"password_hash", "token_hash", "csrf", "telegram_link_hash"})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def snapshot(row: Base, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A row's column values as JSON-ready data, secrets left out."""
    mapper = inspect(row).mapper
    return {
        column.key: _plain(getattr(row, column.key))
        for column in mapper.column_attrs
        if column.key not in SECRET_FIELDS | skip
    }


def changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """Keys whose values differ (for showing a change at a glance)."""
    before, after = before or {}, after or {}
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


async def create(session: AsyncSession, who: Staff | None, entity: str, row: Base) -> None:
    """Add a new row and record its creation with what it holds (the id comes from a flush)."""
    session.add(row)
    await session.flush()
    await record(session, who, "create", entity, getattr(row, "id", ""), after=snapshot(row))


async def update(
    session: AsyncSession,
    who: Staff | None,
    action: str,
    entity: str,
    row: Base,
    values: Mapping[str, Any],
) -> bool:
    """Set `values` on `row` and record the change, before and after; stamp
    `updated_at` when the row has one and anything changed. Returns whether it did."""
    before = snapshot(row)
    for key, value in values.items():
        setattr(row, key, value)
    after = snapshot(row)
    if not changed(before, after):
        return False
    if hasattr(row, "updated_at"):
        row.updated_at = utcnow()
        after = snapshot(row)
    await record(session, who, action, entity, getattr(row, "id", ""), before=before, after=after)
    return True


async def record(
    session: AsyncSession,
    who: Staff | None,
    action: str,
    entity: str,
    entity_id: object = "",
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    login: str = "",
    user_id: int | None = None,
) -> None:
    """Add one record in the caller's transaction (so a rolled-back change leaves none)."""
    if before is not None and after is not None and not changed(before, after):
        return  # saving an unchanged form is not a change
    audit_log.add(
        session,
        who.user if who else None,
        action,
        entity,
        entity_id,
        before=before,
        after=after,
        login=login or "system",
        user_id=user_id,
    )
