"""Button payloads: short, parseable, and never trusted.

Telegram allows 64 bytes of callback data, so a payload names a button by
journey, node and position instead of carrying any state:

    pregnancy.start.2       the third button of node `start`
    directory.city.o.kaspiysk   a generated option with key `kaspiysk`
    nav.menu / nav.back / nav.here / nav.show
    kb.unified-benefit      open a knowledge entry
    go.person               enter a journey at its start (buttons the core adds)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
OPTION_KEY = re.compile(r"^[a-z0-9_-]{1,20}$")
_BUTTON = re.compile(r"^([a-z][a-z0-9_]{0,15})\.([a-z][a-z0-9_]{0,31})\.(\d{1,2})$")
_OPTION = re.compile(r"^([a-z][a-z0-9_]{0,15})\.([a-z][a-z0-9_]{0,31})\.o\.([a-z0-9_-]{1,20})$")
_KB = re.compile(r"^kb\.([a-z0-9-]{1,48})$")
_GO = re.compile(r"^go\.([a-z][a-z0-9_]{0,15})$")
NAV_ACTIONS = ("menu", "back", "here", "show")  # show: redraw only (a page reopened)


@dataclass(frozen=True, slots=True)
class ButtonRef:
    journey: str
    node: str
    index: int


@dataclass(frozen=True, slots=True)
class OptionRef:
    journey: str
    node: str
    key: str


@dataclass(frozen=True, slots=True)
class NavRef:
    action: str


@dataclass(frozen=True, slots=True)
class KnowledgeRef:
    entry_id: str


@dataclass(frozen=True, slots=True)
class GoRef:
    journey: str


Ref = ButtonRef | OptionRef | NavRef | KnowledgeRef | GoRef


def button(journey: str, node: str, index: int) -> str:
    return f"{journey}.{node}.{index}"


def option(journey: str, node: str, key: str) -> str:
    return f"{journey}.{node}.o.{key}"


def nav(action: str) -> str:
    return f"nav.{action}"


def knowledge(entry_id: str) -> str:
    return f"kb.{entry_id}"


def go(journey: str) -> str:
    return f"go.{journey}"


def parse(payload: str | None) -> Ref | None:
    """The reference a payload names, or None for anything malformed or oversized."""
    if not payload or len(payload.encode()) > MAX_BYTES:
        return None
    if payload.startswith("nav."):
        action = payload[4:]
        return NavRef(action) if action in NAV_ACTIONS else None
    if match := _KB.match(payload):
        return KnowledgeRef(match.group(1))
    if match := _GO.match(payload):
        return GoRef(match.group(1))
    if match := _OPTION.match(payload):
        return OptionRef(match.group(1), match.group(2), match.group(3))
    if match := _BUTTON.match(payload):
        return ButtonRef(match.group(1), match.group(2), int(match.group(3)))
    return None
