"""Core replies as VK messages: plain text, keyboards the family's client can show.

Keyboards. A modern client gets *inline* keyboards of `callback` buttons (a
press arrives as `message_event`, like Telegram's callback queries). VK shows
at most 6 rows and 10 buttons on one inline keyboard, fewer than a journey
node may have (up to 10 rows, checked by `dialogs check`); such a reply is
*split*: the text carries the first rows, and the rest follow in one or more
short "…" messages, each with its own inline keyboard. We do not fall back to
the persistent keyboard there: it would stay on screen under every later
message, mixing stale buttons with the inline ones of the next reply.

A client without inline keyboards or callback buttons (old apps, some desktop
clients) gets a persistent keyboard (`one_time: false`, up to 10 rows) of
`text` buttons carrying the same payload: a press arrives as a `message_new`
with the payload. Link buttons need `open_link`; a client without it gets the
link written under the text. Every button's payload is `{"p": "<core payload>"}`.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.channels.markup import split, to_plain
from bot.core.types import Button, Reply

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
LABEL_LIMIT = 40
PAYLOAD_LIMIT = 255  # bytes of the button's payload JSON
ROW_WIDTH = 5
INLINE_ROWS, INLINE_BUTTONS = 6, 10
KEYBOARD_ROWS = 10
CONTINUED = "…"  # the text of a message that only carries more buttons
CLIENTS_REMEMBERED = 10_000


DEFAULT_ACTIONS = frozenset({"text", "callback", "open_link"})


@dataclass(frozen=True, slots=True)
class Client:
    """What a family's VK app can show (from the `client_info` of its last message)."""

    keyboard: bool = True
    inline: bool = True
    actions: frozenset[str] = DEFAULT_ACTIONS

    @property
    def callback(self) -> bool:
        return self.inline and "callback" in self.actions

    @property
    def links(self) -> bool:
        return "open_link" in self.actions

    @classmethod
    def from_vk(cls, info: object) -> Client:
        if not isinstance(info, Mapping):
            return cls()
        actions = info.get("button_actions")
        return cls(
            keyboard=bool(info.get("keyboard", True)),
            inline=bool(info.get("inline_keyboard", True)),
            actions=frozenset(str(a) for a in actions)
            if isinstance(actions, list)
            else DEFAULT_ACTIONS,
        )

    def without_callback(self) -> Client:
        return Client(self.keyboard, self.inline, self.actions - {"callback"})

    def without_keyboard(self) -> Client:
        """VK refuses this chat's keyboards (the community's bot features are off)."""
        return Client(False, self.inline, self.actions)


MODERN = Client()


class Clients:
    """The last seen client of each chat, in memory (the courier reads it).

    A chat not seen since the start gets the modern default; if VK refuses its
    keyboard, the courier falls back to text buttons and notes it here.
    """

    def __init__(self, limit: int = CLIENTS_REMEMBERED) -> None:
        self.limit = limit
        self._seen: OrderedDict[str, Client] = OrderedDict()

    def seen(self, chat_id: str, client: Client) -> None:
        self._seen[chat_id] = client
        self._seen.move_to_end(chat_id)
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)

    def get(self, chat_id: str) -> Client:
        return self._seen.get(chat_id, MODERN)


@dataclass(frozen=True, slots=True)
class VkMessage:
    text: str
    keyboard: str | None = None  # JSON, as messages.send takes it
    photo: bytes | None = None  # uploaded and attached; `text` is then its message


def label(text: str) -> str:
    text = text.strip() or "…"
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1].rstrip() + "…"


def button_payload(data: str) -> str | None:
    """`{"p": data}`, or None when VK would refuse it (over 255 bytes)."""
    encoded = json.dumps({"p": data}, ensure_ascii=False, separators=(",", ":"))
    return encoded if len(encoded.encode()) <= PAYLOAD_LIMIT else None


def _vk_button(button: Button, client: Client) -> dict[str, Any] | None:
    if button.url:
        if not client.links:
            return None
        return {"action": {"type": "open_link", "link": button.url, "label": label(button.label)}}
    if not button.payload:
        return None
    payload = button_payload(button.payload)
    if payload is None:
        log.warning("a button's payload is too long for VK; the button is left out")
        return None
    kind = "callback" if client.callback else "text"
    return {
        "action": {"type": kind, "label": label(button.label), "payload": payload},
        "color": "secondary",
    }


def _rows(buttons: Iterable[Iterable[Button]], client: Client) -> list[list[dict[str, Any]]]:
    rows: list[list[dict[str, Any]]] = []
    for row in buttons:
        made = [b for b in (_vk_button(button, client) for button in row) if b is not None]
        rows.extend(made[i : i + ROW_WIDTH] for i in range(0, len(made), ROW_WIDTH))
    return rows


def _inline_chunks(rows: list[list[dict[str, Any]]]) -> list[list[list[dict[str, Any]]]]:
    """Consecutive groups of rows, each within VK's inline limits."""
    chunks: list[list[list[dict[str, Any]]]] = []
    current: list[list[dict[str, Any]]] = []
    count = 0
    for row in rows:
        if current and (len(current) == INLINE_ROWS or count + len(row) > INLINE_BUTTONS):
            chunks.append(current)
            current, count = [], 0
        current.append(row)
        count += len(row)
    if current:
        chunks.append(current)
    return chunks


def keyboards(buttons: Iterable[Iterable[Button]], client: Client) -> list[str]:
    """The reply's buttons as one or more keyboards (JSON), in order."""
    if not client.keyboard:
        return []
    rows = _rows(buttons, client)
    if not rows:
        return []
    if client.callback:
        return [
            json.dumps({"inline": True, "buttons": chunk}, ensure_ascii=False)
            for chunk in _inline_chunks(rows)
        ]
    if len(rows) > KEYBOARD_ROWS:
        log.warning("%d button rows: VK shows %d; the rest are left out", len(rows), KEYBOARD_ROWS)
        rows = rows[:KEYBOARD_ROWS]
    return [json.dumps({"one_time": False, "buttons": rows}, ensure_ascii=False)]


def _links(buttons: Iterable[Iterable[Button]], client: Client) -> str:
    """Link buttons the client cannot show, written out."""
    if client.keyboard and client.links:
        return ""
    lines = [f"{b.label}: {b.url}" for row in buttons for b in row if b.url]
    return "\n\n" + "\n".join(lines) if lines else ""


def render(reply: Reply, client: Client = MODERN) -> list[VkMessage]:
    """One reply as VK messages; the (first) keyboard goes on the last text part.

    A reply with an image is a photo whose message is the text when it fits;
    otherwise the photo goes first and the text follows it.
    """
    text = to_plain(reply.text).strip() + _links(reply.buttons, client)
    boards = keyboards(reply.buttons, client)
    first = boards[0] if boards else None
    more = [VkMessage(CONTINUED, board) for board in boards[1:]]
    if reply.image is not None:
        if len(text) <= TEXT_LIMIT:
            return [VkMessage(text, first, photo=reply.image), *more]
        return [VkMessage("", None, photo=reply.image), *_texts(text, first), *more]
    return [*_texts(text or CONTINUED, first), *more]


def _texts(text: str, keyboard: str | None) -> list[VkMessage]:
    chunks = split(text, TEXT_LIMIT)
    return [
        VkMessage(chunk, keyboard if i == len(chunks) - 1 else None)
        for i, chunk in enumerate(chunks)
    ]
