"""The knowledge base inside journeys: the support-measures finder, the
directory of organisations, hotlines and single entries."""

from __future__ import annotations

from typing import Any

from bot.actions.registry import ActionResult, Option, registry
from bot.core import texts
from bot.core.i18n import N_
from bot.core.turn import Turn
from bot.knowledge.render import entry_card, hotline_line, measure_line, organisation_line
from bot.knowledge.schema import FINDER_VARS

MAX_CHARS = 3500  # keep each message comfortably under Telegram's 4096

HELP_KIND_LABELS = {
    "psychological": N_("Психологическая помощь"),
    "legal": N_("Юридическая помощь"),
    "social": N_("Социальная помощь"),
    "crisis": N_("Кризисная помощь"),
    "humanitarian": N_("Гуманитарная помощь"),
    "clothing": N_("Одежда и вещи"),
    "medical": N_("Медицина, беременность"),
    "disability": N_("Дети с инвалидностью"),
    "large_family": N_("Многодетным семьям"),
    "employment": N_("Работа и обучение"),
    "documents": N_("Документы и выплаты"),
    "partner_shop": N_("Магазины-партнёры"),
}


def _chunks(lines: list[str]) -> list[str]:
    """Join lines into messages that fit a messenger's limit."""
    messages: list[str] = []
    current = ""
    for line in lines:
        if current and len(current) + len(line) + 2 > MAX_CHARS:
            messages.append(current)
            current = ""
        current = f"{current}\n\n{line}" if current else line
    if current:
        messages.append(current)
    return messages


@registry.action("find_measures")
async def find_measures(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """The finder's result: measures whose conditions match the family's answers."""
    answers = {k: v for k, v in turn.vars.items() if k in FINDER_VARS}
    if answers.get("low_income") == "unsure":  # show income-tested measures too
        answers["low_income"] = True
    measures = turn.services.knowledge.measures_for(answers)
    turn.event("finder", str(len(measures)))
    if not measures:
        return ActionResult(texts=[turn.t(texts.MEASURES_NONE)])
    lines = [turn.t(texts.MEASURES_FOUND, count=len(measures))]
    lines += [measure_line(m, turn.language, turn.t) for m in measures]
    lines.append(turn.t(texts.MEASURES_HINT))
    # The list itself says where to apply and what to bring; details of any
    # measure come from typing its name (the knowledge search finds it).
    return ActionResult(texts=_chunks(lines))


@registry.action("list_organisations")
async def list_organisations(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Organisations for the chosen city and kind of help (online ones included)."""
    knowledge = turn.services.knowledge
    city = turn.vars.get("city")
    help_kind = args.get("help") or turn.vars.get("help_kind")
    found = knowledge.organisations(
        str(city) if city else None, str(help_kind) if help_kind else None
    )
    if not found:
        return ActionResult(texts=[turn.t(texts.ORGS_NONE)])
    lines = [turn.t(texts.ORGS_FOUND, count=len(found))]
    lines += [
        organisation_line(e, turn.language, lambda c: knowledge.city_name(c, turn.language))
        for e in found
    ]
    return ActionResult(texts=_chunks(lines))


@registry.action("show_entry")
async def show_entry(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Show one knowledge entry by id (journeys reuse the knowledge base this way)."""
    knowledge = turn.services.knowledge
    entry = knowledge.get(str(args.get("id", "")))
    if entry is None:
        return ActionResult(texts=[turn.t(texts.ENTRY_NOT_FOUND)])
    card = entry_card(entry, turn.language, turn.t, lambda c: knowledge.city_name(c, turn.language))
    return ActionResult(texts=[card])


@registry.action("show_hotlines")
async def show_hotlines(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Hotlines for the given topics (all of them when no topic is given)."""
    topics = args.get("topics") or []
    hotlines = turn.services.knowledge.hotlines(topics)
    if not hotlines:
        return ActionResult(texts=[turn.t(texts.CASE_MEANWHILE)])
    lines = [f"**{turn.t(texts.HOTLINES_TITLE)}**"]
    lines += [hotline_line(h, turn.language) for h in hotlines]
    return ActionResult(texts=["\n".join(lines)])


@registry.provider("cities")
def cities(turn: Turn) -> list[Option]:
    knowledge = turn.services.knowledge
    return [Option(c, knowledge.city_name(c, turn.language)) for c in knowledge.cities_in_use()]


@registry.provider("help_kinds")
def help_kinds(turn: Turn) -> list[Option]:
    knowledge = turn.services.knowledge
    city = turn.vars.get("city")
    available = {
        kind for e in knowledge.organisations(str(city) if city else None, None) for kind in e.help
    }
    return [Option(k, turn.t(label)) for k, label in HELP_KIND_LABELS.items() if k in available]
