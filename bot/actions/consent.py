"""Consent to store personal data (152-FZ): given, declined."""

from __future__ import annotations

from typing import Any

from bot.actions.registry import ActionResult, registry
from bot.core import cases, texts
from bot.core.turn import Turn

CONSENT_PAGES = ("menu:consent", "menu:privacy")


@registry.action("give_consent")
async def give_consent(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Record consent and continue where the family was heading."""
    turn.give_consent()
    turn.event("consent")
    target = turn.conversation.resume or "menu:start"
    turn.conversation.resume = None
    return ActionResult(texts=[turn.t(texts.CONSENT_GIVEN)], goto=target)


@registry.action("decline_consent")
async def decline_consent(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """No consent: go back to where the family came from, nothing stored."""
    turn.conversation.resume = None
    cases.forget_choices(turn)  # where they were heading is not kept either
    stack = [p for p in turn.conversation.stack if p not in CONSENT_PAGES]
    target = stack[-1] if stack else "menu:start"
    turn.conversation.stack = stack[:-1]
    return ActionResult(goto=target)
