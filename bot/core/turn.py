"""One turn of a conversation: what came in, who it is, and what goes out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.core import texts
from bot.core.types import Button, Effect, Incoming, Reply

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.core.services import Services
    from bot.storage.models import Conversation, Family, Identity

CONSENT_VERSION = "2026-11"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
MAX_STACK = 20


@dataclass
class Turn:
    """Everything a journey step or an action may read or change."""

    incoming: Incoming
    services: Services
    session: AsyncSession
    family: Family
    identity: Identity
    conversation: Conversation
    language: str
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    forgotten: bool = False
    noted: bool = False  # a gentle note (elevated risk) was already shown this turn

    # -- language ---------------------------------------------------------
    def t(self, message: str, **values: Any) -> str:
        """Translate a message id into the family's language and fill `{placeholders}`."""
        text = self.services.translator.gettext(self.language, message)
        return self.fill(text, values) if values else text

    @staticmethod
    def fill(text: str, values: dict[str, Any]) -> str:
        """Replace `{name}` with values; unknown names stay as they are."""

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            return str(values[name]) if name in values else match.group(0)

        return _PLACEHOLDER.sub(sub, text)

    def show(self, value: Any) -> str:
        """A variable's value as the family reads it."""
        if value is True:
            return self.t(texts.YES)
        if value is False:
            return self.t(texts.NO)
        if value is None or value == "":
            return self.t(texts.NOT_ANSWERED)
        return str(value)

    # -- state -------------------------------------------------------------
    @property
    def consented(self) -> bool:
        return self.family.consent_at is not None

    def give_consent(self) -> None:
        self.family.consent_at = datetime.now(UTC)
        self.family.consent_version = CONSENT_VERSION

    @property
    def vars(self) -> dict[str, Any]:
        return self.conversation.vars

    def set_var(self, name: str, value: Any) -> None:
        # Reassign so SQLAlchemy sees the JSON column change.
        self.conversation.vars = {**self.conversation.vars, name: value}

    def drop_vars(self, *names: str) -> None:
        self.conversation.vars = {k: v for k, v in self.conversation.vars.items() if k not in names}

    def namespace(self) -> dict[str, Any]:
        """Variables visible to conditions: the family's answers plus system flags."""
        return {
            **self.conversation.vars,
            "_consent": self.consented,
            "_resume": self.conversation.resume is not None,
            "_channel": self.incoming.channel.value,
        }

    @property
    def position(self) -> str:
        return f"{self.conversation.journey}:{self.conversation.node}"

    def push(self, position: str) -> None:
        stack = [p for p in self.conversation.stack if p != position][-(MAX_STACK - 1) :]
        self.conversation.stack = [*stack, position]

    # -- output ------------------------------------------------------------
    def say(
        self,
        text: str,
        buttons: Sequence[Sequence[Button]] = (),
        *,
        node: str | None = None,
        urgent: bool = False,
    ) -> None:
        self.replies.append(
            Reply(
                text=text,
                buttons=tuple(tuple(row) for row in buttons if row),
                node=node or self.position,
                urgent=urgent,
            )
        )

    def event(self, kind: str, topic: str = "") -> None:
        self.events.append((kind, self.conversation.journey, topic))
