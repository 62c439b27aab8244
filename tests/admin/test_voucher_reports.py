"""The partners' report: numbers per partner and month, the ranking, the CSV —
and nothing in them that points at a family."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from admin.pages.voucher_reports import Period, parse_period
from bot.core.services import Services
from bot.storage.models import Case, Family, Offer, Partner, Voucher, utcnow
from bot.vouchers.codes import display, new_code
from tests.admin.conftest import Accounts, StaffClient

MakeClient = Callable[[str], Awaitable[StaffClient]]
PERIOD = "?from=2026-01&to=2026-03"


@pytest.fixture
async def codes(services: Services, accounts: Accounts) -> list[str]:
    """A small history: two partners, three offers, vouchers in every state."""
    past, future = utcnow() - timedelta(days=1), utcnow() + timedelta(days=10)
    async with services.db.session() as session:
        shop = Partner(name="Детский магазин «Аистёнок»", kind="children_shop")
        salon = Partner(name="Ателье «Новый стиль»", kind="salon")
        family = Family()
        session.add_all([shop, salon, family])
        await session.flush()
        case = Case(
            family_id=family.id,
            topic="pregnancy",
            specialty="psychologist",
            priority="normal",
            channel="telegram",
            language="ru",
        )
        kit = Offer(partner_id=shop.id, programme="life_certificate", title="Набор", value_rub=5000)
        dress = Offer(partner_id=salon.id, programme="new_life", title="Платье", value_rub=3000)
        cut = Offer(partner_id=salon.id, programme="new_life", title="Стрижка", discount_percent=50)
        session.add_all([case, kit, dress, cut])
        await session.flush()
        plan = [
            (kit, "2026-01", "redeemed", past),
            (kit, "2026-01", "redeemed", past),
            (kit, "2026-01", "expired", past),
            (kit, "2026-01", "issued", past),  # past its date, not swept yet: expired
            (kit, "2026-01", "revoked", future),
            (kit, "2026-02", "issued", future),
            (kit, "2026-02", "redeemed", past),
            (dress, "2026-01", "redeemed", past),
            (cut, "2026-01", "redeemed", past),
            (cut, "2026-01", "redeemed", past),
            *[(dress, "2025-12", "redeemed", past)] * 5,  # before the period
        ]
        vouchers = [
            Voucher(
                code=new_code(),
                offer_id=offer.id,
                partner_id=offer.partner_id,
                programme=offer.programme,
                family_id=family.id,
                case_id=case.id,
                status=status,
                month=month,
                issued_at=datetime(2026, 1, 10, tzinfo=UTC),
                expires_at=expires,
            )
            for offer, month, status, expires in plan
        ]
        session.add_all(vouchers)
    return [v.code for v in vouchers]


def test_the_period_is_read_kindly() -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert parse_period(None, None, now) == Period("2026-06", "2026-11")
    assert parse_period("2026-03", "2026-01", now) == Period("2026-01", "2026-03")
    assert parse_period("junk", "2026-13", now) == Period("2026-06", "2026-11")
    assert parse_period("2020-01", "2026-11", now) == Period("2023-12", "2026-11")


async def test_numbers_per_partner_and_month_and_the_ranking(
    staff_client: MakeClient, codes: list[str]
) -> None:
    client = await staff_client("admin")
    page = await client.get("/admin/vouchers/report" + PERIOD)
    assert page.status_code == 200
    text = page.text
    months = text[text.index('id="months"') :]

    def row(start: str) -> str:
        found = months[months.index(start) :]
        return found[: found.index("</tr>")]

    def cells(values: list[str]) -> str:
        return "".join(f'<td class="num">{v}</td>' for v in values)

    assert cells(["4", "2", "2", "0", "1", "10\u00a0000\u00a0₽"]) in row(
        "<td>Детский магазин «Аистёнок»</td><td>2026-01</td>"
    )
    assert cells(["2", "1", "0", "1", "0", "5\u00a0000\u00a0₽"]) in row(
        "<td>Детский магазин «Аистёнок»</td><td>2026-02</td>"
    )
    assert cells(["3", "3", "0", "0", "0", "3\u00a0000\u00a0₽"]) in row(
        "<td>Ателье «Новый стиль»</td><td>2026-01</td>"
    )
    assert "2025-12" not in months
    # Same number redeemed (3 each): the larger sum ranks first.
    ranking = text[text.index('id="ranking"') : text.index('id="months"')]
    assert ranking.index("Аистёнок") < ranking.index("Ателье")
    assert (
        '<td>1</td><td>Детский магазин «Аистёнок»</td><td class="num">3</td>'
        '<td class="num">15\u00a0000\u00a0₽</td>'
    ) in ranking
    for code in codes:
        assert code not in text and display(code) not in text and code[-4:] not in text
    assert "№" not in text  # no case numbers


async def test_csv_export(staff_client: MakeClient, codes: list[str]) -> None:
    client = await staff_client("admin")
    response = await client.get("/admin/vouchers/report.csv" + PERIOD)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="vouchers_2026-01_2026-03.csv"' in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    assert response.content.decode("utf-8-sig") == (
        "Партнёр;Месяц выдачи;Выдано;Использовано;Истекло;Действуют;Отозвано;"
        "Использовано на сумму, руб.\r\n"
        "Ателье «Новый стиль»;2026-01;3;3;0;0;0;3000\r\n"
        "Детский магазин «Аистёнок»;2026-01;4;2;2;0;1;10000\r\n"
        "Детский магазин «Аистёнок»;2026-02;2;1;0;1;0;5000\r\n"
    )
    for code in codes:
        assert code[-4:] not in response.text


async def test_an_empty_period_and_who_may_see_it(
    staff_client: MakeClient, codes: list[str]
) -> None:
    admin = await staff_client("admin")
    empty = await admin.get("/admin/vouchers/report?from=2024-01&to=2024-02")
    assert "За этот период сертификатов не выдавали." in empty.text
    for role in ("consultant", "editor", "partner"):
        client = await staff_client(role)
        assert (await client.get("/admin/vouchers/report")).status_code == 403
        assert (await client.get("/admin/vouchers/report.csv")).status_code == 403


def test_csv_cells_that_look_like_formulas_stay_text() -> None:
    """A partner named like an Excel formula must not run as one in the report."""
    from admin.web import csv_bytes

    body = csv_bytes(
        ("partner", "count"), [('=HYPERLINK("http://evil/")', 3), ("-1+1", 2), ("Аист", -1)]
    ).decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[1].startswith("\"'=HYPERLINK(")
    assert lines[2] == "'-1+1;2"
    assert lines[3] == "Аист;-1"  # numbers stay numbers
