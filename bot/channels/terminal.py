"""`family-window chat`: the core in a terminal, for staff and for scripts.

Typing a button's label (or its number) presses it. With `--json` every reply
is one JSON line `{"text", "buttons", "node", "urgent"}` so journeys can be
scripted and tested.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from bot.channels.markup import to_plain
from bot.core.frontdoor import FrontDoor
from bot.core.textnorm import normalize
from bot.core.types import Button, Channel, EffectKind, Incoming, Outcome


class TerminalChat:
    def __init__(
        self,
        frontdoor: FrontDoor,
        *,
        user: str = "local",
        language: str | None = None,
        as_json: bool = False,
        out: TextIO = sys.stdout,
    ) -> None:
        self.frontdoor = frontdoor
        self.user = user
        self.language = language
        self.as_json = as_json
        self.out = out
        self.buttons: list[Button] = []  # the last reply's buttons, in order

    def _incoming(self, *, text: str | None = None, payload: str | None = None) -> Incoming:
        return Incoming(
            channel=Channel.CLI,
            user_id=self.user,
            chat_id=self.user,
            text=text,
            payload=payload,
            language_hint=self.language,
        )

    def to_incoming(self, line: str) -> Incoming:
        """A typed line: a button's number or label presses it; anything else is text."""
        stripped = line.strip()
        key = normalize(stripped)
        for button in self.buttons:  # a label first: "1" may be a button called "1"
            if button.payload and key and normalize(button.label) == key:
                return self._incoming(payload=button.payload)
        if stripped.isdigit() and 1 <= int(stripped) <= len(self.buttons):
            button = self.buttons[int(stripped) - 1]
            if button.payload:
                return self._incoming(payload=button.payload)
        return self._incoming(text=line)

    async def send(self, line: str) -> Outcome:
        outcome = await self.frontdoor.handle(self.to_incoming(line))
        self.show(outcome)
        return outcome

    def show(self, outcome: Outcome) -> None:
        if outcome.replies:
            self.buttons = [b for reply in outcome.replies for row in reply.buttons for b in row]
        for effect in outcome.effects:
            if effect.kind is EffectKind.SAFE_EXIT and not self.as_json:
                self.out.write("\033[2J\033[H")  # clear the screen
        number = 0
        for reply in outcome.replies:
            if self.as_json:
                line = {
                    "text": reply.text,
                    "buttons": [
                        [{"label": b.label, "payload": b.payload or b.url} for b in row]
                        for row in reply.buttons
                    ],
                    "node": reply.node,
                    "urgent": reply.urgent,
                }
                self.out.write(json.dumps(line, ensure_ascii=False) + "\n")
                continue
            mark = "‼️ " if reply.urgent else ""
            lines = [f"\n{mark}{to_plain(reply.text)}"]
            for row in reply.buttons:
                cells = []
                for button in row:
                    number += 1
                    target = f" → {button.url}" if button.url else ""
                    cells.append(f"[{number}] {button.label}{target}")
                lines.append("   ".join(cells))
            self.out.write("\n".join(lines) + "\n")
        self.out.flush()
