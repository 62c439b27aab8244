"""Social monitoring: what families ask for and where support is missing, by week.

Everything here is an aggregate. The bot's hourly counters (EventCount) say how
many, of what kind — never who; the case queue is only counted by priority and
age. A few GROUP BY queries read the period; the weeks are made in Python
from the hourly rows (the table holds counters, so it stays small).

Consultations (`consult_metrics`) are read from the cases themselves: how long
families waited for a person, how many cases were closed, how families rated
the help — with the latest rating comments as text only, tied to no one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, literal, not_, select
from sqlalchemy import case as when
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import OPEN_STATUSES
from bot.journeys.book import JourneyBook
from bot.storage.models import Case, EventCount, utcnow

# The centre works in Moscow time: Dagestan is UTC+3 all year (no summer time
# since 2014). Counters are stored per UTC hour; a week is an ISO week (from
# Monday) of the centre's calendar, so an evening message on Sunday 23:30 local
# time belongs to that Sunday's week, not to Monday's (which UTC would say).
# The fixed offset is a fallback for a system without the tz database.
try:
    CENTRE_TZ: tzinfo = ZoneInfo("Europe/Moscow")
except ZoneInfoNotFoundError:  # pragma: no cover (tzdata is present on our servers)
    CENTRE_TZ = timezone(timedelta(hours=3), "MSK")

DEFAULT_WEEKS = 12
MAX_DAYS = 731  # about two years: enough for a yearly report with last year beside it
TOP_JOURNEYS = 6
# Going back to the main menu or changing the language is moving around, not a need.
SERVICE_JOURNEYS = ("menu", "settings")
# What counts as "a family asked for something": a section entered or a question typed.
REQUEST_KINDS = ("journey", "kb_hit", "kb_miss")
OTHER_KINDS = ("finder", "org_request", "consent", "forget", "safe_exit")
KINDS = ("journey", "case", "crisis", "elevated", "kb_hit", "kb_miss", "new_family", *OTHER_KINDS)

# Age of a waiting case: (key, label, hours it is younger than).
AGE_BUCKETS = (
    ("lt_1h", "меньше 1 ч", 1),
    ("1_4h", "1–4 ч", 4),
    ("4_24h", "4–24 ч", 24),
    ("1_3d", "1–3 дня", 72),
    ("gt_3d", "больше 3 дней", None),
)
PRIORITIES = ("urgent", "high", "normal")

# -- labels (Russian, for staff and for the CSV's label column) ----------------------
PRIORITY_LABELS = {"urgent": "срочные", "high": "важные", "normal": "обычные"}
CHANNEL_LABELS = {
    "telegram": "Telegram",
    "vk": "ВКонтакте",
    "web": "чат на сайте",
    "cli": "тестовая консоль",
}
LANGUAGE_LABELS = {"ru": "русский", "en": "английский"}
CRISIS_LABELS = {
    "crisis": "кризис (срочно)",
    "elevated": "тревожные сигналы",
    "crisis:suicide": "мысли о суициде, самоповреждение",
    "crisis:violence": "насилие сейчас",
    "crisis:child": "ребёнок в опасности",
    "crisis:pregnancy": "экстренная ситуация при беременности",
    "crisis:medical": "угроза здоровью",
    "crisis:general": "другая опасность",
    "elevated:distress": "сильный стресс",
    "elevated:violence_past": "насилие в прошлом",
    "elevated:abortion_intent": "мысли об аборте",
    "elevated:pregnancy_crisis": "кризисная беременность",
    "elevated:housing_loss": "угроза потери жилья",
    "elevated:addiction": "зависимость",
}
KNOWLEDGE_LABELS = {"found": "ответ найден", "not_found": "ответа нет"}
TOTAL_LABELS = {
    "new_families": "новые семьи",
    "journeys": "входы в разделы",
    "cases": "открыто обращений",
    "crisis": "кризисные сигналы (срочно)",
    "elevated": "тревожные сигналы",
    "questions": "вопросов задано",
    "questions_found": "из них с ответом",
    "finder": "подборов мер поддержки",
    "org_request": "заявок от организаций",
    "consent": "согласий на обработку данных",
    "forget": "просьб удалить данные",
    "safe_exit": "«безопасных выходов»",
    "waiting": "ждут ответа сейчас",
}


def label(section: str, key: str, book: JourneyBook | None = None) -> str:
    """A key as staff read it; unknown keys are shown as they are."""
    if key == "other":
        return "другое"
    if section == "journeys" and book is not None and key in book.journeys:
        return book.journeys[key].title
    if section == "case_topics" and book is not None:
        titles = {j.topic: j.title for j in book.journeys.values()}
        return titles.get(key, key)
    tables: dict[str, dict[str, str]] = {
        "totals": TOTAL_LABELS,
        "crisis": CRISIS_LABELS,
        "crisis_kinds": CRISIS_LABELS,
        "knowledge": KNOWLEDGE_LABELS,
        "channels": CHANNEL_LABELS,
        "languages": LANGUAGE_LABELS,
        "waiting_priority": PRIORITY_LABELS,
        "waiting_age": {k: text for k, text, _ in AGE_BUCKETS},
    }
    return tables.get(section, {}).get(key, key or "не указано")


# -- the period -------------------------------------------------------------------
def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def local_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(CENTRE_TZ).date()


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # inclusive
    notes: tuple[str, ...] = ()

    @property
    def weeks(self) -> list[date]:
        """Mondays of every ISO week the period touches (the first and last may be partial)."""
        first, last = monday(self.start), monday(self.end)
        return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC: midnight to midnight of the centre's days."""
        start = datetime.combine(self.start, time(0), CENTRE_TZ).astimezone(UTC)
        end = datetime.combine(self.end + timedelta(days=1), time(0), CENTRE_TZ).astimezone(UTC)
        return start, end


def default_period(today: date) -> Period:
    """The last 12 weeks up to today: 11 whole ISO weeks and the current one."""
    return Period(monday(today) - timedelta(weeks=DEFAULT_WEEKS - 1), today)


_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


# Beyond these, date arithmetic overflows (year 1 minus a few hours) and nothing was counted.
EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)


def parse_day(raw: str | None) -> date | None:
    """2025-03-01 (what a date field sends) or 01.03.2025 (what people type)."""
    text = (raw or "").strip()[:20]
    try:
        if dotted := _DOTTED.match(text):
            day, month, year = (int(part) for part in dotted.groups())
            found = date(year, month, day)
        else:
            found = date.fromisoformat(text)
    except ValueError:
        return None
    return found if EARLIEST <= found <= LATEST else None


def parse_period(raw_from: str | None, raw_to: str | None, today: date) -> Period:
    """A period from the filter form; anything odd is corrected and explained, never an error."""
    default = default_period(today)
    notes: list[str] = []
    start, end = parse_day(raw_from), parse_day(raw_to)
    for raw, parsed in ((raw_from, start), (raw_to, end)):
        if (raw or "").strip() and parsed is None:
            notes.append(
                f"Не получилось прочитать дату «{(raw or '').strip()[:20]}». "
                "Введите её как 31.12.2025 — пока вместо неё взята дата по умолчанию."
            )
    if end is None:
        end = default.end if start is None else max(start, today)
    if start is None:
        start = monday(end) - timedelta(weeks=DEFAULT_WEEKS - 1)
    if end > today:
        end = max(today, start)
        notes.append("Дата окончания ещё не наступила: показано по сегодняшний день.")
    if end < start:
        start, end = end, start
        notes.append("Дата начала была позже даты окончания — мы поменяли их местами.")
    if (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
        notes.append("Период можно выбрать не длиннее двух лет: начало сдвинуто.")
    return Period(start, end, tuple(notes))


# -- the report -------------------------------------------------------------------
@dataclass
class Weekly:
    """Counts per (week, key) for one section; keys ordered biggest first."""

    section: str
    weeks: list[date]
    counts: Counter[tuple[date, str]] = field(default_factory=Counter)

    def add(self, week: date, key: str, count: int) -> None:
        self.counts[(week, key)] += count

    def totals(self) -> Counter[str]:
        result: Counter[str] = Counter()
        for (_, key), count in self.counts.items():
            result[key] += count
        return result

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in sorted(self.totals().items(), key=lambda kv: (-kv[1], kv[0]))]

    def values(self, key: str) -> tuple[int, ...]:
        return tuple(self.counts[(week, key)] for week in self.weeks)

    def total(self) -> int:
        return sum(self.counts.values())

    def top(self, limit: int) -> Weekly:
        """The biggest `limit` keys, the rest summed as "other"."""
        keep = set(self.keys[:limit]) if len(self.keys) > limit + 1 else set(self.keys)
        result = Weekly(self.section, self.weeks)
        for (week, key), count in self.counts.items():
            result.add(week, key if key in keep else "other", count)
        return result


@dataclass
class Report:
    period: Period
    journeys: Weekly
    case_topics: Weekly
    crisis: Weekly  # keys "crisis" (urgent) and "elevated"
    knowledge: Weekly  # keys "found" and "not_found"
    crisis_kinds: Counter[str]  # "crisis:suicide", "elevated:distress", ...
    channels: Counter[str]
    languages: Counter[str]
    waiting_priority: Counter[str]
    waiting_age: Counter[str]
    totals: dict[str, int]

    @property
    def found_percent(self) -> int | None:
        asked = self.totals["questions"]
        return round(100 * self.totals["questions_found"] / asked) if asked else None

    @property
    def empty(self) -> bool:
        return not any(v for k, v in self.totals.items() if k != "waiting")


def week_of(hour: datetime) -> date:
    """The Monday of the centre's ISO week an hourly counter falls in."""
    return monday(hour.astimezone(CENTRE_TZ).date())


def _crisis_key(kind: str, topic: str) -> str:
    topic = topic.removeprefix(f"{kind}:") or "general"
    return f"{kind}:{topic}"


async def build_report(session: AsyncSession, period: Period, now: datetime) -> Report:
    """Every figure of the dashboard: four GROUP BY queries, whatever the period's length."""
    start, end = period.bounds()
    weeks = period.weeks
    in_period = and_(EventCount.hour >= start, EventCount.hour < end)
    journeys = Weekly("journeys", weeks)
    case_topics = Weekly("case_topics", weeks)
    crisis = Weekly("crisis", weeks)
    knowledge = Weekly("knowledge", weeks)
    crisis_kinds: Counter[str] = Counter()
    kinds: Counter[str] = Counter()

    hourly = await session.execute(
        select(EventCount.hour, EventCount.kind, EventCount.topic, func.sum(EventCount.count))
        .where(in_period, EventCount.kind.in_(KINDS))
        .group_by(EventCount.hour, EventCount.kind, EventCount.topic)
    )
    for hour, kind, topic, summed in hourly.all():
        count, week = int(summed or 0), week_of(hour)
        if kind == "journey":
            if topic in SERVICE_JOURNEYS:
                continue
            journeys.add(week, topic, count)
        elif kind == "case":
            case_topics.add(week, topic or "other", count)
        elif kind in ("crisis", "elevated"):
            crisis.add(week, kind, count)
            crisis_kinds[_crisis_key(kind, topic)] += count
        elif kind in ("kb_hit", "kb_miss"):
            knowledge.add(week, "found" if kind == "kb_hit" else "not_found", count)
        kinds[kind] += count

    # Channel and language of what families asked for (sections and questions).
    asked = and_(
        in_period,
        EventCount.kind.in_(REQUEST_KINDS),
        not_(and_(EventCount.kind == "journey", EventCount.topic.in_(SERVICE_JOURNEYS))),
    )
    channels: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    for column, target in ((EventCount.channel, channels), (EventCount.language, languages)):
        rows = await session.execute(
            select(column, func.sum(EventCount.count)).where(asked).group_by(column)
        )
        for key, summed in rows.all():
            target[key or ""] += int(summed or 0)

    waiting_priority, waiting_age = await waiting_now(session, now)
    knowledge_totals = knowledge.totals()
    totals = {
        "new_families": kinds["new_family"],
        "journeys": journeys.total(),
        "cases": case_topics.total(),
        "crisis": kinds["crisis"],
        "elevated": kinds["elevated"],
        "questions": knowledge.total(),
        "questions_found": knowledge_totals["found"],
        **{kind: kinds[kind] for kind in OTHER_KINDS},
        "waiting": sum(waiting_priority.values()),
    }
    return Report(
        period=period,
        journeys=journeys,
        case_topics=case_topics,
        crisis=crisis,
        knowledge=knowledge,
        crisis_kinds=crisis_kinds,
        channels=channels,
        languages=languages,
        waiting_priority=waiting_priority,
        waiting_age=waiting_age,
        totals=totals,
    )


async def waiting_now(session: AsyncSession, now: datetime) -> tuple[Counter[str], Counter[str]]:
    """Open cases right now, by priority and by how long they have waited."""
    whens = [
        (Case.created_at > now - timedelta(hours=hours), literal(key))
        for key, _, hours in AGE_BUCKETS
        if hours is not None
    ]
    age = when(*whens, else_=literal(AGE_BUCKETS[-1][0])).label("age")
    # Grouped in an outer query: PostgreSQL will not group by a CASE whose
    # parameters are bound separately in SELECT and GROUP BY.
    inner = select(Case.priority, age).where(Case.status.in_(OPEN_STATUSES)).subquery()
    rows = await session.execute(
        select(inner.c.priority, inner.c.age, func.count()).group_by(inner.c.priority, inner.c.age)
    )
    by_priority: Counter[str] = Counter()
    by_age: Counter[str] = Counter()
    for priority, bucket, count in rows.all():
        by_priority[priority] += int(count)
        by_age[bucket] += int(count)
    return by_priority, by_age


# -- long format (the CSV) ------------------------------------------------------------
Row = tuple[str, str, str, int]  # section, week (Monday, ISO) or "", key, count


def rows(report: Report) -> list[Row]:
    """Every aggregate in long format. Zero counts are left out (an empty cell in a
    pivot table), except the totals, which are always all there."""
    result: list[Row] = [("totals", "", key, count) for key, count in report.totals.items()]
    for weekly in (report.journeys, report.case_topics, report.crisis, report.knowledge):
        keys = weekly.keys
        for week in weekly.weeks:
            for key in keys:
                if count := weekly.counts[(week, key)]:
                    result.append((weekly.section, week.isoformat(), key, count))
    for section, counter in (
        ("crisis_kinds", report.crisis_kinds),
        ("channels", report.channels),
        ("languages", report.languages),
        ("waiting_priority", report.waiting_priority),
        ("waiting_age", report.waiting_age),
    ):
        ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        if section == "waiting_priority":
            ordered = [(p, counter[p]) for p in PRIORITIES if counter[p]]
        elif section == "waiting_age":
            ordered = [(k, counter[k]) for k, _, _ in AGE_BUCKETS if counter[k]]
        result.extend((section, "", key, count) for key, count in ordered if count)
    return result


# -- consultations ----------------------------------------------------------------------
COMMENTS_SHOWN = 5
COMMENT_MAX = 200  # characters of one rating comment on the dashboard
GOOD_RATINGS = (4, 5)


@dataclass(frozen=True, slots=True)
class ConsultMetrics:
    """How the live consultations went in a period, and who waits right now."""

    taken: int  # cases a consultant took in the period
    wait_median: timedelta | None  # queued_at → taken_at of those
    wait_p90: timedelta | None
    waiting_now: int  # in the queue at this moment (whatever the period)
    longest_wait: timedelta | None  # of those
    closed: int  # cases closed in the period
    ratings: int  # of the cases closed in the period, how many the family rated
    rating_average: float | None
    good_percent: int | None  # rated 4 or 5
    comments: tuple[str, ...]  # the latest rating comments, shortened


def percentile(values: list[timedelta], share: float) -> timedelta | None:
    """Nearest-rank percentile: the smallest value at least `share` of all are not above."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(values) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def shorten(comment: str, limit: int = COMMENT_MAX) -> str:
    """One line, at most `limit` characters (the dashboard shows a glimpse, not a letter)."""
    flat = " ".join(comment.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


async def consult_metrics(
    session: AsyncSession, period: Period, now: datetime | None = None
) -> ConsultMetrics:
    """Four small queries, whatever the period's length; the times are compared in
    Python, so SQLite and PostgreSQL give the same answer."""
    now = now or utcnow()
    start, end = period.bounds()
    taken_rows = await session.execute(
        select(Case.queued_at, Case.taken_at).where(Case.taken_at >= start, Case.taken_at < end)
    )
    # A clock step or a re-queue after taking must not make a wait negative.
    waits = [max(taken - queued, timedelta(0)) for queued, taken in taken_rows.all() if taken]

    in_period = and_(Case.closed_at >= start, Case.closed_at < end)
    by_rating: Counter[int | None] = Counter()
    for rating, count in (
        await session.execute(
            select(Case.rating, func.count()).where(in_period).group_by(Case.rating)
        )
    ).all():
        by_rating[rating] += int(count)
    rated = {r: n for r, n in by_rating.items() if r is not None}
    ratings = sum(rated.values())

    comments = await session.scalars(
        select(Case.rating_comment)
        .where(in_period, func.trim(Case.rating_comment) != "")
        .order_by(Case.closed_at.desc(), Case.id.desc())
        .limit(COMMENTS_SHOWN)
    )

    waiting, oldest = (
        await session.execute(
            select(func.count(), func.min(Case.queued_at)).where(Case.status == "new")
        )
    ).one()
    return ConsultMetrics(
        taken=len(waits),
        wait_median=median(waits),
        wait_p90=percentile(waits, 0.9),
        waiting_now=int(waiting or 0),
        longest_wait=max(now - oldest, timedelta(0)) if waiting and oldest else None,
        closed=sum(by_rating.values()),
        ratings=ratings,
        rating_average=(
            round(sum(r * n for r, n in rated.items()) / ratings, 1) if ratings else None
        ),
        good_percent=(
            round(100 * sum(n for r, n in rated.items() if r in GOOD_RATINGS) / ratings)
            if ratings
            else None
        ),
        comments=tuple(shorten(c) for c in comments.all()),
    )


def duration_text(value: timedelta | None) -> str:
    """«меньше минуты», «25 мин», «3 ч 05 мин», «2 дн 4 ч» — for staff."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    if minutes < 1:
        return "меньше минуты"
    if minutes < 60:
        return f"{minutes} мин"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} ч {minutes:02d} мин"
    days, hours = divmod(hours, 24)
    return f"{days} дн {hours} ч" if hours else f"{days} дн"
