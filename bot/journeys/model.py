"""The shape of `dialogs/*.yaml`: journeys, nodes, buttons, inputs.

Texts are written in Russian (the source language) and translated through the
gettext catalogs in `locales/`; see README "How to add a journey".
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.journeys.conditions import ConditionError, validate

ID_PATTERN = r"^[a-z][a-z0-9_]{0,15}$"
NODE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _check_condition(value: Any) -> Any:
    if value is not None:
        try:
            validate(value)
        except ConditionError as exc:
            raise ValueError(str(exc)) from exc
    return value


class ButtonSpec(_Spec):
    """A button: go somewhere, run an action, record an answer, or open a link."""

    label: str
    goto: str | None = None
    do: str | None = None
    args: dict[str, Any] = Field(default_factory=dict, alias="with")
    set: dict[str, Any] = Field(default_factory=dict)
    url: str | None = None
    when: dict[str, Any] | None = Field(default=None, alias="if")
    aliases: list[str] = Field(default_factory=list)  # typed words that press it ("да")

    @field_validator("when")
    @classmethod
    def _condition(cls, value: Any) -> Any:
        return _check_condition(value)

    @model_validator(mode="after")
    def _has_effect(self) -> ButtonSpec:
        if self.url and (self.goto or self.do or self.set):
            raise ValueError(f"button '{self.label}': a link button cannot also goto/do/set")
        if not (self.url or self.goto or self.do):
            raise ValueError(f"button '{self.label}': needs goto, do or url")
        return self


class InputSpec(_Spec):
    """A free-text answer: validated, stored in `var`, then `goto`."""

    var: str
    type: Literal["text", "integer", "contact"] = "text"
    min: int | None = None
    max: int | None = None
    unit: Literal["years"] | None = None  # "8 месяцев" is 0 years, "полтора года" is 1
    story: bool = False  # the family's own account: kept for the crisis case if danger is in it
    error: str | None = None
    goto: str | None = None
    do: str | None = None
    args: dict[str, Any] = Field(default_factory=dict, alias="with")


class SwitchCase(_Spec):
    when: dict[str, Any] | None = Field(default=None, alias="if")
    goto: str

    @field_validator("when")
    @classmethod
    def _condition(cls, value: Any) -> Any:
        return _check_condition(value)


class OptionsSpec(_Spec):
    """Buttons generated at run time from a named provider (cities, languages…)."""

    source: str = Field(alias="from")
    var: str
    goto: str | None = None
    do: str | None = None


class NodeSpec(_Spec):
    text: str | None = None
    buttons: list[ButtonSpec | list[ButtonSpec]] = Field(default_factory=list)
    input: InputSpec | None = None
    options: OptionsSpec | None = None
    switch: list[SwitchCase] | None = None
    do: str | None = None
    args: dict[str, Any] = Field(default_factory=dict, alias="with")
    goto: str | None = None
    final: bool = False
    consent: bool = False
    nav: bool = True
    urgent: bool = False

    def rows(self) -> list[list[ButtonSpec]]:
        """Buttons grouped into rows: a single button is a row of one."""
        return [item if isinstance(item, list) else [item] for item in self.buttons]

    def flat_buttons(self) -> list[ButtonSpec]:
        return [button for row in self.rows() for button in row]


class VarSpec(_Spec):
    label: str
    personal: bool = True


class IntentSpec(_Spec):
    """Short typed requests understood anywhere ("нужен психолог", "спасибо").

    A phrase matches when every one of its words is in the message (word forms
    count: the first five letters are compared). `whole` intents (greetings,
    thanks) match only a message that says nothing else.
    """

    phrases: list[str] = Field(min_length=1)
    goto: str
    set: dict[str, Any] = Field(default_factory=dict)
    whole: bool = False


class JourneySpec(_Spec):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    topic: str
    specialty: Literal["psychologist", "lawyer", "social", "crisis"] = "social"
    start: str
    vars: dict[str, VarSpec] = Field(default_factory=dict)
    intents: list[IntentSpec] = Field(default_factory=list)
    nodes: dict[str, NodeSpec]

    @field_validator("nodes")
    @classmethod
    def _node_names(cls, nodes: dict[str, NodeSpec]) -> dict[str, NodeSpec]:
        bad = [name for name in nodes if not re.match(NODE_PATTERN, name)]
        if bad:
            raise ValueError(f"node names must match {NODE_PATTERN}: {bad}")
        return nodes
