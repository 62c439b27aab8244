"""Many families who agreed to the centre's news, each with a Telegram chat,
and an announcement to them already started (the bench and the restart test)."""

from __future__ import annotations

from sqlalchemy import insert

from bot.outbound import announcements
from bot.storage.db import Database
from bot.storage.models import Announcement, Family, Identity

FIRST_CHAT = 500_000_000


def chat_ids(families: int) -> list[int]:
    return [FIRST_CHAT + i for i in range(families)]


async def seed_announcement(db: Database, families: int) -> int:
    async with db.session() as session:
        await session.execute(
            insert(Family),
            [{"id": i + 1, "language": "ru", "announcements_ok": True} for i in range(families)],
        )
        await session.execute(
            insert(Identity),
            [
                {
                    "family_id": i + 1,
                    "channel": "telegram",
                    "external_id": str(chat),
                    "chat_id": str(chat),
                }
                for i, chat in enumerate(chat_ids(families))
            ],
        )
        announcement = Announcement(text="Семейный центр приглашает на день открытых дверей.")
        session.add(announcement)
        await session.flush()
        assert await announcements.start(session, announcement, None)
        return announcement.id
