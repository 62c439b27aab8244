"""Walks a family through the journeys: enter nodes, press buttons, take answers.

The engine reads the `JourneyBook`, keeps the position in the `Conversation`
row of the turn and renders replies; it never talks to a messenger or to the
database directly (actions do the latter through the turn's session).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.actions.registry import ActionResult, Option, Registry
from bot.core import texts
from bot.core.textnorm import normalize
from bot.core.turn import Turn
from bot.core.types import Button
from bot.journeys import numbers, payload
from bot.journeys.book import JourneyBook
from bot.journeys.conditions import evaluate
from bot.journeys.intents import NEGATIONS, REQUEST_WORDS, Intents
from bot.journeys.model import ButtonSpec, InputSpec, NodeSpec, OptionsSpec

log = logging.getLogger(__name__)

MENU = ("menu", "start")
CONSENT = ("menu", "consent")
MAX_HOPS = 12
MAX_TEXT_ANSWER = 4000  # as long as a messenger message

_PHONE = re.compile(r"^\+?[\d\s\-()]{10,20}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,24}$")
_TG_NAME = re.compile(r"^@[A-Za-z0-9_]{5,32}$")


def menu_button(turn: Turn) -> Button:
    """The way home, on every screen that is not the menu."""
    return Button(turn.t(texts.MENU), payload.nav("menu"))


class InputError(ValueError):
    """An answer that does not fit the question: a message id and its values."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.message = message
        self.values = values


class Engine:
    def __init__(self, book: JourneyBook, registry: Registry) -> None:
        self.book = book
        self.registry = registry
        self.intents = Intents(book)

    # -- entering nodes -----------------------------------------------------
    async def enter(self, turn: Turn, journey: str, node: str, *, hops: int = 0) -> None:
        """Move to a node and render it, following automatic transitions."""
        spec = self.book.node(journey, node)
        if spec is None or hops > MAX_HOPS:
            log.error("journey target %s:%s missing or looping; back to menu", journey, node)
            journey, node = MENU
            spec = self.book.node(*MENU)
            assert spec is not None
        if spec.consent and not turn.consented and (journey, node) != CONSENT:
            await self.gate(turn, f"{journey}:{node}", hops=hops)
            return
        previous = turn.conversation.journey
        turn.conversation.journey, turn.conversation.node = journey, node
        if journey != previous and node == self.book.journeys[journey].start:
            turn.event("journey", journey)

        messages: list[str] = []
        if spec.text:
            messages.append(turn.t(spec.text, **self._values(turn)))
        extra: list[list[Button]] = []
        target: str | None = None
        if spec.do:
            result = await self.run_action(turn, spec.do, spec.args)
            if result.stop:
                return
            messages.extend(result.texts)
            extra = result.buttons
            target = result.goto
        if target is None and spec.switch:
            values = turn.namespace()
            target = next((c.goto for c in spec.switch if evaluate(c.when, values)), None)
        if target is None:
            target = spec.goto
        if target is not None:
            for message in messages:
                turn.say(message, urgent=spec.urgent)
            await self.go(turn, journey, target, hops=hops + 1)
            return
        self._render(turn, journey, node, spec, messages, extra)
        turn.push(turn.position)

    async def go(self, turn: Turn, journey: str, target: str, *, hops: int = 0) -> None:
        resolved = self.book.resolve(journey, target)
        if resolved is None:
            log.error("unknown journey target %r from %s", target, journey)
            resolved = MENU
        await self.enter(turn, *resolved, hops=hops)

    async def gate(self, turn: Turn, target: str, *, hops: int = 0) -> None:
        """Ask for consent first; continue to `target` once it is given."""
        turn.conversation.resume = target
        await self.enter(turn, *CONSENT, hops=hops + 1)

    async def menu(self, turn: Turn) -> None:
        turn.conversation.stack = []
        turn.conversation.resume = None  # a fresh start: no stale "return to" point
        await self.enter(turn, *MENU)

    async def rerender(self, turn: Turn, *, with_text: bool = True, prefix: str = "") -> None:
        """Show the current node again (after an error, an answer, a stale button).

        `prefix` (already translated) opens the same message, so a remark and
        the question it refers to arrive together.
        """
        journey, node = turn.conversation.journey, turn.conversation.node
        spec = self.book.node(journey, node)
        if spec is None:
            await self.menu(turn)
            return
        messages = [turn.t(spec.text, **self._values(turn))] if (with_text and spec.text) else []
        if prefix:
            messages = [f"{prefix}\n\n{messages[0]}" if messages else prefix, *messages[1:]]
        self._render(turn, journey, node, spec, messages, [])

    def note(self, turn: Turn, journey: str, node: str) -> None:
        """Show a node's text and buttons without moving the family there."""
        spec = self.book.node(journey, node)
        if spec is None or not spec.text:
            log.error("note node %s:%s missing", journey, node)
            return
        rows = self.buttons(turn, journey, node, spec)
        turn.say(turn.t(spec.text, **self._values(turn)), rows, node=f"{journey}:{node}")

    def current_rows(self, turn: Turn) -> list[list[Button]]:
        """The buttons of where the family is now, to attach to a side remark."""
        journey, node = turn.conversation.journey, turn.conversation.node
        spec = self.book.node(journey, node)
        if spec is None:
            return [[menu_button(turn)]]
        return self._rows(turn, journey, node, spec, [])

    async def back(self, turn: Turn) -> None:
        stack = list(turn.conversation.stack)
        if stack and stack[-1] == turn.position:
            stack.pop()
        while stack:
            journey, _, node = stack.pop().partition(":")
            if self.book.node(journey, node) is not None:
                turn.conversation.stack = stack
                await self.enter(turn, journey, node)
                return
        await self.menu(turn)

    # -- buttons and answers -------------------------------------------------
    async def press(self, turn: Turn, ref: payload.ButtonRef | payload.OptionRef) -> bool:
        """Handle a button; False when the payload names nothing pressable (forged)."""
        spec = self.book.node(ref.journey, ref.node)
        if spec is None:
            return False
        current = (ref.journey, ref.node) == (turn.conversation.journey, turn.conversation.node)
        if isinstance(ref, payload.OptionRef):
            if spec.options is None:
                return False
            options = self.options(turn, spec.options)
            if ref.key not in {o.key for o in options}:
                return False
            return await self._choose(turn, ref.journey, ref.node, spec.options, ref.key)
        buttons = spec.flat_buttons()
        if not 0 <= ref.index < len(buttons):
            return False
        button = buttons[ref.index]
        if button.url or not evaluate(button.when, turn.namespace()):
            return False
        if not current and button.do:
            # An action from an old message: show its question again instead of acting blindly.
            turn.say(turn.t(texts.STALE_BUTTON))
            await self.enter(turn, ref.journey, ref.node)  # its question, asked again
            return True
        if button.set and not self._may_store(turn, button.set):
            await self.gate(turn, f"{ref.journey}:{ref.node}")
            return True
        for name, value in button.set.items():
            turn.set_var(name, value)
        target = button.goto
        if button.do:
            turn.conversation.journey, turn.conversation.node = ref.journey, ref.node
            result = await self.run_action(turn, button.do, button.args)
            if result.stop:
                return True
            target = result.goto or target
            if target is None:
                self._render(turn, ref.journey, ref.node, spec, result.texts, result.buttons)
                return True
            for message in result.texts:
                turn.say(message)
        if target is not None:
            await self.go(turn, ref.journey, target)
        return True

    async def answer(self, turn: Turn, text: str) -> bool:
        """Handle typed text at the current node; False when the node takes no text."""
        journey, node = turn.conversation.journey, turn.conversation.node
        spec = self.book.node(journey, node)
        if spec is None:
            return False
        typed = _label_key(text)
        if typed:
            index = self._typed_button(turn, spec, typed)
            if index is not None:
                return await self.press(turn, payload.ButtonRef(journey, node, index))
            choices = spec.options
            if choices is not None:
                for option in self.options(turn, choices):
                    if _label_key(option.label) == typed:
                        return await self._choose(turn, journey, node, choices, option.key)
        if spec.input is None:
            return False
        try:
            value = self.parse_input(spec.input, text)
        except InputError as exc:
            message = spec.input.error or exc.message
            await self.rerender(turn, with_text=False, prefix=turn.t(message, **exc.values))
            return True
        if not self._may_store(turn, {spec.input.var: value}):
            await self.gate(turn, turn.position)
            return True
        turn.set_var(spec.input.var, value)
        await self._proceed(turn, journey, spec.input.do, spec.input.args, spec.input.goto)
        return True

    def _typed_button(self, turn: Turn, spec: NodeSpec, typed: str) -> int | None:
        """The visible button a typed text means: its label or an alias, exactly — or,
        for "да, согласна" / "нет, не хочу", the words of exactly one button's aliases
        (and a "no" only where the aliases say no)."""
        values = turn.namespace()
        visible = [
            (index, button)
            for index, button in enumerate(spec.flat_buttons())
            if not button.url and evaluate(button.when, values)
        ]
        for index, button in visible:
            if typed in self._keys(turn, button):
                return index
        words = set(typed.split()) - REQUEST_WORDS
        fits = []
        for index, button in visible:
            known = {w for alias in button.aliases for w in _label_key(alias).split()}
            if words and words <= known and bool(words & NEGATIONS) == bool(known & NEGATIONS):
                fits.append(index)
        return fits[0] if len(fits) == 1 else None

    async def understand(self, turn: Turn, text: str) -> bool:
        """Typed text the current node does not take: an intent or a main-menu topic."""
        intent = self.intents.match(text)
        if intent is not None:
            if intent.spec.set and not self._may_store(turn, intent.spec.set):
                await self.gate(turn, turn.position)
                return True
            for name, value in intent.spec.set.items():
                turn.set_var(name, value)
            await self.go(turn, intent.journey, intent.spec.goto)
            return True
        spec = self.book.node(*MENU)
        typed = _label_key(text)
        if spec is None or not typed:
            return False
        for index, button in enumerate(spec.flat_buttons()):
            if button.goto and typed in self._keys(turn, button):
                return await self.press(turn, payload.ButtonRef(*MENU, index))
        return False

    def _keys(self, turn: Turn, button: ButtonSpec) -> set[str]:
        """What typing presses a button: its label (either language) or an alias."""
        return {_label_key(text) for text in (turn.t(button.label), button.label, *button.aliases)}

    def parse_input(self, spec: InputSpec, text: str) -> Any:
        """Validate a typed answer; raise InputError with a message id filled for the family."""
        text = text.strip()
        if spec.type == "integer":
            lo = spec.min if spec.min is not None else 0
            hi = spec.max if spec.max is not None else 9999
            number = numbers.parse(text, years=spec.unit == "years")
            if number is None or not lo <= number <= hi:
                raise InputError(texts.INPUT_NUMBER, min=lo, max=hi)
            return number
        if not text:
            raise InputError(texts.INPUT_TEXT_EMPTY)
        if spec.type == "contact":
            if _EMAIL.match(text) or _TG_NAME.match(text):
                return text
            if _PHONE.match(text) and 10 <= sum(ch.isdigit() for ch in text) <= 15:
                return text
            raise InputError(texts.INPUT_CONTACT)
        limit = spec.max or MAX_TEXT_ANSWER
        if len(text) > limit:
            raise InputError(texts.INPUT_TEXT_LONG, max=limit)
        if spec.min and len(text) < spec.min:
            raise InputError(texts.INPUT_TEXT_EMPTY)
        return text

    # -- helpers --------------------------------------------------------------
    def options(self, turn: Turn, spec: OptionsSpec) -> list[Option]:
        provider = self.registry.options.get(spec.source)
        if provider is None:
            log.error("unknown option provider %r", spec.source)
            return []
        return [o for o in provider(turn) if payload.OPTION_KEY.match(o.key)]

    async def _choose(
        self, turn: Turn, journey: str, node: str, spec: OptionsSpec, key: str
    ) -> bool:
        if not self._may_store(turn, {spec.var: key}):
            await self.gate(turn, f"{journey}:{node}")
            return True
        turn.set_var(spec.var, key)
        turn.conversation.journey, turn.conversation.node = journey, node
        await self._proceed(turn, journey, spec.do, {}, spec.goto, with_text=False)
        return True

    async def _proceed(
        self,
        turn: Turn,
        journey: str,
        action: str | None,
        args: dict[str, Any],
        target: str | None,
        *,
        with_text: bool = True,
    ) -> None:
        """After an answer is stored: run the answer's action, then go on (or ask again)."""
        if action:
            result = await self.run_action(turn, action, args)
            if result.stop:
                return
            for message in result.texts:
                turn.say(message)
            target = result.goto or target
        if target is None:
            await self.rerender(turn, with_text=with_text)
        else:
            await self.go(turn, journey, target)

    def _may_store(self, turn: Turn, values: dict[str, Any]) -> bool:
        """Personal answers are stored only with consent (152-FZ)."""
        if turn.consented:
            return True
        for name in values:
            var = self.book.var(name)
            if var is None or var.personal:
                return False
        return True

    async def run_action(self, turn: Turn, name: str, args: dict[str, Any]) -> ActionResult:
        action = self.registry.actions.get(name)
        if action is None:
            log.error("unknown action %r at %s", name, turn.position)
            return ActionResult()
        return await action(turn, args)

    def _values(self, turn: Turn) -> dict[str, str]:
        """What `{placeholders}` in texts may show: the answers, and the service's facts."""
        values = {name: turn.show(value) for name, value in turn.vars.items()}
        values["consultant_hours"] = turn.t(turn.services.settings.consultant_hours)
        return values

    def _render(
        self,
        turn: Turn,
        journey: str,
        node: str,
        spec: NodeSpec,
        messages: list[str],
        extra: list[list[Button]],
    ) -> None:
        rows = self._rows(turn, journey, node, spec, extra)
        if not messages:
            messages = [turn.t(texts.CHOOSE)]
        position = f"{journey}:{node}"
        for i, message in enumerate(messages):
            last = i == len(messages) - 1
            turn.say(message, rows if last else (), node=position, urgent=spec.urgent)

    def _rows(
        self, turn: Turn, journey: str, node: str, spec: NodeSpec, extra: list[list[Button]]
    ) -> list[list[Button]]:
        # What an action found (e.g. measures) comes first, the node's next steps after.
        rows = extra + self.buttons(turn, journey, node, spec)
        if spec.nav and (journey, node) != MENU:
            back = Button(turn.t(texts.BACK), payload.nav("back"))
            rows.append([back, menu_button(turn)])
        return rows

    def buttons(self, turn: Turn, journey: str, node: str, spec: NodeSpec) -> list[list[Button]]:
        values = turn.namespace()
        rows: list[list[Button]] = []
        index = 0
        for row in spec.rows():
            out: list[Button] = []
            for button in row:
                if evaluate(button.when, values):
                    label = turn.t(button.label)
                    if button.url:
                        out.append(Button(label, url=button.url))
                    else:
                        out.append(Button(label, payload.button(journey, node, index)))
                index += 1
            if out:
                rows.append(out)
        if spec.options:
            options = self.options(turn, spec.options)
            per_row = 2 if all(len(o.label) <= 18 for o in options) else 1
            for start in range(0, len(options), per_row):
                rows.append(
                    [
                        Button(o.label, payload.option(journey, node, o.key))
                        for o in options[start : start + per_row]
                    ]
                )
        return rows


def _label_key(text: str) -> str:
    """A button label reduced to its words, so typing "меню" presses "🏠 Меню"."""
    return normalize(text)
