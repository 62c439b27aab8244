"""The handoff card: everything the consultant needs so the family never repeats itself."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.consult.texts import CHANNEL_NAMES, PRIORITY_MARKS, SPECIALTY_NAMES
from bot.core import cases
from bot.storage.models import Case, Family

if TYPE_CHECKING:
    from bot.core.services import Services
    from bot.journeys.book import JourneyBook

TOPIC_NAME_MAX = 128  # Telegram's limit for a forum topic name


def specialty_name(specialty: str) -> str:
    return SPECIALTY_NAMES.get(specialty, specialty)


def topic_name(item: Case) -> str:
    # No status in the name: renaming on every step would spend the group's
    # message budget; a closed topic shows as closed anyway.
    mark = "🔴 " if item.priority == "urgent" else ""
    return f"{mark}№{item.id} · {specialty_name(item.specialty)}"[:TOPIC_NAME_MAX]


async def earlier_cases(session: AsyncSession, item: Case) -> tuple[int, Case | None]:
    query = select(Case).where(Case.family_id == item.family_id, Case.id != item.id)
    count = await session.scalar(select(func.count()).select_from(query.subquery()))
    last = await session.scalar(query.order_by(Case.created_at.desc()).limit(1))
    return int(count or 0), last


def topic_title(book: JourneyBook, topic: str) -> str:
    """A case's topic as staff read it: the title of the journey it came from."""
    return next((j.title for j in book.journeys.values() if j.topic == topic), topic)


async def handoff_card(
    session: AsyncSession, item: Case, family: Family | None, services: Services
) -> str:
    """Plain text (no markup: nothing the family wrote can format or break it)."""
    local = ZoneInfo(services.settings.timezone)
    language = services.translator.native_name(item.language)
    lines = [
        f"{PRIORITY_MARKS.get(item.priority, '')} Обращение №{item.id} · "
        f"{specialty_name(item.specialty)}".strip(),
        f"Тема: {topic_title(services.book, item.topic)} · "
        f"канал: {CHANNEL_NAMES.get(item.channel, item.channel)} · язык: {language}",
    ]
    if family is not None and family.consent_at is not None:
        lines.append(
            f"Согласие на обработку данных: есть, с {family.consent_at.astimezone(local):%d.%m.%Y}"
        )
    else:
        lines.append("Согласия нет: обращение открыто из-за угрозы жизни, данных о семье мало.")
    count, last = await earlier_cases(session, item)
    if count:
        when = last.created_at.astimezone(local).strftime("%d.%m.%Y") if last else ""
        lines.append(
            f"Прежние обращения: {count} (последнее {when}, "
            f"{specialty_name(last.specialty) if last else ''})"
        )
    else:
        lines.append("Прежних обращений нет.")
    lines.append(f"Открыто: {item.created_at.astimezone(local):%d.%m %H:%M}")
    details = cases.card(item)
    if details:
        lines.append("")
        lines.append("Что семья уже рассказала:")
        lines.extend(details)
    return "\n".join(lines)[:4000]
