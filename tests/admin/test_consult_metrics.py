"""Consultation metrics on the monitoring dashboard: waits for a person, closed
cases, ratings and the latest comments (text only), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from admin import monitoring
from admin.monitoring import Period
from bot.core.services import Services
from bot.storage.models import Case, Family, utcnow
from tests.admin.conftest import StaffClient

Client = Callable[[str], Awaitable[StaffClient]]

# The same fixed past period as the dashboard tests: Monday 03.03 to Sunday 16.03.2025.
PERIOD = Period(date(2025, 3, 3), date(2025, 3, 16))
PAGE = "/admin/dashboard?from=2025-03-03&to=2025-03-16"
DAY = datetime(2025, 3, 5, 9, tzinfo=UTC)
BEFORE = datetime(2025, 2, 20, 9, tzinfo=UTC)


async def add_cases(services: Services, specs: list[dict[str, Any]]) -> list[int]:
    """One case (with its own family) per spec; returns the family ids."""
    families = []
    async with services.db.session() as session:
        for spec in specs:
            family = Family()
            session.add(family)
            await session.flush()
            families.append(family.id)
            session.add(
                Case(
                    family_id=family.id,
                    topic="legal",
                    specialty="lawyer",
                    priority="normal",
                    channel="telegram",
                    language="ru",
                    **spec,
                )
            )
    return families


def taken(wait_minutes: int, at: datetime = DAY) -> dict[str, Any]:
    return {
        "status": "open",
        "queued_at": at - timedelta(minutes=wait_minutes),
        "taken_at": at,
    }


def closed(rating: int | None, comment: str = "", at: datetime = DAY) -> dict[str, Any]:
    return {
        "status": "closed",
        "queued_at": at - timedelta(hours=2),
        "taken_at": at - timedelta(hours=1),
        "closed_at": at,
        "rating": rating,
        "rating_comment": comment,
    }


def section(html: str) -> str:
    found = re.search(r'<section class="card consult".*?</section>', html, re.S)
    assert found
    return found.group(0)


def tile(html: str, name: str) -> str:
    found = re.search(rf'data-consult="{name}"><b>([^<]*)</b>(.*?)</div>', html, re.S)
    assert found, name
    return found.group(1) + "|" + re.sub(r"<[^>]+>", " ", found.group(2))


async def test_waits_closed_cases_and_ratings(services: Services, staff_client: Client) -> None:
    now = utcnow()
    families = await add_cases(
        services,
        [
            taken(10),
            taken(20),
            taken(30),
            taken(40),
            taken(120),
            taken(5, at=BEFORE),  # taken before the period: not counted
            {"status": "new", "queued_at": now - timedelta(hours=3)},
            {"status": "new", "queued_at": now - timedelta(minutes=10)},
            closed(5, "Спасибо, очень помогли!"),
            closed(4),
            closed(2, "Долго ждали ответа"),
            closed(None),  # closed, never rated
            closed(1, "До периода", at=BEFORE),  # not this period
        ],
    )
    async with services.db.session() as session:
        metrics = await monitoring.consult_metrics(session, PERIOD, now)
    # The five closed in the period were taken an hour before closing: taken too.
    assert metrics.taken == 5 + 4
    assert metrics.wait_median == timedelta(minutes=60)
    assert metrics.wait_p90 == timedelta(minutes=120)
    assert metrics.waiting_now == 2
    assert metrics.longest_wait == timedelta(hours=3)
    assert metrics.closed == 4
    assert metrics.ratings == 3
    assert metrics.rating_average == 3.7  # (5 + 4 + 2) / 3
    assert metrics.good_percent == 67
    assert set(metrics.comments) == {"Спасибо, очень помогли!", "Долго ждали ответа"}

    client = await staff_client("editor")
    html = section((await client.get(PAGE)).text)
    assert tile(html, "taken").startswith("9|")
    assert tile(html, "wait").startswith("1 ч 00 мин|") and "не дольше 2 ч 00 мин" in html
    assert tile(html, "waiting_now").startswith("2|") and "дольше всех — 3 ч 00 мин" in html
    assert tile(html, "closed").startswith("4|")
    rating = tile(html, "rating")
    assert rating.startswith("3,7|") and "оценок: 3, из них 4–5: 67 %" in rating
    assert "«Спасибо, очень помогли!»" in html and "«Долго ждали ответа»" in html
    assert "До периода" not in html
    # Text only: nothing that points at a family or a case.
    assert "href" not in html
    for family_id in families:
        assert f"/cases/{family_id}" not in html and f"family={family_id}" not in html


async def test_only_the_latest_five_comments_shortened_and_escaped(
    services: Services, staff_client: Client
) -> None:
    specs = [closed(5, f"Отзыв номер {i}", at=DAY + timedelta(hours=i)) for i in range(6)]
    specs.append(closed(3, "<script>alert(1)</script>", at=DAY + timedelta(days=2)))
    specs.append(closed(4, "очень " * 100, at=DAY + timedelta(days=3)))
    specs.append(closed(4, "   ", at=DAY + timedelta(days=4)))  # blank: not a comment
    await add_cases(services, specs)
    client = await staff_client("admin")
    html = section((await client.get(PAGE)).text)
    comments = re.findall(r"<li>«(.*?)»</li>", html, re.S)
    assert len(comments) == 5
    assert comments[0].startswith("очень очень") and comments[0].endswith("…")
    assert len(comments[0]) <= monitoring.COMMENT_MAX
    assert comments[1] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert comments[2:] == ["Отзыв номер 5", "Отзыв номер 4", "Отзыв номер 3"]
    assert "<script>alert" not in html


async def test_an_empty_period_says_so(staff_client: Client) -> None:
    client = await staff_client("editor")
    response = await client.get(PAGE)
    assert response.status_code == 200
    html = section(response.text)
    assert tile(html, "taken").startswith("0|")
    assert tile(html, "wait").startswith("—|") and "за период никого не брали" in html
    assert tile(html, "waiting_now").startswith("0|") and "дольше всех" not in html
    assert tile(html, "rating").startswith("—|") and "оценок пока нет" in html
    assert "Последние отзывы" not in html


async def test_waiting_now_does_not_depend_on_the_period(
    services: Services, staff_client: Client
) -> None:
    await add_cases(services, [{"status": "new", "queued_at": utcnow() - timedelta(days=2)}])
    client = await staff_client("admin")
    html = section((await client.get(PAGE)).text)  # a period long gone
    assert tile(html, "waiting_now").startswith("1|") and "дольше всех — 2 дн" in html


async def test_metrics_are_not_for_consultants_or_partners(staff_client: Client) -> None:
    for role in ("consultant", "partner"):
        client = await staff_client(role)
        assert (await client.get(PAGE)).status_code == 403


# -- pure parts ----------------------------------------------------------------------
def test_median_and_percentile() -> None:
    minutes = [timedelta(minutes=m) for m in (40, 10, 30, 20)]
    assert monitoring.median(minutes) == timedelta(minutes=25)
    assert monitoring.median(minutes[:3]) == timedelta(minutes=30)
    assert monitoring.percentile(minutes, 0.9) == timedelta(minutes=40)
    assert monitoring.percentile(minutes, 0.5) == timedelta(minutes=20)
    assert monitoring.median([]) is None and monitoring.percentile([], 0.9) is None
    ten = [timedelta(minutes=m) for m in range(1, 11)]
    assert monitoring.percentile(ten, 0.9) == timedelta(minutes=9)


def test_duration_text() -> None:
    assert monitoring.duration_text(None) == "—"
    assert monitoring.duration_text(timedelta(seconds=30)) == "меньше минуты"
    assert monitoring.duration_text(timedelta(minutes=25)) == "25 мин"
    assert monitoring.duration_text(timedelta(hours=3, minutes=5)) == "3 ч 05 мин"
    assert monitoring.duration_text(timedelta(days=2)) == "2 дн"
    assert monitoring.duration_text(timedelta(days=2, hours=4, minutes=30)) == "2 дн 4 ч"


def test_shorten() -> None:
    assert monitoring.shorten("  Спасибо,\n\nвсё  хорошо ") == "Спасибо, всё хорошо"
    long = monitoring.shorten("слово " * 100, limit=20)
    assert len(long) <= 20 and long.endswith("…")
