"""A family talking to the core directly: type text, press buttons by their label."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.frontdoor import FrontDoor
from bot.core.textnorm import normalize
from bot.core.types import Attachment, Button, Channel, Incoming, Outcome, Reply


@dataclass
class TestFamily:
    __test__ = False  # not a test class, despite the name

    frontdoor: FrontDoor
    user: str = "family-1"
    channel: Channel = Channel.CLI
    language: str | None = "ru"
    last: Outcome = field(default_factory=Outcome)
    message_id: int = 0

    def _incoming(self, **values: object) -> Incoming:
        base: dict[str, object] = {
            "channel": self.channel,
            "user_id": self.user,
            "chat_id": self.user,
            "language_hint": self.language,
        }
        base.update(values)
        return Incoming(**base)  # type: ignore[arg-type]

    async def send(self, text: str, *, edited: bool = False) -> Outcome:
        self.message_id += 1
        incoming = self._incoming(text=text, message_id=str(self.message_id), edited=edited)
        return await self._turn(incoming)

    async def attach(self, kind: Attachment) -> Outcome:
        self.message_id += 1
        return await self._turn(self._incoming(attachment=kind, message_id=str(self.message_id)))

    async def payload(self, data: str) -> Outcome:
        return await self._turn(self._incoming(payload=data))

    async def press(self, label: str) -> Outcome:
        """Press a button of the latest replies by (a part of) its label."""
        button = self.button(label)
        assert button.payload, f"'{label}' is a link, not a button"
        return await self.payload(button.payload)

    async def walk(self, *steps: str) -> Outcome:
        """Several steps in a row: "/commands" and "> typed text" are sent, the rest pressed."""
        outcome = self.last
        for step in steps:
            if step.startswith("/"):
                outcome = await self.send(step)
            elif step.startswith("> "):
                outcome = await self.send(step[2:])
            else:
                outcome = await self.press(step)
        return outcome

    async def open_finder(self) -> Outcome:
        """From the start to the finder's first question, consent given."""
        return await self.walk("/start", "Подобрать меры поддержки", "Даю согласие", "Начать")

    async def ask_for(self, specialist: str) -> Outcome:
        """From the start to "describe your situation" for a specialist, consent given."""
        return await self.walk("/start", "Поговорить с человеком", "Даю согласие", specialist)

    async def _turn(self, incoming: Incoming) -> Outcome:
        outcome = await self.frontdoor.handle(incoming)
        if outcome.replies:
            self.last = outcome
        return outcome

    # -- reading what the bot said ----------------------------------------------
    @property
    def replies(self) -> list[Reply]:
        return self.last.replies

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.last.replies)

    @property
    def node(self) -> str:
        return self.last.replies[-1].node if self.last.replies else ""

    @property
    def buttons(self) -> list[Button]:
        return [b for reply in self.last.replies for row in reply.buttons for b in row]

    @property
    def labels(self) -> list[str]:
        return [b.label for b in self.buttons]

    def button(self, label: str) -> Button:
        wanted = normalize(label)
        exact = [b for b in self.buttons if normalize(b.label) == wanted]
        partial = [b for b in self.buttons if wanted and wanted in normalize(b.label)]
        found = exact or partial
        assert found, f"no button '{label}' among {self.labels} (node {self.node})"
        return found[0]
