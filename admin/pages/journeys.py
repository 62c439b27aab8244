"""The journeys (dialogs/*.yaml) as staff see them: a list with what `dialogs check`
finds, and per journey a diagram plus every text in every language.

Read-only: journeys are files reviewed like code; this page helps editors and
consultants see what a family meets and spot gaps in the translations.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from admin import diagram
from admin.web import ADMIN, CONSULTANT, EDITOR, Page, not_found, page, render, state, url
from bot.core.i18n import Translator
from bot.core.services import Services
from bot.journeys.book import JourneyBook
from bot.journeys.lint import Problem, lint
from bot.journeys.model import JourneySpec, NodeSpec
from bot.storage.models import KnowledgeEntry

ROLES = frozenset({ADMIN, EDITOR, CONSULTANT})

# `dialogs check` speaks English (it is a developer tool); staff read these in Russian.
_PROBLEM_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^unreachable: nothing leads here$", "недостижимый шаг: сюда не ведёт ни одна кнопка"),
        (r"^\[(\w+)\] missing translation of '(.*)'$", r"[\1] нет перевода: «\2»"),
        (r"^goes to unknown target '(.*)'$", r"ведёт в несуществующую цель «\1»"),
        (r"^calls unknown action '(.*)'$", r"вызывает неизвестное действие «\1»"),
        (r"^shows unknown knowledge entry '(.*)'$", r"показывает несуществующую запись «\1»"),
        (r"^dead end: .*$",
         "тупик: нет ни кнопок, ни ответа, ни перехода (если так задумано — final: true)"),
        (r"^switch has no default case .*$",
         "у развилки нет варианта «иначе»: семья может застрять"),
        (r"^stores undeclared variable '(\w+)'.*$",
         r"сохраняет необъявленную переменную «\1»"),
        (r"^condition reads undeclared variable '(\w+)'$",
         r"условие читает необъявленную переменную «\1»"),
        (r"^\[(\w+)\] label '(.*)' is (\d+) characters: VK allows (\d+)$",
         r"[\1] подпись кнопки «\2» — \3 символов, ВКонтакте допускает \4"),
    )
)  # fmt: skip


def problem_text(problem: Problem) -> str:
    for pattern, replacement in _PROBLEM_WORDS:
        if pattern.match(problem.message):
            return pattern.sub(replacement, problem.message)
    return problem.message


def problem_node(journey: JourneySpec, problem: Problem) -> str | None:
    """The node a problem is about ("start.buttons[2]" → "start"), if it names one."""
    name = re.split(r"[.\[]", problem.node, maxsplit=1)[0]
    return name if name in journey.nodes else None


async def check(services: Services) -> list[Problem]:
    """What `family-window dialogs check` would say, against the published knowledge base.

    Pure and fast (milliseconds), so it runs per request and never shows stale results.
    """
    async with services.db.session() as session:
        entries = set(
            (
                await session.scalars(
                    select(KnowledgeEntry.id).where(KnowledgeEntry.published.is_(True))
                )
            ).all()
        )
    return lint(services.book, services.translator, services.registry, entries)


# -- what a node says, in every language ---------------------------------------------
@dataclass(frozen=True, slots=True)
class Said:
    """One text in one language; `missing` when it falls back to the Russian source."""

    language: str
    text: str
    missing: bool


@dataclass(frozen=True, slots=True)
class Target:
    label: str
    href: str | None
    broken: bool = False


@dataclass(frozen=True, slots=True)
class ButtonView:
    labels: tuple[Said, ...]
    target: Target | None
    action: str
    sets: str
    condition: str
    link: str


@dataclass
class NodeView:
    name: str
    kinds: tuple[str, ...]
    text: tuple[Said, ...]
    rows: list[list[ButtonView]] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)  # (what, value)
    moves: list[tuple[str, Target]] = field(default_factory=list)  # (when, where)
    errors: tuple[Said, ...] = ()
    problems: list[str] = field(default_factory=list)

    @property
    def missing(self) -> bool:
        said = [*self.text, *self.errors]
        said += [s for row in self.rows for button in row for s in button.labels]
        return any(s.missing for s in said)


def say(translator: Translator, message: str) -> tuple[Said, ...]:
    return tuple(
        Said(lang, translator.gettext(lang, message), not translator.has(lang, message))
        for lang in translator.languages
    )


def target(book: JourneyBook, journey: str, goto: str, journey_href: str) -> Target:
    resolved = book.resolve(journey, goto)
    if resolved is None:
        return Target(f"несуществующая цель «{goto}»", None, broken=True)
    other, node = resolved
    if other == journey:
        return Target(f"шаг «{node}»", f"#node-{node}")
    title = book.journeys[other].title
    return Target(f"сценарий «{title}» ({other}:{node})", f"{journey_href}{other}#node-{node}")


def _action(do: str | None, args: dict[str, Any]) -> str:
    if not do:
        return ""
    return f"{do} {_compact(args)}" if args else do


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def node_view(
    book: JourneyBook,
    translator: Translator,
    journey: JourneySpec,
    name: str,
    node: NodeSpec,
    journey_href: str = "",
) -> NodeView:
    """Everything a node does, with each text in every language (pure: easy to test)."""
    view = NodeView(
        name=name,
        kinds=diagram.node_kinds(journey, name, node),
        text=say(translator, node.text) if node.text else (),
    )
    for row in node.rows():
        view.rows.append(
            [
                ButtonView(
                    labels=say(translator, button.label),
                    target=target(book, journey.id, button.goto, journey_href)
                    if button.goto
                    else None,
                    action=_action(button.do, button.args),
                    sets=", ".join(f"{k} = {_compact(v)}" for k, v in button.set.items()),
                    condition=diagram.describe_condition(button.when) if button.when else "",
                    link=button.url or "",
                )
                for button in row
            ]
        )
    if node.input:
        spec = node.input
        limits = " ".join(
            part
            for part in (
                f"от {spec.min}" if spec.min is not None else "",
                f"до {spec.max}" if spec.max is not None else "",
            )
            if part
        )
        kind = {"text": "текст", "integer": "число", "contact": "контакт"}[spec.type]
        view.details.append(
            ("Ответ текстом", f"{kind} {limits} → переменная {spec.var}".replace("  ", " "))
        )
        if spec.story:
            view.details.append(("Рассказ семьи", "сохраняется для кризисного обращения"))
        if spec.do:
            view.details.append(("После ответа — действие", _action(spec.do, spec.args)))
        if spec.goto:
            view.moves.append(("после ответа", target(book, journey.id, spec.goto, journey_href)))
        if spec.error:
            view.errors = say(translator, spec.error)
    if node.options:
        view.details.append(
            ("Выбор из списка", f"{node.options.source} → переменная {node.options.var}")
        )
        if node.options.do:
            view.details.append(("После выбора — действие", node.options.do))
        if node.options.goto:
            view.moves.append(
                ("после выбора", target(book, journey.id, node.options.goto, journey_href))
            )
    if node.do:
        view.details.append(("Действие при входе", _action(node.do, node.args)))
    for case in node.switch or ():
        view.moves.append(
            (
                f"если {diagram.describe_condition(case.when)}" if case.when else "иначе",
                target(book, journey.id, case.goto, journey_href),
            )
        )
    if node.goto:
        view.moves.append(("сразу", target(book, journey.id, node.goto, journey_href)))
    if not node.nav:
        view.details.append(("Кнопки «Назад»/«Меню»", "не показываются"))
    return view


# -- pages ----------------------------------------------------------------------------
async def journeys(request: Request) -> Response:
    services = state(request).services
    problems = await check(services)
    counts: dict[str, int] = {}
    for problem in problems:
        counts[problem.journey] = counts.get(problem.journey, 0) + 1
    rows = [
        {"spec": spec, "problems": counts.get(spec.id, 0)}
        for spec in sorted(services.book.journeys.values(), key=lambda s: s.title)
    ]
    return render(
        request,
        "journeys_list.html",
        rows=rows,
        total=len(problems),
        languages=[services.translator.native_name(lang) for lang in services.translator.languages],
        nodes=sum(len(spec.nodes) for spec in services.book.journeys.values()),
    )


async def journey(request: Request) -> Response:
    services = state(request).services
    spec = services.book.journeys.get(request.path_params["journey"])
    if spec is None:
        return not_found(request)
    translator = services.translator
    problems = [p for p in await check(services) if p.journey == spec.id]
    href = url(request, "/journeys/")
    views = {
        name: node_view(services.book, translator, spec, name, node, href)
        for name, node in spec.nodes.items()
    }
    per_node: dict[str, int] = {}
    listed = []
    for problem in problems:
        where = problem_node(spec, problem)
        if where:
            per_node[where] = per_node.get(where, 0) + 1
            views[where].problems.append(problem_text(problem))
        listed.append({"problem": problem, "text": problem_text(problem), "node": where})
    picture = diagram.svg(diagram.layout(diagram.graph(services.book, spec.id, href)), per_node)
    return render(
        request,
        "journeys_detail.html",
        spec=spec,
        title_said=say(translator, spec.title),
        problems=listed,
        svg=picture,
        legend=diagram.legend(),
        views=list(views.values()),
        languages=[(lang, translator.native_name(lang)) for lang in translator.languages],
        file=services.book.files.get(spec.id),
    )


ROUTES: list[Page] = [
    page("/journeys", journeys, ROLES),
    page("/journeys/{journey}", journey, ROLES),
]
