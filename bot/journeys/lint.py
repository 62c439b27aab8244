"""`family-window dialogs check`: find what would strand or confuse a family.

Dead ends, unreachable nodes, unknown targets/actions/variables, missing
translations, and buttons that break platform limits (Telegram callback data
≤ 64 bytes, VK button label ≤ 40 characters, VK keyboards ≤ 10 rows of ≤ 5).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from bot.actions.registry import Registry
from bot.core.i18n import SOURCE_LANGUAGE, Translator
from bot.journeys import payload
from bot.journeys.book import JourneyBook
from bot.journeys.conditions import variables
from bot.journeys.engine import CONSENT, MENU
from bot.journeys.model import JourneySpec, NodeSpec

VK_LABEL_MAX = 40
VK_ROWS_MAX = 10
VK_ROW_WIDTH_MAX = 5
TEXT_MAX = 4096
RESERVED_JOURNEYS = {"nav", "kb", "go", "error"}
SYSTEM_VARS = {"_consent", "_resume", "_channel"}
SYSTEM_PLACEHOLDERS = {"consultant_hours"}  # filled by the engine from settings
# Nodes the core enters by itself (see bot.core.frontdoor).
SYSTEM_ENTRIES = (
    "menu:welcome",
    "menu:no_words",
    "crisis:general",
    "crisis:suicide",
    "crisis:violence",
    "crisis:child",
    "crisis:pregnancy",
    "crisis:medical",
    "crisis:elevated_distress",
    "crisis:elevated_violence",
    "crisis:elevated_pregnancy",
    "crisis:elevated_hardship",
    "person:start",
)
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_OPTION_KEY_MAX = 20


@dataclass(frozen=True, slots=True)
class Problem:
    journey: str
    node: str
    message: str

    def __str__(self) -> str:
        where = f"{self.journey}:{self.node}" if self.node else self.journey
        return f"{where}: {self.message}"


def _targets(node: NodeSpec) -> Iterator[str]:
    for button in node.flat_buttons():
        if button.goto:
            yield button.goto
    if node.input and node.input.goto:
        yield node.input.goto
    if node.options and node.options.goto:
        yield node.options.goto
    for case in node.switch or ():
        yield case.goto
    if node.goto:
        yield node.goto


def _actions(node: NodeSpec) -> Iterator[str]:
    if node.do:
        yield node.do
    for button in node.flat_buttons():
        if button.do:
            yield button.do
    if node.input and node.input.do:
        yield node.input.do
    if node.options and node.options.do:
        yield node.options.do


def _entry_args(node: NodeSpec) -> Iterator[dict[str, object]]:
    """Arguments of every `show_entry` call (they name knowledge entries)."""
    if node.do == "show_entry":
        yield node.args
    for button in node.flat_buttons():
        if button.do == "show_entry":
            yield button.args


def _reads(node: NodeSpec) -> Iterator[str]:
    for button in node.flat_buttons():
        if button.when:
            yield from variables(button.when)
    for case in node.switch or ():
        if case.when:
            yield from variables(case.when)


def _writes(node: NodeSpec) -> Iterator[str]:
    for button in node.flat_buttons():
        yield from button.set
    if node.input:
        yield node.input.var
    if node.options:
        yield node.options.var


class Linter:
    def __init__(
        self,
        book: JourneyBook,
        translator: Translator,
        registry: Registry,
        entries: set[str] | None = None,
    ) -> None:
        self.book = book
        self.entries = entries
        self.translator = translator
        self.registry = registry
        self.declared = {name for j in book.journeys.values() for name in j.vars} | SYSTEM_VARS

    def check(self) -> list[Problem]:
        problems: list[Problem] = []
        for journey in self.book.journeys.values():
            problems.extend(self._journey(journey))
        problems.extend(self._reachability())
        problems.extend(self._translations())
        return problems

    # -- per journey ----------------------------------------------------------
    def _journey(self, journey: JourneySpec) -> Iterator[Problem]:
        jid = journey.id
        if jid in RESERVED_JOURNEYS:
            yield Problem(jid, "", f"journey id '{jid}' is reserved for the core")
        if journey.start not in journey.nodes:
            yield Problem(jid, "", f"start node '{journey.start}' does not exist")
        for i, intent in enumerate(journey.intents):
            if self.book.resolve(jid, intent.goto) is None:
                yield Problem(jid, f"intents[{i}]", f"goes to unknown target '{intent.goto}'")
            for var in sorted(set(intent.set) - self.declared):
                yield Problem(jid, f"intents[{i}]", f"stores undeclared variable '{var}'")
        for name, node in journey.nodes.items():
            yield from self._node(journey, name, node)

    def _node(self, journey: JourneySpec, name: str, node: NodeSpec) -> Iterator[Problem]:
        jid = journey.id
        for target in _targets(node):
            if self.book.resolve(jid, target) is None:
                yield Problem(jid, name, f"goes to unknown target '{target}'")
        for action in _actions(node):
            if action not in self.registry.actions:
                yield Problem(jid, name, f"calls unknown action '{action}'")
        if self.entries is not None:
            for args in _entry_args(node):
                if str(args.get("id")) not in self.entries:
                    yield Problem(jid, name, f"shows unknown knowledge entry '{args.get('id')}'")
        if node.options and node.options.source not in self.registry.options:
            yield Problem(jid, name, f"options come from unknown provider '{node.options.source}'")
        for var in sorted(set(_reads(node)) - self.declared):
            yield Problem(jid, name, f"condition reads undeclared variable '{var}'")
        for var in sorted(set(_writes(node)) - self.declared):
            yield Problem(jid, name, f"stores undeclared variable '{var}' (declare it under vars:)")
        waits = bool(node.flat_buttons() or node.input or node.options)
        moves = bool(node.goto or node.switch)
        if node.switch and not any(case.when is None for case in node.switch):
            yield Problem(jid, name, "switch has no default case (one without 'if'): may strand")
        if moves and (node.flat_buttons() or node.input or node.options):
            yield Problem(jid, name, "has both an automatic goto/switch and buttons or input")
        if not waits and not moves and not node.final and not node.do:
            yield Problem(
                jid, name, "dead end: no buttons, input or goto (mark final: true if meant)"
            )
        if waits and not node.text and not node.do:
            yield Problem(jid, name, "asks for a choice or an answer but has no text")
        yield from self._limits(journey, name, node)

    def _limits(self, journey: JourneySpec, name: str, node: NodeSpec) -> Iterator[Problem]:
        jid = journey.id
        rows = node.rows()
        nav_row = 1 if node.nav and (jid, name) != MENU else 0
        if len(rows) + nav_row > VK_ROWS_MAX:
            yield Problem(jid, name, f"{len(rows) + nav_row} button rows: VK allows {VK_ROWS_MAX}")
        for i, row in enumerate(rows):
            if len(row) > VK_ROW_WIDTH_MAX:
                yield Problem(jid, name, f"row {i + 1} has {len(row)} buttons: VK allows 5")
        for index, button in enumerate(node.flat_buttons()):
            data = payload.button(jid, name, index)
            if len(data.encode()) > payload.MAX_BYTES:
                yield Problem(jid, name, f"button payload '{data}' exceeds Telegram's 64 bytes")
            for language in self.translator.languages:
                label = self.translator.gettext(language, button.label)
                if len(label) > VK_LABEL_MAX:
                    yield Problem(
                        jid,
                        name,
                        f"[{language}] label '{label}' is {len(label)} characters: "
                        f"VK allows {VK_LABEL_MAX}",
                    )
        if node.options:
            longest = payload.option(jid, name, "x" * _OPTION_KEY_MAX)
            if len(longest.encode()) > payload.MAX_BYTES:
                yield Problem(jid, name, f"option payloads may exceed 64 bytes ('{longest}')")
        if node.text:
            for language in self.translator.languages:
                text = self.translator.gettext(language, node.text)
                if len(text) > TEXT_MAX:
                    yield Problem(
                        jid, name, f"[{language}] text is {len(text)} characters (limit {TEXT_MAX})"
                    )

    # -- across journeys ------------------------------------------------------
    def _reachability(self) -> Iterator[Problem]:
        starts = [f"{MENU[0]}:{MENU[1]}", f"{CONSENT[0]}:{CONSENT[1]}", *SYSTEM_ENTRIES]
        seen: set[tuple[str, str]] = set()
        queue: deque[tuple[str, str]] = deque()
        for journey in self.book.journeys.values():  # typed requests lead somewhere too
            for intent in journey.intents:
                resolved = self.book.resolve(journey.id, intent.goto)
                if resolved:
                    queue.append(resolved)
        for start in starts:
            jid, _, first = start.partition(":")
            if self.book.node(jid, first) is None:
                yield Problem(jid, first, "the core enters this node, but it does not exist")
                continue
            queue.append((jid, first))
        while queue:
            jid, name = queue.popleft()
            if (jid, name) in seen:
                continue
            seen.add((jid, name))
            spec = self.book.node(jid, name)
            if spec is None:
                continue
            for target in _targets(spec):
                resolved = self.book.resolve(jid, target)
                if resolved and resolved not in seen:
                    queue.append(resolved)
        for journey in self.book.journeys.values():
            for name in journey.nodes:
                if (journey.id, name) not in seen:
                    yield Problem(journey.id, name, "unreachable: nothing leads here")

    def _translations(self) -> Iterator[Problem]:
        for text in self.book.texts():
            unknown = set(_PLACEHOLDER.findall(text.text)) - self.declared - SYSTEM_PLACEHOLDERS
            if unknown:
                yield Problem(
                    text.journey, text.where, f"uses undeclared variables {sorted(unknown)}"
                )
        for language in self.translator.languages:
            if language == SOURCE_LANGUAGE:
                continue
            for text in self.book.texts():
                if not self.translator.has(language, text.text):
                    short = text.text if len(text.text) <= 50 else text.text[:47] + "..."
                    yield Problem(
                        text.journey, text.where, f"[{language}] missing translation of '{short}'"
                    )
                    continue
                wanted = set(_PLACEHOLDER.findall(text.text))
                got = set(_PLACEHOLDER.findall(self.translator.gettext(language, text.text)))
                if wanted != got:
                    yield Problem(
                        text.journey,
                        text.where,
                        f"[{language}] placeholders {sorted(got)} differ from the source "
                        f"{sorted(wanted)}",
                    )


def lint(
    book: JourneyBook,
    translator: Translator,
    registry: Registry,
    entries: set[str] | None = None,
) -> list[Problem]:
    return Linter(book, translator, registry, entries).check()
