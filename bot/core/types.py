"""The boundary between channel adapters and the core.

Adapters turn a platform update into an `Incoming` and an `Outcome` back into
platform calls. Nothing here knows about Telegram, VK or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    TELEGRAM = "telegram"
    VK = "vk"
    WEB = "web"
    CLI = "cli"


class Attachment(StrEnum):
    """Kinds of non-text content a family can send; the core answers each kindly."""

    PHOTO = "photo"
    STICKER = "sticker"
    VOICE = "voice"
    VIDEO = "video"
    DOCUMENT = "document"
    LOCATION = "location"
    CONTACT = "contact"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One thing a family did: a text, a button press, an attachment, an edit."""

    channel: Channel
    user_id: str
    chat_id: str
    text: str | None = None
    payload: str | None = None
    attachment: Attachment | None = None
    language_hint: str | None = None
    message_id: str | None = None
    edited: bool = False


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    payload: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to the family, already translated."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    node: str = ""
    urgent: bool = False
    image: bytes | None = None


class EffectKind(StrEnum):
    SAFE_EXIT = "safe_exit"  # delete recent messages in this chat / leave the page
    LANGUAGE = "language"  # the family switched language
    FORGET = "forget"  # data deleted; clients drop local state


@dataclass(frozen=True, slots=True)
class Effect:
    kind: EffectKind
    value: str = ""
    message_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    language: str = "ru"

    @property
    def urgent(self) -> bool:
        return any(r.urgent for r in self.replies)
