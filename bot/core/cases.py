"""Cases (обращения): a family's request for a person, with what they already told us.

One open case per family: a second request updates it (and may raise its
priority) rather than queueing the family twice.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.core import texts
from bot.core.turn import Turn
from bot.storage.models import Case, utcnow

PRIORITIES = ("urgent", "high", "normal")
# What a family chooses on the way to a person; forgotten once the case is opened
# (or the family declines), so a later request never inherits a stale topic.
CASE_CHOICES = ("specialty", "case_topic", "case_priority", "case_note")
OPEN_STATUSES = ("new", "open")
SPECIALTY_TEXTS = {
    "psychologist": texts.SPECIALTY_PSYCHOLOGIST,
    "lawyer": texts.SPECIALTY_LAWYER,
    "social": texts.SPECIALTY_SOCIAL,
    "crisis": texts.SPECIALTY_CRISIS,
}
# Russian names of triage signals for the consultant's card (staff read Russian).
SIGNAL_NAMES = {
    "suicide": "мысли о самоубийстве",
    "self_harm": "самоповреждение",
    "violence_now": "насилие сейчас",
    "child_danger": "ребёнок в опасности",
    "pregnancy_emergency": "экстренная ситуация при беременности",
    "medical_emergency": "угроза жизни, нужна медицинская помощь",
}


# How stored answers read in the consultant's summary.
VALUE_NAMES = {
    True: "да",
    False: "нет",
    "unsure": "не знаю",
    "dagestan": "Республика Дагестан",
    "other": "другой регион",
    "employed": "работает",
    "student": "учится очно",
    "not_working": "не работает",
    "psychologist": "психолог",
    "lawyer": "юрист",
    "social": "социальный консультант",
    "crisis": "кризисный специалист",
}


URGENT_PREFIX = "СРОЧНО: "
SAFE_EXIT_NOTE = (
    "Семья нажала «Быстрый выход» (чат удалён): не пишите первыми — переписку могут увидеть."
)


def higher(a: str, b: str) -> str:
    return a if PRIORITIES.index(a) <= PRIORITIES.index(b) else b


def forget_choices(turn: Turn) -> None:
    turn.conversation.vars = {k: v for k, v in turn.vars.items() if k not in CASE_CHOICES}


async def open_case_of(turn: Turn) -> Case | None:
    return await turn.session.scalar(
        select(Case)
        .where(Case.family_id == turn.family.id)
        .where(Case.status.in_(OPEN_STATUSES))
        .order_by(Case.created_at.desc())
        .limit(1)
    )


def summary(turn: Turn) -> str:
    """What the family already told the bot, so they never have to repeat it."""
    book = turn.services.book
    journey = book.journeys.get(turn.conversation.journey)
    lines = []
    if journey is not None:
        lines.append(f"Раздел: {journey.title}")
    for name, value in turn.vars.items():
        var = book.var(name)
        if var is None or (var.personal and not turn.consented):
            continue
        if value not in (None, ""):
            shown = VALUE_NAMES.get(value, value) if isinstance(value, bool | str) else value
            lines.append(f"{var.label}: {shown}")
    return "\n".join(lines)


def compose(case: Case, account: str) -> str:
    """The case card: danger and safe-exit warnings first, then the family's account.

    Rebuilt on every change so a later update can never wipe the warnings, and
    merged so nothing the family said earlier is lost.
    """
    previous = [
        line
        for line in case.summary.splitlines()
        if not line.startswith(URGENT_PREFIX) and line != SAFE_EXIT_NOTE
    ]
    lines = []
    danger = [SIGNAL_NAMES[s] for s in case.signals if s in SIGNAL_NAMES]
    if danger:
        lines.append(URGENT_PREFIX + ", ".join(danger))
    if "safe_exit" in case.signals:
        lines.append(SAFE_EXIT_NOTE)
    lines.extend(previous)
    lines.extend(line for line in account.splitlines() if line not in previous)
    return "\n".join(line for line in lines if line)


async def open_case(turn: Turn, topic: str, specialty: str, priority: str) -> tuple[Case, bool]:
    """Create the family's case, or update the open one; returns (case, created)."""
    now = utcnow()
    case = await open_case_of(turn)
    if case is not None:
        case.priority = higher(case.priority, priority)
        if case.priority == "urgent":
            case.urgent_at = case.urgent_at or now
        case.summary = compose(case, summary(turn))
        case.updated_at = now
        if case.specialty != specialty and case.priority != "urgent":
            case.specialty = specialty
        return case, False
    case = Case(
        family_id=turn.family.id,
        topic=topic,
        specialty=specialty,
        priority=priority,
        status="new",
        summary=summary(turn),
        signals=[],
        channel=turn.incoming.channel.value,
        language=turn.language,
        created_at=now,
        updated_at=now,
        urgent_at=now if priority == "urgent" else None,
    )
    turn.session.add(case)
    await turn.session.flush()
    turn.event("case", topic)
    return case, True


async def note_safe_exit(turn: Turn) -> None:
    """The family wiped the chat: the consultant must not write first into it."""
    case = await open_case_of(turn)
    if case is not None and "safe_exit" not in case.signals:
        case.signals = sorted({*case.signals, "safe_exit"})
        case.summary = compose(case, "")
        case.updated_at = utcnow()


async def mark_urgent(turn: Turn, signals: tuple[str, ...]) -> Case:
    """A crisis message makes the family's case urgent (created if need be).

    Kept even without consent: protecting life is a lawful ground on its own
    (152-FZ art. 6 p. 1.6). Only the kind of danger is stored, never the text.
    """
    case = await open_case_of(turn)
    now = utcnow()
    if case is None:
        case = Case(
            family_id=turn.family.id,
            topic="crisis",
            specialty="crisis",
            priority="urgent",
            status="new",
            summary="",
            signals=[],
            channel=turn.incoming.channel.value,
            language=turn.language,
            created_at=now,
        )
        turn.session.add(case)
        turn.event("case", "crisis")
    case.priority = "urgent"
    case.specialty = "crisis"
    case.signals = sorted(set(case.signals) | set(signals))
    case.urgent_at = case.urgent_at or now
    case.updated_at = now
    case.summary = compose(case, summary(turn))
    await turn.session.flush()
    return case
