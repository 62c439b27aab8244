"""The monitoring dashboard: totals, SVG charts, the CSV, the period filter, access."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from admin import charts, monitoring
from bot.core.services import Services
from bot.storage.models import Case, EventCount, Family, utcnow
from tests.admin.conftest import StaffClient

Client = Callable[[str], Awaitable[StaffClient]]

# A fixed past period: two ISO weeks, Monday 2025-03-03 to Sunday 2025-03-16.
PERIOD = "/admin/dashboard?from=2025-03-03&to=2025-03-16"
W1 = datetime(2025, 3, 4, 9, tzinfo=UTC)  # Tuesday, week of 03.03
W2 = datetime(2025, 3, 11, 9, tzinfo=UTC)  # Tuesday, week of 10.03
# Sunday 21:30 UTC is already Monday 00:30 in Moscow: it belongs to the next week.
SUNDAY_NIGHT = datetime(2025, 3, 9, 21, tzinfo=UTC)


def event(
    hour: datetime,
    kind: str,
    topic: str = "",
    count: int = 1,
    *,
    channel: str = "telegram",
    language: str = "ru",
    journey: str = "menu",
) -> EventCount:
    return EventCount(
        hour=hour,
        kind=kind,
        journey=journey,
        topic=topic,
        channel=channel,
        language=language,
        count=count,
    )


def fixture() -> list[EventCount]:
    """Fresh rows each time: ORM objects added once are tied to that database."""
    return [
        event(W1, "new_family", count=3),
        event(W1, "journey", "legal", 4),
        event(W1, "journey", "legal", 1, channel="vk"),
        event(W1, "journey", "pregnancy", 2, language="en"),
        event(W1, "journey", "menu", 50),  # moving around: never counted
        event(SUNDAY_NIGHT, "journey", "psychology", 1, channel="web"),
        event(W2, "journey", "legal", 2),
        event(W1, "case", "legal", 2),
        event(W2, "case", "crisis", 1),
        event(W2, "crisis", "suicide", 1),
        event(W2, "elevated", "distress", 2),
        event(W1, "kb_hit", "e1", 3),
        event(W2, "kb_miss", "", 1),
        event(W1, "finder", "0", 1),
        # outside the period: ignored
        event(datetime(2025, 2, 20, 9, tzinfo=UTC), "journey", "legal", 100),
        event(datetime(2025, 3, 16, 21, tzinfo=UTC), "new_family", count=100),  # Mon 00:00 MSK
    ]


async def add_events(services: Services, rows: list[EventCount]) -> None:
    async with services.db.session() as session:
        session.add_all(rows)


async def add_cases(services: Services, specs: list[tuple[str, str, timedelta]]) -> None:
    """(priority, status, age) per case; each with its own family."""
    now = utcnow()
    async with services.db.session() as session:
        for priority, status, age in specs:
            family = Family()
            session.add(family)
            await session.flush()
            session.add(
                Case(
                    family_id=family.id,
                    topic="legal",
                    specialty="lawyer",
                    priority=priority,
                    status=status,
                    channel="telegram",
                    language="ru",
                    created_at=now - age,
                    updated_at=now - age,
                )
            )


def tile(html: str, name: str) -> int:
    found = re.search(rf'data-total="{name}"><b>(\d+)</b>', html)
    assert found, name
    return int(found.group(1))


def svg(html: str, chart_id: str) -> str:
    found = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', html, re.S)
    assert found, chart_id
    return found.group(0)


def bars(fragment: str, series: str) -> list[int]:
    return [int(v) for v in re.findall(rf'data-series="{series}"[^>]*data-value="(\d+)"', fragment)]


# -- the page ---------------------------------------------------------------------------
async def test_totals_and_charts(services: Services, staff_client: Client) -> None:
    await add_events(services, fixture())
    client = await staff_client("editor")
    response = await client.get(PERIOD)
    assert response.status_code == 200
    html = response.text
    assert tile(html, "new_families") == 3
    assert tile(html, "journeys") == 10  # 4+1+2+1+2, menu left out
    assert tile(html, "cases") == 3
    assert tile(html, "crisis") == 1
    assert "и тревожных: 2" in html
    assert tile(html, "questions") == 4
    assert "ответ найден: 75 %" in html

    journeys = svg(html, "journeys")
    assert "<title" in journeys and 'aria-labelledby="journeys-title journeys-desc"' in journeys
    assert bars(journeys, "legal") == [5, 2]
    assert bars(journeys, "pregnancy") == [2]
    assert re.findall(r'data-series="psychology"[^>]*data-category="([^"]+)"', journeys) == [
        "10.03"  # Sunday night UTC is Monday in Moscow
    ]
    assert 'data-series="menu"' not in journeys
    assert "Юридическая помощь" in journeys  # the journey's title in the legend
    assert "Неделя" in journeys and "Входов в раздел" in journeys  # axis labels

    crisis = svg(html, "crisis")
    assert bars(crisis, "crisis") == [1] and bars(crisis, "elevated") == [2]
    knowledge = svg(html, "knowledge")
    assert bars(knowledge, "found") == [3] and bars(knowledge, "not_found") == [1]

    topics = svg(html, "case-topics")
    assert bars(topics, "legal") == [2] and bars(topics, "crisis") == [1]
    assert 'data-percent="67 %"' in topics

    channels = svg(html, "channels")  # 10 journeys + 4 questions
    assert bars(channels, "telegram") == [12]
    assert bars(channels, "vk") == [1] and bars(channels, "web") == [1]
    languages = svg(html, "languages")
    assert bars(languages, "ru") == [12] and bars(languages, "en") == [2]
    assert "<details>" in html and "Таблица с числами" in html
    assert "мысли о суициде" in html  # kinds of crisis signals


async def test_top_journeys_and_other(services: Services, staff_client: Client) -> None:
    names = ["legal", "pregnancy", "psychology", "loss", "hardship", "violence", "disability"]
    rows = [event(W1, "journey", name, 10 - i) for i, name in enumerate(names)]
    rows.append(event(W1, "journey", "large_family", 1))
    await add_events(services, rows)
    client = await staff_client("admin")
    journeys = svg((await client.get(PERIOD)).text, "journeys")
    assert bars(journeys, "other") == [4 + 1]  # disability (4) and large_family (1)
    assert 'data-series="disability"' not in journeys
    assert len(re.findall(r'<rect class="bar"', journeys)) == 7


async def test_waiting_now(services: Services, staff_client: Client) -> None:
    await add_cases(
        services,
        [
            ("urgent", "new", timedelta(minutes=10)),
            ("high", "open", timedelta(hours=2)),
            ("normal", "new", timedelta(hours=10)),
            ("normal", "new", timedelta(days=2)),
            ("normal", "open", timedelta(days=5)),
            ("normal", "closed", timedelta(days=1)),  # answered: not waiting
        ],
    )
    client = await staff_client("admin")
    html = (await client.get(PERIOD)).text
    priority = svg(html, "waiting-priority")
    assert bars(priority, "urgent") == [1]
    assert bars(priority, "high") == [1]
    assert bars(priority, "normal") == [3]
    age = svg(html, "waiting-age")
    for bucket in ("lt_1h", "1_4h", "4_24h", "1_3d", "gt_3d"):
        assert bars(age, bucket) == [1], bucket
    assert "больше 3 дней" in age


async def test_empty_database_renders(staff_client: Client) -> None:
    client = await staff_client("editor")
    response = await client.get("/admin/dashboard")
    assert response.status_code == 200
    html = response.text
    assert html.count("нет данных за период") >= 8  # every chart (and its table)
    assert '<rect class="bar"' not in html
    assert tile(html, "questions") == 0
    assert "ответов пока не искали" in html


async def test_default_period_is_twelve_weeks(staff_client: Client) -> None:
    client = await staff_client("editor")
    html = (await client.get("/admin/dashboard")).text
    today = monitoring.local_today()
    start = monitoring.monday(today) - timedelta(weeks=11)
    assert f'name="from" value="{start.isoformat()}"' in html
    assert f'name="to" value="{today.isoformat()}"' in html


@pytest.mark.parametrize(
    ("query", "note"),
    [
        ("from=banana&to=2025-13-45", "Не получилось прочитать дату «banana»"),
        ("from=2025-03-16&to=2025-03-03", "поменяли их местами"),
        ("from=1900-01-01&to=2025-03-16", "не длиннее двух лет"),
        ("from=%00%27%3Cscript%3E", "Не получилось прочитать дату"),
    ],
)
async def test_bad_dates_are_explained(staff_client: Client, query: str, note: str) -> None:
    client = await staff_client("editor")
    response = await client.get(f"/admin/dashboard?{query}")
    assert response.status_code == 200
    assert note in response.text
    assert "<script>" not in response.text.split("</head>", 1)[1]


async def test_period_filter(services: Services, staff_client: Client) -> None:
    await add_events(services, fixture())
    client = await staff_client("editor")
    html = (await client.get("/admin/dashboard?from=10.03.2025&to=2025-03-16")).text
    assert 'name="from" value="2025-03-10"' in html
    assert tile(html, "journeys") == 3  # the second week only (with Sunday night)
    assert tile(html, "new_families") == 0
    journeys = svg(html, "journeys")
    assert bars(journeys, "legal") == [2]


async def test_consultant_and_partner_are_refused(staff_client: Client) -> None:
    for role in ("consultant", "partner"):
        client = await staff_client(role)
        assert (await client.get("/admin/dashboard")).status_code == 403
        assert (await client.get("/admin/dashboard.csv")).status_code == 403


async def test_anonymous_is_sent_to_login(anonymous: StaffClient) -> None:
    response = await anonymous.get("/admin/dashboard.csv")
    assert response.status_code == 303
    assert "/admin/login" in response.headers["location"]


# -- the CSV ----------------------------------------------------------------------------
async def test_csv_export(services: Services, staff_client: Client) -> None:
    await add_events(services, fixture())
    await add_cases(services, [("urgent", "new", timedelta(minutes=5))])
    client = await staff_client("admin")
    response = await client.get("/admin/dashboard.csv?from=2025-03-03&to=2025-03-16")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="monitoring_2025-03-03_2025-03-16.csv"'
    )
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines() == [
        "section;week;key;count;label",
        "totals;;new_families;3;новые семьи",
        "totals;;journeys;10;входы в разделы",
        "totals;;cases;3;открыто обращений",
        "totals;;crisis;1;кризисные сигналы (срочно)",
        "totals;;elevated;2;тревожные сигналы",
        "totals;;questions;4;вопросов задано",
        "totals;;questions_found;3;из них с ответом",
        "totals;;finder;1;подборов мер поддержки",
        "totals;;org_request;0;заявок от организаций",
        "totals;;consent;0;согласий на обработку данных",
        "totals;;forget;0;просьб удалить данные",
        "totals;;safe_exit;0;«безопасных выходов»",
        "totals;;waiting;1;ждут ответа сейчас",
        "journeys;2025-03-03;legal;5;Юридическая помощь",
        "journeys;2025-03-03;pregnancy;2;Беременность",
        "journeys;2025-03-10;legal;2;Юридическая помощь",
        "journeys;2025-03-10;psychology;1;Психологическая помощь",
        "case_topics;2025-03-03;legal;2;Юридическая помощь",
        "case_topics;2025-03-10;crisis;1;Срочная помощь",
        "crisis;2025-03-10;elevated;2;тревожные сигналы",
        "crisis;2025-03-10;crisis;1;кризис (срочно)",
        "knowledge;2025-03-03;found;3;ответ найден",
        "knowledge;2025-03-10;not_found;1;ответа нет",
        "crisis_kinds;;elevated:distress;2;сильный стресс",
        "crisis_kinds;;crisis:suicide;1;мысли о суициде, самоповреждение",
        "channels;;telegram;12;Telegram",
        "channels;;vk;1;ВКонтакте",
        "channels;;web;1;чат на сайте",
        "languages;;ru;12;русский",
        "languages;;en;2;английский",
        "waiting_priority;;urgent;1;срочные",
        "waiting_age;;lt_1h;1;меньше 1 ч",
    ]


async def test_csv_empty_and_bad_dates(staff_client: Client) -> None:
    client = await staff_client("editor")
    response = await client.get("/admin/dashboard.csv?from=nonsense&to=")
    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "section;week;key;count;label"
    assert all(line.startswith("totals;;") for line in lines[1:])
    assert 'filename="monitoring_' in response.headers["content-disposition"]


# -- pure parts ---------------------------------------------------------------------------
def test_parse_period() -> None:
    today = date(2025, 3, 12)  # a Wednesday
    default = monitoring.parse_period(None, None, today)
    assert (default.start, default.end, default.notes) == (date(2024, 12, 23), today, ())
    assert len(default.weeks) == 12
    assert monitoring.parse_period("01.02.2025", "", today).start == date(2025, 2, 1)
    swapped = monitoring.parse_period("2025-03-10", "2025-03-01", today)
    assert (swapped.start, swapped.end) == (date(2025, 3, 1), date(2025, 3, 10))
    future = monitoring.parse_period("2025-03-01", "2030-01-01", today)
    assert future.end == today and future.notes
    long = monitoring.parse_period("2000-01-01", "2025-03-01", today)
    assert (long.end - long.start).days == monitoring.MAX_DAYS - 1


def test_period_bounds_are_moscow_midnights() -> None:
    period = monitoring.Period(date(2025, 3, 3), date(2025, 3, 9))
    assert period.bounds() == (
        datetime(2025, 3, 2, 21, tzinfo=UTC),
        datetime(2025, 3, 9, 21, tzinfo=UTC),
    )
    assert monitoring.week_of(datetime(2025, 3, 9, 20, tzinfo=UTC)) == date(2025, 3, 3)
    assert monitoring.week_of(datetime(2025, 3, 9, 21, tzinfo=UTC)) == date(2025, 3, 10)


def test_stacked_bars_chart() -> None:
    chart = charts.stacked_bars(
        "t",
        "Заголовок <b>",
        ["03.03", "10.03"],
        [charts.Series("a", "Серия A", (2, 0)), charts.Series("b", "Серия & B", (1, 3))],
        y_label="Штук",
        x_label="Неделя",
    )
    assert chart.startswith('<svg class="chart" id="t" viewBox="0 0 460 ')
    assert '<title id="t-title">Заголовок &lt;b&gt;</title>' in chart
    assert chart.count('<rect class="bar"') == 3  # the zero part is not drawn
    assert 'data-series="a" data-category="03.03" data-value="2"' in chart
    assert 'data-series="b" data-category="10.03" data-value="3"' in chart
    assert "Серия &amp; B" in chart and "Штук" in chart and "Неделя" in chart
    assert 'class="legend" data-series="a"' in chart


def test_horizontal_bars_chart() -> None:
    chart = charts.horizontal_bars(
        "h",
        "Языки",
        [charts.Bar("ru", "русский", 3), charts.Bar("en", "английский", 1)],
        x_label="Вопросов",
    )
    assert chart.count('<rect class="bar"') == 2
    assert 'data-series="ru" data-value="3" data-percent="75 %"' in chart
    assert "1 (25 %)" in chart


def test_empty_charts() -> None:
    for chart in (
        charts.stacked_bars(
            "e", "Пусто", ["03.03"], [charts.Series("a", "A", (0,))], y_label="", x_label=""
        ),
        charts.stacked_bars("e", "Пусто", [], [], y_label="", x_label=""),
        charts.horizontal_bars("e", "Пусто", [], x_label=""),
    ):
        assert 'data-empty="1"' in chart
        assert charts.EMPTY_TEXT in chart
        assert "<rect" not in chart


def test_nice_axis_and_percent() -> None:
    assert charts.nice_ceiling(0) == (1, 1)
    assert charts.nice_ceiling(3) == (3, 1)
    assert charts.nice_ceiling(37) == (40, 10)
    assert charts.nice_ceiling(101) == (150, 50)
    assert charts.percent_text(1, 300) == "<1 %"
    assert charts.percent_text(2, 3) == "67 %"
    assert charts.percent_text(0, 0) == "0 %"
