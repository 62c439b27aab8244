"""Monitoring for the centre and the region's authorities: what families ask
for, week by week, and where support is missing. Aggregates only — no page or
file here says anything about one family (the few rating comments shown are
text alone, tied to no family or case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from admin import charts, monitoring
from admin.monitoring import Period, Report, Weekly
from admin.web import ADMIN, EDITOR, Page, csv_bytes, page, render, state
from bot.journeys.book import JourneyBook
from bot.storage.models import utcnow

ROLES = frozenset({ADMIN, EDITOR})
WEEK_AXIS = "Неделя (дата понедельника)"
CSV_HEADER = ("section", "week", "key", "count", "label")
CRISIS_COLOURS = {"crisis": "#D55E00", "elevated": "#E69F00"}
KNOWLEDGE_COLOURS = {"found": "#009E73", "not_found": "#CC79A7"}
PRIORITY_COLOURS = {"urgent": "#D55E00", "high": "#E69F00", "normal": "#0072B2"}


@dataclass(frozen=True, slots=True)
class Figure:
    """A chart and the same numbers as a table (for screen readers and for checking)."""

    id: str
    title: str
    svg: Markup
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def week_title(week: date) -> str:
    return f"{week:%d.%m}–{week + timedelta(days=6):%d.%m.%Y}"


def weekly_figure(
    figure_id: str,
    title: str,
    weekly: Weekly,
    book: JourneyBook,
    *,
    y_label: str,
    colours: dict[str, str] | None = None,
    keys: list[str] | None = None,
    note: str = "",
) -> Figure:
    keys = keys if keys is not None else weekly.keys
    series = [
        charts.Series(
            key,
            monitoring.label(weekly.section, key, book),
            weekly.values(key),
            (colours or {}).get(key, ""),
        )
        for key in keys
    ]
    svg = charts.stacked_bars(
        figure_id,
        title,
        [f"{w:%d.%m}" for w in weekly.weeks],
        series,
        y_label=y_label,
        x_label=WEEK_AXIS,
        category_titles=[week_title(w) for w in weekly.weeks],
    )
    rows = tuple(
        (
            week_title(week),
            *(str(s.values[i]) for s in series),
            str(sum(s.values[i] for s in series)),
        )
        for i, week in enumerate(weekly.weeks)
    )
    columns = ("Неделя", *(s.label for s in series), "Всего")
    return Figure(figure_id, title, svg, columns, rows if any(series) else (), note)


def split_figure(
    figure_id: str,
    title: str,
    section: str,
    items: list[tuple[str, int]],
    book: JourneyBook,
    *,
    x_label: str,
    colours: dict[str, str] | None = None,
    note: str = "",
) -> Figure:
    bars = [charts.Bar(key, monitoring.label(section, key, book), count) for key, count in items]
    total = sum(count for _, count in items)
    svg = charts.horizontal_bars(figure_id, title, bars, x_label=x_label, colours=colours)
    rows = tuple((b.label, str(b.value), charts.percent_text(b.value, total)) for b in bars)
    return Figure(figure_id, title, svg, ("", "Количество", "Доля"), rows if total else (), note)


def biggest_first(counter: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(((k, v) for k, v in counter.items() if v), key=lambda kv: (-kv[1], kv[0]))


def figures(report: Report, book: JourneyBook) -> tuple[list[Figure], list[Figure]]:
    """(charts for the period, charts of the queue right now)."""
    journeys = report.journeys.top(monitoring.TOP_JOURNEYS)
    keys = [k for k in journeys.keys if k != "other"]
    if "other" in journeys.keys:
        keys.append("other")  # "other" always last, whatever its size
    age = [(k, report.waiting_age[k]) for k, _, _ in monitoring.AGE_BUCKETS]
    priority = [(p, report.waiting_priority[p]) for p in monitoring.PRIORITIES]
    return [
        weekly_figure(
            "journeys",
            "С чем приходят семьи: разделы бота по неделям",
            journeys,
            book,
            y_label="Входов в раздел",
            keys=keys,
            note="Сколько раз семьи открывали раздел. Главное меню и настройки не считаются.",
        ),
        split_figure(
            "case-topics",
            "Темы обращений к консультантам за период",
            "case_topics",
            biggest_first(report.case_topics.totals()),
            book,
            x_label="Открыто обращений",
        ),
        weekly_figure(
            "crisis",
            "Кризисные и тревожные сигналы по неделям",
            report.crisis,
            book,
            y_label="Сигналов",
            colours=CRISIS_COLOURS,
            keys=["crisis", "elevated"],
            note="Кризис — угроза жизни, семье сразу показаны экстренные телефоны и открыто "
            "срочное обращение. Тревожный сигнал — бот мягко предложил помощь.",
        ),
        weekly_figure(
            "knowledge",
            "Вопросы семей: нашёлся ли ответ в базе знаний",
            report.knowledge,
            book,
            y_label="Вопросов",
            colours=KNOWLEDGE_COLOURS,
            keys=["found", "not_found"],
            note="«Ответа нет» — вопросы, на которые в базе знаний не нашлось записи: "
            "это пробелы, которые стоит закрыть.",
        ),
        split_figure(
            "languages",
            "На каком языке пишут семьи",
            "languages",
            biggest_first(report.languages),
            book,
            x_label="Входов в разделы и вопросов",
        ),
        split_figure(
            "channels",
            "Откуда пишут семьи",
            "channels",
            biggest_first(report.channels),
            book,
            x_label="Входов в разделы и вопросов",
        ),
    ], [
        split_figure(
            "waiting-priority",
            "Ждут ответа сейчас: по срочности",
            "waiting_priority",
            priority if report.totals["waiting"] else [],
            book,
            x_label="Обращений",
            colours=PRIORITY_COLOURS,
        ),
        split_figure(
            "waiting-age",
            "Ждут ответа сейчас: сколько времени",
            "waiting_age",
            age if report.totals["waiting"] else [],
            book,
            x_label="Обращений",
        ),
    ]


def period_query(period: Period) -> str:
    return urlencode({"from": period.start.isoformat(), "to": period.end.isoformat()})


async def load(request: Request) -> tuple[Report, JourneyBook]:
    now = utcnow()
    period = monitoring.parse_period(
        request.query_params.get("from"),
        request.query_params.get("to"),
        monitoring.local_today(now),
    )
    services = state(request).services
    async with services.db.session() as session:
        report = await monitoring.build_report(session, period, now)
    return report, services.book


async def dashboard(request: Request) -> Response:
    report, book = await load(request)
    async with state(request).services.db.session() as session:
        consult = await monitoring.consult_metrics(session, report.period, utcnow())
    period_figures, now_figures = figures(report, book)
    crisis_kinds = [
        (monitoring.label("crisis_kinds", key), count)
        for key, count in biggest_first(report.crisis_kinds)
    ]
    return render(
        request,
        "dashboard.html",
        report=report,
        period=report.period,
        period_figures=period_figures,
        now_figures=now_figures,
        crisis_kinds=crisis_kinds,
        total_labels=monitoring.TOTAL_LABELS,
        other_kinds=monitoring.OTHER_KINDS,
        csv_query=period_query(report.period),
        consult=consult,
        duration=monitoring.duration_text,
    )


async def dashboard_csv(request: Request) -> Response:
    report, book = await load(request)
    body = csv_bytes(
        CSV_HEADER,
        (
            (section, week, key, count, monitoring.label(section, key, book))
            for section, week, key, count in monitoring.rows(report)
        ),
    )
    period = report.period
    name = f"monitoring_{period.start.isoformat()}_{period.end.isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


ROUTES: list[Page] = [
    page("/dashboard", dashboard, ROLES),
    page("/dashboard.csv", dashboard_csv, ROLES),
]
