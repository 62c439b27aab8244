"""Handing a family to a person: the case record and an honest promise."""

from __future__ import annotations

from typing import Any

from bot.actions.registry import ActionResult, registry
from bot.core import cases, texts
from bot.core.turn import Turn
from bot.knowledge.render import hotline_line
from bot.knowledge.schema import Entry

MEANWHILE_TOPICS = ("psychological", "violence", "children")


def meanwhile_hotlines(turn: Turn, topic: str) -> list[Entry]:
    """112, then up to two helplines that fit the topic: what to call while waiting."""
    knowledge = turn.services.knowledge
    emergency = [h for h in knowledge.hotlines() if h.phone == "112"]
    helplines = [
        h
        for h in knowledge.hotlines((topic, *MEANWHILE_TOPICS))
        if h.phone and sum(ch.isdigit() for ch in h.phone) > 3  # not 102/103: 112 covers them
    ]
    helplines.sort(key=lambda h: (topic not in h.topics, h.id))
    return emergency + helplines[:2]


@registry.action("open_case")
async def open_case(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Open (or update) the family's case.

    Args (from YAML `with:`): specialty, topic, priority — the conversation's
    `specialty`, `case_topic` and `case_priority` (chosen earlier) win.
    """
    journey = turn.services.book.journeys.get(turn.conversation.journey)
    specialty = str(
        turn.vars.get("specialty")
        or args.get("specialty")
        or (journey.specialty if journey else "social")
    )
    if specialty not in cases.SPECIALTY_TEXTS:
        specialty = "social"
    topic = str(
        turn.vars.get("case_topic") or args.get("topic") or (journey.topic if journey else "other")
    )
    priority = str(turn.vars.get("case_priority") or args.get("priority") or "normal")
    if priority not in cases.PRIORITIES:
        priority = "normal"
    if not turn.consented and priority != "urgent":
        # Only danger to life justifies a case without consent; ask first.
        turn.conversation.resume = turn.position
        return ActionResult(goto="menu:consent")
    case, created = await cases.open_case(turn, topic, specialty, priority)
    settings = turn.services.settings
    if created:
        message = turn.t(
            texts.CASE_CREATED,
            number=case.id,
            specialty=turn.t(cases.SPECIALTY_TEXTS[specialty]),
            hours=turn.t(settings.consultant_hours),
            reply_hours=settings.consultant_reply_hours,
        )
    else:
        message = turn.t(texts.CASE_UPDATED, number=case.id)
    if case.priority == "urgent":
        message += "\n\n" + turn.t(texts.URGENT_CASE)
    from bot.consult.family import queue_note  # the consult layer builds on the actions

    message += "\n\n" + await queue_note(turn, case)
    hotlines = meanwhile_hotlines(turn, topic)
    if hotlines:
        lines = (hotline_line(h, turn.language) for h in hotlines)
        meanwhile = turn.t(texts.MEANWHILE) + "\n" + "\n".join(lines)
    else:
        meanwhile = turn.t(texts.CASE_MEANWHILE)
    cases.forget_choices(turn)  # the next request starts clean
    return ActionResult(texts=[message, meanwhile])


@registry.action("reset_case_choices")
async def reset_case_choices(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """A fresh "talk to a person": nothing chosen on an earlier way there carries over."""
    cases.forget_choices(turn)
    return ActionResult()
