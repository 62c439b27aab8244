"""Vouchers per partner and month, and the partners' ranking for the region's
socially-responsible-business contest. Counts and sums only: no codes, no
families, no cases — nothing here points at a person.

A row's month is the month the vouchers were issued in (the quota month), so a
month's numbers add up: issued = redeemed + expired + still valid; revoked
vouchers gave their place back and are shown apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from admin.pages.vouchers import effective_status
from admin.web import ADMIN, Page, csv_bytes, page, render, state
from bot.storage.models import Offer, Partner, Voucher, utcnow
from bot.vouchers.service import quota_month

ADMINS = frozenset({ADMIN})
DEFAULT_MONTHS = 6
MAX_MONTHS = 36
CSV_HEADER = (
    "Партнёр",
    "Месяц выдачи",
    "Выдано",
    "Использовано",
    "Истекло",
    "Действуют",
    "Отозвано",
    "Использовано на сумму, руб.",
)


@dataclass(frozen=True, slots=True)
class Period:
    start: str  # "2026-06"
    end: str  # "2026-11", inclusive


def _month_number(month: str) -> int | None:
    if len(month) != 7 or month[4] != "-" or not month.replace("-", "").isdigit():
        return None
    year, number = int(month[:4]), int(month[5:])
    if not (2000 <= year <= 2100 and 1 <= number <= 12):
        return None
    return year * 12 + number - 1


def _month_text(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def parse_period(start: str | None, end: str | None, now: datetime) -> Period:
    """Months from the query (`from`, `to`: YYYY-MM), or the last six; at most 36."""
    current = _month_number(quota_month(now))
    assert current is not None
    last = _month_number(end or "") or current
    first = _month_number(start or "") or last - (DEFAULT_MONTHS - 1)
    if first > last:
        first, last = last, first
    first = max(first, last - (MAX_MONTHS - 1))
    return Period(_month_text(first), _month_text(last))


@dataclass(slots=True)
class Line:
    """One partner in one month (or, for the ranking, over the whole period)."""

    partner_id: int
    partner: str
    month: str = ""
    redeemed: int = 0
    expired: int = 0
    valid: int = 0
    revoked: int = 0
    value_rub: int = 0

    @property
    def issued(self) -> int:
        return self.redeemed + self.expired + self.valid

    def add(self, status: str, count: int, value: int) -> None:
        if status == "redeemed":
            self.redeemed += count
            self.value_rub += value
        elif status == "expired":
            self.expired += count
        elif status == "issued":
            self.valid += count
        elif status == "revoked":
            self.revoked += count


@dataclass(slots=True)
class Report:
    period: Period
    lines: list[Line] = field(default_factory=list)  # partner name, then month
    ranking: list[Line] = field(default_factory=list)  # most redeemed first
    totals: Line = field(default_factory=lambda: Line(0, "Всего"))


async def build(session: AsyncSession, period: Period, now: datetime) -> Report:
    """All the numbers in one GROUP BY (partner, month, status as of now)."""
    # The status as of now is computed in a subquery and grouped on by name:
    # PostgreSQL will not match an expression with a bound `now` in GROUP BY.
    vouchers = (
        select(
            Voucher.partner_id,
            Voucher.month,
            effective_status(now).label("shown"),
            Offer.value_rub,
        )
        .join(Offer, Offer.id == Voucher.offer_id)
        .where(Voucher.month >= period.start, Voucher.month <= period.end)
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                vouchers.c.partner_id,
                Partner.name,
                vouchers.c.month,
                vouchers.c.shown,
                func.count(),
                func.sum(vouchers.c.value_rub),
            )
            .join(Partner, Partner.id == vouchers.c.partner_id)
            .group_by(vouchers.c.partner_id, Partner.name, vouchers.c.month, vouchers.c.shown)
        )
    ).all()
    lines: dict[tuple[int, str], Line] = {}
    overall: dict[int, Line] = {}
    report = Report(period)
    for partner_id, name, month, shown, count, value in rows:
        count, value = int(count), int(value or 0)
        lines.setdefault((partner_id, month), Line(partner_id, name, month)).add(
            shown, count, value
        )
        overall.setdefault(partner_id, Line(partner_id, name)).add(shown, count, value)
        report.totals.add(shown, count, value)
    report.lines = sorted(
        lines.values(), key=lambda x: (x.partner.casefold(), x.month, x.partner_id)
    )
    report.ranking = sorted(
        overall.values(),
        key=lambda x: (-x.redeemed, -x.value_rub, x.partner.casefold(), x.partner_id),
    )
    return report


def roubles(value: int) -> str:
    return f"{value:,}".replace(",", "\u00a0") + "\u00a0₽"


async def load(request: Request) -> Report:
    now = utcnow()
    period = parse_period(request.query_params.get("from"), request.query_params.get("to"), now)
    async with state(request).services.db.session() as session:
        return await build(session, period, now)


async def report_page(request: Request) -> Response:
    report = await load(request)
    query = urlencode({"from": report.period.start, "to": report.period.end})
    return render(
        request,
        "voucher_reports.html",
        report=report,
        csv_query=query,
        roubles=roubles,
    )


async def report_csv(request: Request) -> Response:
    report = await load(request)
    body = csv_bytes(
        CSV_HEADER,
        (
            (
                line.partner,
                line.month,
                line.issued,
                line.redeemed,
                line.expired,
                line.valid,
                line.revoked,
                line.value_rub,
            )
            for line in report.lines
        ),
    )
    name = f"vouchers_{report.period.start}_{report.period.end}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


ROUTES: list[Page] = [
    page("/vouchers/report", report_page, ADMINS),
    page("/vouchers/report.csv", report_csv, ADMINS),
]
