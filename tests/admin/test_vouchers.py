"""Issuing vouchers from a case, the list of vouchers with their pools, revoking
and re-issuing — as staff use them in the panel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import func, select, update

from admin.pages.vouchers import may_issue
from admin.web import FLASH_COOKIE
from bot.core.services import Services
from bot.storage.models import (
    AuditRecord,
    Case,
    Family,
    Identity,
    Offer,
    Partner,
    StaffUser,
    Voucher,
    utcnow,
)
from bot.vouchers import service
from bot.vouchers.codes import display
from tests.admin.conftest import Accounts, StaffClient
from tests.support.outbox import Recorder

MakeClient = Callable[[str], Awaitable[StaffClient]]


@dataclass
class World:
    family: int
    case: int  # psychologist's case of the family
    lawyer_case: int
    life: int  # life_certificate offer, quota 2
    new_life: int  # new_life offer, no quota
    shop: int
    sender: Recorder


@pytest.fixture
async def world(services: Services, accounts: Accounts) -> World:
    sender = Recorder(services)
    async with services.db.session() as session:
        shop = Partner(
            name="Детский магазин «Аистёнок»",
            kind="children_shop",
            city="makhachkala",
            addresses=["ул. Ленина, 1"],
        )
        salon = Partner(name="Ателье «Новый стиль»", kind="salon", city="derbent")
        family = Family()
        session.add_all([shop, salon, family])
        await session.flush()
        life = Offer(
            partner_id=shop.id,
            programme="life_certificate",
            title="Набор для новорождённого",
            covers="Подгузники, пелёнки",
            value_rub=5000,
            monthly_quota=2,
        )
        new_life = Offer(partner_id=salon.id, programme="new_life", title="Пошив платья")
        card = Offer(partner_id=shop.id, programme="family_card", title="Скидка 10%")
        session.add_all([life, new_life, card])
        session.add(
            Identity(family_id=family.id, channel="telegram", external_id="77", chat_id="77")
        )
        cases = [
            Case(
                family_id=family.id,
                topic="pregnancy",
                specialty=specialty,
                priority="high",
                channel="telegram",
                language="ru",
            )
            for specialty in ("psychologist", "lawyer")
        ]
        session.add_all(cases)
        await session.flush()
        return World(family.id, cases[0].id, cases[1].id, life.id, new_life.id, shop.id, sender)


def flash(response: httpx.Response) -> str:
    return unquote(response.cookies.get(FLASH_COOKIE) or "")


async def set_specialties(services: Services, accounts: Accounts, specialties: list[str]) -> None:
    async with services.db.session() as session:
        user = await session.get(StaffUser, accounts.users["consultant"].id)
        assert user is not None
        user.specialties = specialties


def test_who_may_issue_what() -> None:
    def user(role: str, *specialties: str, active: bool = True) -> StaffUser:
        return StaffUser(role=role, specialties=list(specialties), active=active)

    assert may_issue(user("admin"), "life_certificate")
    assert may_issue(user("admin"), "new_life")
    assert not may_issue(user("admin"), "family_card")  # families claim those themselves
    assert may_issue(user("consultant", "psychologist"), "life_certificate")
    assert not may_issue(user("consultant", "lawyer"), "life_certificate")
    assert not may_issue(user("consultant", "crisis"), "life_certificate")
    assert not may_issue(user("consultant", "social"), "life_certificate")
    for specialty in ("crisis", "psychologist", "social"):
        assert may_issue(user("consultant", specialty), "new_life")
    assert not may_issue(user("consultant", "lawyer"), "new_life")
    assert not may_issue(user("editor"), "life_certificate")
    assert not may_issue(user("partner"), "new_life")
    assert not may_issue(user("consultant", "psychologist", active=False), "life_certificate")


async def test_issuing_from_a_case_sends_the_family_its_code_and_qr(
    staff_client: MakeClient, services: Services, accounts: Accounts, world: World
) -> None:
    client = await staff_client("consultant")
    page = await client.get("/admin/cases")
    assert "Выдать сертификат" in page.text
    assert (
        "Детский магазин «Аистёнок», Махачкала — Набор для новорождённого (осталось 2 из 2)"
        in page.text
    )
    assert "Пошив платья (без ограничения" in page.text
    assert "Скидка 10%" not in page.text  # family-card offers are not issued by staff

    response = await client.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.life})
    assert response.status_code == 303
    assert flash(response) == "Сертификат выдан, семья получила его в мессенджере."

    async with services.db.session() as session:
        voucher = (await session.scalars(select(Voucher))).one()
        record = (
            await session.scalars(select(AuditRecord).where(AuditRecord.entity == "voucher"))
        ).one()
    assert voucher.family_id == world.family and voucher.case_id == world.case
    assert voucher.issued_by == accounts.users["consultant"].id
    assert record.action == "issue" and record.entity_id == str(voucher.id)
    assert record.after == {
        "offer_id": world.life,
        "programme": "life_certificate",
        "expires_at": voucher.expires_at.isoformat(),
    }
    assert voucher.code not in str(record.after) and display(voucher.code) not in str(record.after)

    [(chat, replies)] = await world.sender.flushed()
    assert chat == "77"
    [reply] = replies
    assert display(voucher.code) in reply.text
    assert reply.image is not None and reply.image.startswith(b"\x89PNG")

    # The pool now shows one used; the family already holds one, so a second is refused.
    page = await client.get("/admin/cases")
    assert "(осталось 1 из 2)" in page.text
    again = await client.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.life})
    assert again.status_code == 400
    assert "уже есть неиспользованный сертификат" in again.text


async def test_a_family_out_of_reach_gets_its_code_through_staff(
    staff_client: MakeClient, services: Services, world: World
) -> None:
    async with services.db.session() as session:  # the family blocked the bot
        await session.execute(update(Identity).values(blocked_at=utcnow()))
    client = await staff_client("admin")
    response = await client.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.life})
    async with services.db.session() as session:
        voucher = (await session.scalars(select(Voucher))).one()
    assert flash(response) == (
        "Сертификат выдан, но сообщение не доставлено: семья не на связи — "
        f"код можно передать лично: {display(voucher.code)}"
    )


async def test_after_a_safe_exit_nothing_is_sent_first(
    staff_client: MakeClient, services: Services, world: World
) -> None:
    async with services.db.session() as session:
        case = await session.get(Case, world.case)
        assert case is not None
        case.signals = ["safe_exit"]
    client = await staff_client("admin")
    page = await client.get("/admin/cases")
    assert "сообщение с сертификатом не будет отправлено" in page.text
    response = await client.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.life})
    async with services.db.session() as session:
        voucher = (await session.scalars(select(Voucher))).one()
    assert (await world.sender.flushed()) == []
    assert "«Быстрый выход»" in flash(response) and display(voucher.code) in flash(response)


async def test_an_exhausted_pool_says_so(
    staff_client: MakeClient, services: Services, world: World
) -> None:
    async with services.db.session() as session:
        others = [Family(), Family()]
        session.add_all(others)
        await session.flush()
        for family in others:
            await service.issue(session, offer_id=world.life, family_id=family.id)
    client = await staff_client("admin")
    page = await client.get("/admin/cases")
    assert "Набор для новорождённого (в этом месяце закончились)" in page.text
    response = await client.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.life})
    assert response.status_code == 400
    assert "закончились (2 из 2)" in response.text
    assert (await world.sender.flushed()) == []


async def test_a_closed_case_gets_no_voucher(
    staff_client: MakeClient, services: Services, world: World
) -> None:
    async with services.db.session() as session:
        case = await session.get(Case, world.case)
        assert case is not None
        case.status = "closed"
    client = await staff_client("admin")
    response = await client.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.life})
    assert response.status_code == 400
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Voucher)) == 0
    assert (await world.sender.flushed()) == []


async def test_who_may_issue_is_enforced_on_post(
    staff_client: MakeClient, services: Services, accounts: Accounts, world: World
) -> None:
    # The fixture consultant (psychologist, crisis) has no access to the lawyer's case.
    client = await staff_client("consultant")
    refused = await client.post(
        f"/admin/cases/{world.lawyer_case}/vouchers", {"offer_id": world.life}
    )
    assert refused.status_code == 403
    # A crisis specialist may give clothing and services, not a Certificate of Life.
    async with services.db.session() as session:
        case = await session.get(Case, world.case)
        assert case is not None
        case.specialty = "crisis"
    await set_specialties(services, accounts, ["crisis"])
    page = await client.get("/admin/cases")
    assert "Пошив платья" in page.text and "Набор для новорождённого" not in page.text
    refused = await client.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.life})
    assert refused.status_code == 403
    # A lawyer may issue nothing, even on their own case.
    await set_specialties(services, accounts, ["lawyer"])
    page = await client.get("/admin/cases")
    assert "Выдать сертификат" not in page.text
    refused = await client.post(
        f"/admin/cases/{world.lawyer_case}/vouchers", {"offer_id": world.life}
    )
    assert refused.status_code == 403
    for role in ("editor", "partner"):
        other = await staff_client(role)
        response = await other.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.life})
        assert response.status_code == 403
    async with services.db.session() as session:
        assert (await session.scalars(select(Voucher))).all() == []


async def test_a_social_worker_may_give_new_life_but_not_a_life_certificate(
    staff_client: MakeClient, services: Services, accounts: Accounts, world: World
) -> None:
    async with services.db.session() as session:
        case = await session.get(Case, world.case)
        assert case is not None
        case.specialty = "social"
    await set_specialties(services, accounts, ["social"])
    client = await staff_client("consultant")
    page = await client.get("/admin/cases")
    assert "Пошив платья" in page.text and "Набор для новорождённого" not in page.text
    refused = await client.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.life})
    assert refused.status_code == 403
    done = await client.post(f"/admin/cases/{world.case}/vouchers", {"offer_id": world.new_life})
    assert done.status_code == 303


async def test_an_empty_or_unknown_choice_is_explained(
    staff_client: MakeClient, world: World
) -> None:
    client = await staff_client("admin")
    for data in ({}, {"offer_id": "abc"}, {"offer_id": "999999"}):
        response = await client.post(f"/admin/cases/{world.case}/vouchers", data)
        assert response.status_code == 400
        assert "Выберите предложение из списка." in response.text
    missing = await client.post("/admin/cases/999999/vouchers", {"offer_id": world.life})
    assert missing.status_code == 404


async def _issue(services: Services, world: World, issued_by: int | None = None) -> Voucher:
    async with services.db.session() as session:
        return await service.issue(
            session,
            offer_id=world.life,
            family_id=world.family,
            case_id=world.case,
            issued_by=issued_by,
        )


async def test_the_list_shows_only_the_last_symbols_and_the_pools(
    staff_client: MakeClient, services: Services, world: World
) -> None:
    voucher = await _issue(services, world)
    client = await staff_client("admin")
    page = await client.get("/admin/vouchers")
    assert page.status_code == 200
    assert "…" + voucher.code[-4:] in page.text
    assert voucher.code not in page.text and display(voucher.code) not in page.text
    assert "Набор для новорождённого" in page.text and f"№{world.case}" in page.text
    # Pools: used / remaining per offer, this month.
    pools = page.text[page.text.index('id="pools"') :]
    row = pools[pools.index("Набор для новорождённого") :]
    row = row[: row.index("</tr>")]
    assert (
        '<td class="num">1</td>' in row
        and '<td class="num">1</td>\n      <td class="num">2</td>' in row
    )
    assert "без ограничения" in pools  # Пошив платья
    # Filters.
    empty = await client.get("/admin/vouchers?programme=new_life")
    assert "Под выбранные условия сертификатов нет." in empty.text
    assert "…" + voucher.code[-4:] in (await client.get("/admin/vouchers?status=issued")).text
    assert "…" + voucher.code[-4:] not in (await client.get("/admin/vouchers?status=redeemed")).text
    assert (
        "…" + voucher.code[-4:]
        in (await client.get(f"/admin/vouchers?partner={world.shop}&month={voucher.month}")).text
    )


async def test_a_consultant_sees_their_own_and_their_specialties(
    staff_client: MakeClient, services: Services, accounts: Accounts, world: World
) -> None:
    theirs = await _issue(services, world)  # a psychologist's case
    async with services.db.session() as session:
        other_family = Family()
        session.add(other_family)
        await session.flush()
        lawyers = await service.issue(
            session, offer_id=world.new_life, family_id=other_family.id, case_id=world.lawyer_case
        )
    client = await staff_client("consultant")
    page = await client.get("/admin/vouchers")
    assert "…" + theirs.code[-4:] in page.text
    assert "…" + lawyers.code[-4:] not in page.text
    refused = await client.post(f"/admin/vouchers/{lawyers.id}/revoke")
    assert refused.status_code == 403


async def test_revoke_and_reissue(
    staff_client: MakeClient, services: Services, world: World
) -> None:
    first = await _issue(services, world)
    client = await staff_client("consultant")
    response = await client.post(f"/admin/vouchers/{first.id}/reissue")
    assert response.status_code == 303
    assert flash(response).startswith(f"Старый код …{first.code[-4:]} больше не действует.")
    assert "семья получила его в мессенджере" in flash(response)
    async with services.db.session() as session:
        old = await session.get(Voucher, first.id)
        fresh = await session.scalar(select(Voucher).where(Voucher.replaces_id == first.id))
        assert old is not None and fresh is not None
        assert old.status == "revoked" and fresh.status == "issued" and fresh.month == old.month
        refused = await service.check(session, world.shop, first.code)
        assert refused.status == "revoked"
        assert (await service.check(session, world.shop, fresh.code)).status == "valid"
        actions = [
            (r.action, r.entity_id)
            for r in (await session.scalars(select(AuditRecord).order_by(AuditRecord.id))).all()
        ]
    assert actions == [("revoke", str(first.id)), ("reissue", str(fresh.id))]
    [(_, [reply])] = await world.sender.flushed()
    assert display(fresh.code) in reply.text and reply.image

    # A revoked code cannot be replaced again (its place went back to the pool).
    again = await client.post(f"/admin/vouchers/{first.id}/reissue")
    assert again.status_code == 303 and "Заменить можно только" in flash(again)

    revoked = await client.post(f"/admin/vouchers/{fresh.id}/revoke")
    assert (
        revoked.status_code == 303 and flash(revoked) == f"Сертификат …{fresh.code[-4:]} отозван."
    )
    async with services.db.session() as session:
        assert (await service.check(session, world.shop, fresh.code)).status == "revoked"
        record = await session.scalar(
            select(AuditRecord).where(
                AuditRecord.entity_id == str(fresh.id), AuditRecord.action == "revoke"
            )
        )
        assert record is not None and record.after == {"status": "revoked"}
    twice = await client.post(f"/admin/vouchers/{fresh.id}/revoke")
    assert "Отозвать можно только действующий" in flash(twice)


async def test_an_expired_voucher_shows_as_expired_and_can_be_replaced(
    staff_client: MakeClient, services: Services, world: World
) -> None:
    first = await _issue(services, world)
    async with services.db.session() as session:
        voucher = await session.get(Voucher, first.id)
        assert voucher is not None
        voucher.expires_at = utcnow() - timedelta(days=1)
    client = await staff_client("admin")
    page = await client.get("/admin/vouchers?status=expired")
    assert "…" + first.code[-4:] in page.text and "Отозвать" not in page.text
    response = await client.post(f"/admin/vouchers/{first.id}/reissue")
    assert "Новый код выдан" in flash(response)
