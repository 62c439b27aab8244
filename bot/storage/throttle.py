"""Failed-attempt limits kept in the database (logins now, voucher codes later).

A key ("login:anna", "addr:10.0.0.7") collects failures in a window; past the
limit it is locked for a while. Kept in a table, not in memory, so a restart or
a second worker does not reset a guesser's count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Throttle, utcnow


@dataclass(frozen=True, slots=True)
class Limit:
    failures: int  # this many failures within `window` lock the key
    window: timedelta
    lockout: timedelta


async def locked_until(session: AsyncSession, keys: list[str]) -> datetime | None:
    """The latest lock among `keys` still in force, if any."""
    now = utcnow()
    found = await session.scalars(
        select(Throttle.locked_until).where(Throttle.key.in_(keys), Throttle.locked_until > now)
    )
    return max((until for until in found.all() if until is not None), default=None)


async def fail(session: AsyncSession, key: str, limit: Limit) -> datetime | None:
    """Count one failure for `key`; return when its lock ends if this locked it."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(Throttle)
        .values(key=key, failures=0, window_start=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = await session.scalar(select(Throttle).where(Throttle.key == key).with_for_update())
    assert row is not None
    if now - row.window_start > limit.window:
        row.failures, row.window_start = 0, now
    row.failures += 1
    if row.failures >= limit.failures:
        row.locked_until = now + limit.lockout
        row.failures, row.window_start = 0, now
        return row.locked_until
    return None


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(Throttle).where(Throttle.key == key))


async def clear_prefix(session: AsyncSession, prefix: str) -> None:
    """Lift every counter of one subject ("login:anna" and "login:anna|<address>")."""
    await session.execute(
        delete(Throttle).where(
            (Throttle.key == prefix) | Throttle.key.startswith(f"{prefix}|", autoescape=True)
        )
    )


async def purge_stale(session: AsyncSession, older_than: timedelta) -> int:
    """Forget keys with no recent failure and no lock (they hold addresses)."""
    cutoff = utcnow() - older_than
    result = await session.execute(
        delete(Throttle).where(
            Throttle.window_start < cutoff,
            (Throttle.locked_until.is_(None)) | (Throttle.locked_until < cutoff),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
