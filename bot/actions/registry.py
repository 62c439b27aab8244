"""Named actions and option providers that journeys call from YAML.

An action is `async def action(turn, args) -> ActionResult`; an option provider
is `def provider(turn) -> list[Option]`. Both are registered by name so that
`dialogs check` can tell a typo from a real action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.core.turn import Turn
from bot.core.types import Button


@dataclass
class ActionResult:
    texts: list[str] = field(default_factory=list)
    buttons: list[list[Button]] = field(default_factory=list)
    goto: str | None = None
    stop: bool = False  # the action answered the turn itself; render nothing more


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    label: str


Action = Callable[[Turn, dict[str, Any]], Awaitable[ActionResult]]
OptionProvider = Callable[[Turn], list[Option]]


class Registry:
    def __init__(self) -> None:
        self.actions: dict[str, Action] = {}
        self.options: dict[str, OptionProvider] = {}

    def action(self, name: str) -> Callable[[Action], Action]:
        def register(func: Action) -> Action:
            if name in self.actions:
                raise ValueError(f"action '{name}' registered twice")
            self.actions[name] = func
            return func

        return register

    def provider(self, name: str) -> Callable[[OptionProvider], OptionProvider]:
        def register(func: OptionProvider) -> OptionProvider:
            if name in self.options:
                raise ValueError(f"option provider '{name}' registered twice")
            self.options[name] = func
            return func

        return register


registry = Registry()
