"""Where consultation messages go: the family's own chat, and the case's topic in
the staff group. Both through the outbox, in the caller's transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Case, CaseMessage, ChatMessage, Family, Identity, OutboxItem

if TYPE_CHECKING:
    from bot.core.services import Services

ButtonRows = list[list[tuple[str, str]]]  # (label, payload)


def say(services: Services, language: str, message: str, **values: Any) -> str:
    """A family-facing text in the family's language."""
    text = services.translator.gettext(language, message)
    return text.format(**values) if values else text


async def family_identity(session: AsyncSession, case: Case) -> Identity | None:
    """The chat to answer the family in: the messenger the case came from, if still
    reachable, else the one the family used last."""
    identities = (
        await session.scalars(
            select(Identity)
            .where(Identity.family_id == case.family_id, Identity.blocked_at.is_(None))
            .order_by(Identity.id.desc())
        )
    ).all()
    same = [i for i in identities if i.channel == case.channel]
    found = same or list(identities)
    return found[0] if found else None


def tell_family(
    services: Services,
    session: AsyncSession,
    case: Case,
    identity: Identity | None,
    text: str,
    buttons: ButtonRows | None = None,
    *,
    case_message_id: int | None = None,
    sender: str = "bot",
) -> None:
    """Queue a message to the family (formatted like the bot's own replies);
    `sender` "consultant" marks a person's words where the channel can show it."""
    if identity is None:
        return
    services.outbox.enqueue(
        session,
        channel=identity.channel,
        chat_id=identity.chat_id,
        kind="reply",
        payload={
            "text": text,
            "buttons": buttons or [],
            "identity_id": identity.id,
            "side": "family",
            "sender": sender,
        },
        case_id=case.id,
        case_message_id=case_message_id,
    )


def staff_chat(services: Services) -> str | None:
    group = services.settings.staff_group_id
    return str(group) if group else None


def to_topic(
    services: Services,
    session: AsyncSession,
    case: Case,
    text: str,
    buttons: ButtonRows | None = None,
    *,
    case_message_id: int | None = None,
) -> None:
    """Queue a message into the case's topic (nothing when no staff group is set)."""
    chat = staff_chat(services)
    if chat is None:
        return
    services.outbox.enqueue(
        session,
        channel="telegram",
        chat_id=chat,
        kind="text",
        payload={"text": text[:4096], "buttons": buttons or [], "thread": True, "side": "staff"},
        case_id=case.id,
        case_message_id=case_message_id,
    )


def to_group(services: Services, session: AsyncSession, text: str) -> None:
    """Queue a message into the staff group's general topic (alerts)."""
    chat = staff_chat(services)
    if chat is not None:
        services.outbox.enqueue(
            session, channel="telegram", chat_id=chat, kind="text", payload={"text": text}
        )


def to_person(services: Services, session: AsyncSession, telegram_user_id: str, text: str) -> None:
    """Queue a private Telegram message to a member of staff (alerts)."""
    services.outbox.enqueue(
        session, channel="telegram", chat_id=telegram_user_id, kind="text", payload={"text": text}
    )


async def family_of(session: AsyncSession, case: Case) -> Family | None:
    return await session.get(Family, case.family_id)


async def delivered(session: AsyncSession, item: OutboxItem, made: str | None) -> None:
    """After the platform accepted an item: remember what it made.

    A new topic's id goes to its case; a relayed message's id goes to its
    CaseMessage (so edits can follow it); a message in the family's chat is
    recorded for "safe exit" like every message the bot sends there.
    """
    payload = item.payload
    if item.kind == "topic" and made is not None and item.case_id is not None:
        await session.execute(
            update(Case).where(Case.id == item.case_id).values(thread_id=int(made))
        )
        return
    if made is None:
        return
    if item.case_message_id is not None:
        column = "family_message_id" if payload.get("side") == "family" else "staff_message_id"
        if payload.get("side") in ("family", "staff") and item.kind != "edit":
            await session.execute(
                update(CaseMessage)
                .where(CaseMessage.id == item.case_message_id)
                .values({column: made})
            )
    identity_id = payload.get("identity_id")
    if isinstance(identity_id, int) and item.kind != "edit":
        exists = await session.get(Identity, identity_id)
        if exists is not None:
            session.add(
                ChatMessage(
                    identity_id=identity_id,
                    message_id=made,
                    outgoing=True,
                    sent_at=datetime.now(UTC),
                )
            )
