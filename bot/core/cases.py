"""Cases (обращения): a family's request for a person, with what they already told us.

One open case per family and specialty: a second request for the same
specialist adds to it (and may raise its priority) instead of queueing twice;
danger goes to the family's crisis case, urgent.
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
    "organisation": "организация",
    "partner": "бизнес-партнёр",
    "volunteer": "волонтёр",
}


SAFE_EXIT_NOTE = (
    "Семья нажала «Быстрый выход» (чат удалён): не пишите первыми — переписку могут увидеть."
)


def higher(a: str, b: str) -> str:
    return a if PRIORITIES.index(a) <= PRIORITIES.index(b) else b


def forget_choices(turn: Turn) -> None:
    turn.drop_vars(*CASE_CHOICES)


async def open_case_of(turn: Turn, specialty: str | None = None) -> Case | None:
    """The family's open case (for one specialty, if given), newest first."""
    query = (
        select(Case)
        .where(Case.family_id == turn.family.id)
        .where(Case.status.in_(OPEN_STATUSES))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )
    if specialty is not None:
        query = query.where(Case.specialty == specialty)
    return await turn.session.scalar(query)


def summary(turn: Turn) -> str:
    """What the family already told the bot, so they never have to repeat it.

    Without consent only what says nothing about the family (where they were,
    whom they asked for) is included.
    """
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


def merge(previous: str, account: str) -> str:
    """Add what is new in `account` to the case's text; nothing said earlier is lost."""
    lines = previous.splitlines()
    lines.extend(line for line in account.splitlines() if line and line not in lines)
    return "\n".join(lines)


def card(case: Case) -> list[str]:
    """The case as a consultant reads it: warnings (from signals) first, then the account.

    Warnings live in `signals`, never in the text, so nothing the family writes
    can imitate or erase them.
    """
    lines = []
    danger = [SIGNAL_NAMES[s] for s in case.signals if s in SIGNAL_NAMES]
    if danger:
        lines.append("СРОЧНО: " + ", ".join(danger))
    if "safe_exit" in case.signals:
        lines.append(SAFE_EXIT_NOTE)
    lines.extend(case.summary.splitlines())
    return lines


def _new_case(turn: Turn, topic: str, specialty: str, priority: str) -> Case:
    now = utcnow()
    return Case(
        family_id=turn.family.id,
        topic=topic,
        specialty=specialty,
        priority=priority,
        status="new",
        summary="",
        signals=[],
        channel=turn.incoming.channel.value,
        language=turn.language,
        created_at=now,
        updated_at=now,
        urgent_at=now if priority == "urgent" else None,
    )


async def open_case(turn: Turn, topic: str, specialty: str, priority: str) -> tuple[Case, bool]:
    """Open a case for this specialty, or add to the family's open one; (case, created).

    One open case per specialty: a question for a lawyer and one for a
    psychologist wait in their own queues, and asking twice never queues twice.
    """
    case = await open_case_of(turn, specialty)
    created = case is None
    was = (case.priority, case.summary) if case is not None else None
    if case is None:
        case = _new_case(turn, topic, specialty, priority)
        turn.session.add(case)
        turn.event("case", topic)
    else:
        case.priority = higher(case.priority, priority)
        case.updated_at = utcnow()
        if case.priority == "urgent":
            case.urgent_at = case.urgent_at or case.updated_at
    case.summary = merge(case.summary, summary(turn))
    await turn.session.flush()
    await _tell_staff(turn, case, was)
    return case, created


async def _tell_staff(turn: Turn, case: Case, was: tuple[str, str] | None) -> None:
    """A new case reaches the staff group; news about a known one goes into its topic."""
    from bot.consult import delivery, desk  # the consult layer builds on this module

    if was is None:
        await desk.announce(turn.services, turn.session, case)
        return
    priority, text = was
    added = [line for line in case.summary.splitlines() if line not in text.splitlines()]
    if added:
        delivery.to_topic(
            turn.services, turn.session, case, "➕ Семья добавила:\n" + "\n".join(added)
        )
    if case.priority == "urgent" and priority != "urgent" and case.status == "new":
        await desk.alert(turn.services, turn.session, case, urgent=True)


async def note_safe_exit(turn: Turn) -> None:
    """The family wiped the chat: consultants must not write first into it."""
    query = (
        select(Case).where(Case.family_id == turn.family.id).where(Case.status.in_(OPEN_STATUSES))
    )
    for case in (await turn.session.scalars(query)).all():
        if "safe_exit" not in case.signals:
            case.signals = sorted({*case.signals, "safe_exit"})
            case.updated_at = utcnow()


async def mark_urgent(turn: Turn, signals: tuple[str, ...]) -> Case:
    """A crisis message: the family's crisis case, urgent, first in the queue.

    Kept even without consent: protecting life is a lawful ground on its own
    (152-FZ art. 6 p. 1.6). Only the kind of danger is stored, never the text;
    with consent, what the family told the bot goes with it.
    """
    case = await open_case_of(turn, "crisis")
    was = (case.priority, case.summary) if case is not None else None
    if case is None:
        case = _new_case(turn, "crisis", "crisis", "urgent")
        turn.session.add(case)
        turn.event("case", "crisis")
    now = utcnow()
    known = set(case.signals)
    case.priority = "urgent"
    case.signals = sorted(known | set(signals))
    case.urgent_at = case.urgent_at or now
    case.updated_at = now
    case.summary = merge(case.summary, summary(turn))
    await turn.session.flush()
    await _tell_staff(turn, case, was)
    if was is not None and not set(signals) <= known:
        from bot.consult import delivery

        news = ", ".join(SIGNAL_NAMES.get(s, s) for s in signals if s not in known)
        delivery.to_topic(turn.services, turn.session, case, f"🔴 Новая опасность: {news}")
    return case
