"""Where consultation messages go: the family's own chat, and the case's topic in
the staff group. Both through the outbox, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.notify import preferred_identity
from bot.storage.models import Case, CaseMessage, Family, Identity, OutboxItem

if TYPE_CHECKING:
    from bot.core.services import Services

ButtonRows = list[list[tuple[str, str]]]  # (label, payload)


def say(services: Services, language: str, message: str, **values: Any) -> str:
    """A family-facing text in the family's language."""
    text = services.translator.gettext(language, message)
    return text.format(**values) if values else text


async def family_identity(session: AsyncSession, case: Case) -> Identity | None:
    """The chat to answer the family in: the messenger the family last wrote from
    (a family linked in Telegram and VK is answered where it is now), among those
    that still take messages."""
    return await preferred_identity(session, case.family_id)


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


def topic_op(
    services: Services, session: AsyncSession, case: Case, kind: str, **payload: object
) -> None:
    """Queue a change to the case's topic: create ("topic"), rename, close, reopen."""
    chat = staff_chat(services)
    if chat is not None:
        if kind != "topic":  # every other change is to the topic made before it
            payload = {**payload, "thread": True}
        services.outbox.enqueue(
            session, channel="telegram", chat_id=chat, kind=kind, payload=payload, case_id=case.id
        )


@dataclass(frozen=True, slots=True)
class FamilyChat:
    """Whom a consultation message goes to, and in which language."""

    family: Family | None
    identity: Identity | None
    language: str

    @property
    def quiet(self) -> bool:
        """After "safe exit" nothing is written first."""
        return self.family is None or self.family.quiet_at is not None


async def family_chat(session: AsyncSession, case: Case) -> FamilyChat:
    family = await session.get(Family, case.family_id)
    identity = await family_identity(session, case)
    return FamilyChat(family, identity, family.language if family else case.language)


# Which id a delivered relay message gives its CaseMessage: the copy's place on that side.
SIDE_COLUMNS = {"family": "family_message_id", "staff": "staff_message_id"}


async def on_its_way(session: AsyncSession, case_message_id: int) -> bool:
    """The message's copy is still in the outbox (not yet delivered)."""
    waiting = await session.scalar(
        select(OutboxItem.id)
        .where(
            OutboxItem.case_message_id == case_message_id,
            OutboxItem.kind != "edit",
            OutboxItem.failed_at.is_(None),
        )
        .limit(1)
    )
    return waiting is not None


async def resolve_edits(session: AsyncSession, items: list[OutboxItem]) -> None:
    """An edit queued while its message was on its way takes the message's id now
    (the message went first in the same chat, and its id was recorded then)."""
    for item in items:
        ref = SIDE_COLUMNS.get(str(item.payload.get("ref")))
        if item.kind != "edit" or item.payload.get("message_id") or ref is None:
            continue
        message = None
        if item.case_message_id is not None:
            message = await session.get(CaseMessage, item.case_message_id)
        made = getattr(message, ref) if message is not None else None
        if made:
            item.payload = {**item.payload, "message_id": made}


async def delivered(session: AsyncSession, items: list[tuple[OutboxItem, str | None]]) -> None:
    """After the platform accepted items: remember what they made.

    A new topic's id goes to its case; a relayed message's id goes to its
    CaseMessage (so edits can follow it). (The outbox itself records every
    message in a family's chat for "safe exit".) Edits and topic changes make
    nothing new (`made` is None).
    """
    for item, made in items:
        if made is None:
            continue
        if item.kind == "topic":
            if item.case_id is not None:
                await session.execute(
                    update(Case).where(Case.id == item.case_id).values(thread_id=int(made))
                )
            continue
        column = SIDE_COLUMNS.get(str(item.payload.get("side")))
        if item.case_message_id is not None and column is not None:
            await session.execute(
                update(CaseMessage)
                .where(CaseMessage.id == item.case_message_id)
                .values({column: made})
            )
