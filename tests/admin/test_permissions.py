"""The role/permission matrix: every route of the panel, for every role and for
a visitor who is not logged in. A page's declared roles are its whole access
rule; this test holds every page to it (and writes the matrix out for review)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from admin.app import all_pages
from admin.web import Page
from bot.core.services import Services
from bot.storage.models import (
    Announcement,
    AuditRecord,
    CannedReply,
    Case,
    Family,
    FamilyCard,
    Offer,
    OrgRequest,
    Voucher,
    utcnow,
)
from tests.admin.conftest import ROLES, Accounts, StaffClient

MakeClient = Callable[[str], Awaitable[StaffClient]]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
KNOWN_PARAMS = {
    "entry_id",
    "partner_id",
    "offer_id",
    "request_id",
    "user_id",
    "record_id",
    "journey",
    "case_id",
    "voucher_id",
    "card_id",
    "reply_id",
    "announcement_id",
}


def test_every_path_parameter_is_one_the_matrix_can_fill() -> None:
    for p in all_pages():
        assert set(_PARAM.findall(p.path)) <= KNOWN_PARAMS, p.path


def test_every_page_declares_who_may_open_it() -> None:
    public = {(p.path, p.methods) for p in all_pages() if not p.roles}
    assert public == {("/login", ("GET",)), ("/login", ("POST",))}


@pytest.fixture
async def samples(services: Services, accounts: Accounts) -> dict[str, str]:
    """One existing row for every kind of id a path can carry."""
    async with services.db.session() as session:
        offer = Offer(
            partner_id=accounts.partner.id, programme="life_certificate", title="Набор для малыша"
        )
        request = OrgRequest(kind="partner", org_name="Магазин", channel="web", language="ru")
        record = AuditRecord(user_login="admin-user", action="update", entity="partner")
        family = Family()
        reply = CannedReply(title="Приветствие", text="Здравствуйте!")
        announcement = Announcement(text="Праздник в субботу")
        session.add_all([offer, request, record, family, reply, announcement])
        await session.flush()
        case = Case(
            family_id=family.id,
            topic="pregnancy",
            specialty="psychologist",
            priority="high",
            channel="telegram",
            language="ru",
        )
        card = FamilyCard(family_id=family.id, number="1234567890", categories=["pregnancy"])
        session.add_all([case, card])
        await session.flush()
        voucher = Voucher(
            code="0123456789AB",
            offer_id=offer.id,
            partner_id=offer.partner_id,
            programme=offer.programme,
            family_id=family.id,
            case_id=case.id,
            month="2026-11",
            expires_at=utcnow() + timedelta(days=30),
        )
        session.add(voucher)
        await session.flush()
        return {
            "entry_id": "maternity-capital",
            "partner_id": str(accounts.other_partner.id),
            "offer_id": str(offer.id),
            "request_id": str(request.id),
            "user_id": str(accounts.users["editor"].id),
            "record_id": str(record.id),
            "journey": "menu",
            "case_id": str(case.id),
            "voucher_id": str(voucher.id),
            "card_id": str(card.id),
            "reply_id": str(reply.id),
            "announcement_id": str(announcement.id),
        }


def _fill(page: Page, samples: dict[str, str]) -> str:
    return "/admin" + _PARAM.sub(lambda m: samples[m.group(1)], page.path)


async def _call(client: StaffClient, page: Page, samples: dict[str, str]) -> int:
    path = _fill(page, samples)
    if page.methods == ("GET",):
        return (await client.get(path)).status_code
    return (await client.post(path, {})).status_code


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_gets_exactly_its_pages(
    role: str,
    staff_client: MakeClient,
    samples: dict[str, str],
    services: Services,
) -> None:
    rows = []
    for page in all_pages():
        if not page.roles:
            continue
        # A fresh session per request: a POST may log out or change the account.
        client = await staff_client(role)
        status = await _call(client, page, samples)
        allowed = role in page.roles
        rows.append(f"| {page.methods[0]} {page.path} | {role} | {status} |")
        if allowed:
            assert status not in (401, 403) and status < 500, (page.path, role, status)
        else:
            assert status == 403, (page.path, role, status)
    if services.db.url.startswith("sqlite"):
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"permissions-{role}.md").write_text(
            "| route | role | status |\n|---|---|---|\n" + "\n".join(rows) + "\n",
            encoding="utf-8",
        )


async def test_a_visitor_who_is_not_logged_in_gets_nothing(
    anonymous: StaffClient, samples: dict[str, str]
) -> None:
    for page in all_pages():
        if not page.roles:
            continue
        path = _fill(page, samples)
        if page.methods == ("GET",):
            response = await anonymous.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/admin/login?next="), path
        else:
            response = await anonymous.http.post(path, data={"csrf": "guess"})
            assert response.status_code == 401, path
