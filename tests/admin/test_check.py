"""The partner's code check page and API: what a shop sees for every kind of
code (and never who holds it), one-tap redemption exactly once, the family told,
and the lockout for wrong codes — per account and per address."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from admin.pages import check
from bot.core.services import Services
from bot.storage import throttle
from bot.storage.models import (
    AuditRecord,
    Case,
    Family,
    Identity,
    Offer,
    StaffUser,
    Throttle,
    Voucher,
    utcnow,
)
from bot.vouchers.codes import ALPHABET, display, new_code
from tests.admin.conftest import Accounts, StaffClient, password_hash, session_client
from tests.support.outbox import Recorder
from tests.support.vouchers import make_voucher

MakeClient = Callable[[str], Awaitable[StaffClient]]

# Recognisable values in the holder's rows: none may ever reach the shop.
FAMILY_ID, CASE_ID, ISSUER_ID = 987654, 876543, 765432
MARKERS = (
    "МАРКЕР",
    str(FAMILY_ID),
    str(CASE_ID),
    str(ISSUER_ID),
    "issuer-marker",
    "qzmark",
    "chat-marker",
    "violence",
    "new_life",
    "новую жизнь",
)


@dataclass
class Shop:
    offer: int  # an offer of the partner user's own shop
    other_offer: int  # an offer of another shop
    family: int
    case: int
    telegram: Recorder


@pytest.fixture
async def shop(services: Services, accounts: Accounts) -> Shop:
    telegram = Recorder(services)
    async with services.db.session() as session:
        family = Family(id=FAMILY_ID, language="qzmark")
        issuer = StaffUser(
            id=ISSUER_ID,
            login="issuer-marker",
            name="Выдавшая МАРКЕР",
            role="consultant",
            specialties=["crisis"],
            password_hash=password_hash(),
        )
        offer = Offer(
            partner_id=accounts.partner.id,
            programme="new_life",
            title="Комплект одежды",
            covers="Платье, обувь, верхняя одежда",
            value_rub=4000,
            valid_days=30,
        )
        other = Offer(
            partner_id=accounts.other_partner.id,
            programme="life_certificate",
            title="Стрижка и укладка",
            discount_percent=50,
        )
        session.add_all([family, issuer, offer, other])
        await session.flush()
        case = Case(
            id=CASE_ID,
            family_id=family.id,
            topic="violence",
            specialty="crisis",
            priority="urgent",
            summary="МАРКЕР-СЕМЬИ: подробности обращения",
            channel="telegram",
            language="qzmark",
        )
        identity = Identity(
            family_id=family.id,
            channel="telegram",
            external_id="ИД-МАРКЕР-1",
            chat_id="chat-marker-555",
        )
        session.add_all([case, identity])
        return Shop(offer.id, other.id, family.id, case.id, telegram)


async def voucher(
    services: Services,
    shop: Shop,
    *,
    other_shop: bool = False,
    status: str = "issued",
    expires_in: timedelta = timedelta(days=20),
) -> str:
    """A voucher row as the staff side leaves it; returns its code."""
    return await make_voucher(
        services,
        shop.other_offer if other_shop else shop.offer,
        family_id=shop.family,
        case_id=shop.case,
        issued_by=ISSUER_ID,
        status=status,
        expires_in=expires_in,
    )


def mistype(code: str) -> str:
    """One symbol changed: the check symbol always catches that."""
    changed = ALPHABET[(ALPHABET.index(code[3]) + 1) % len(ALPHABET)]
    return display(code[:3] + changed + code[4:])


def unknown_code() -> str:
    return new_code()  # well formed, never issued


async def api(client: StaffClient, path: str, body: Any) -> httpx.Response:
    """A scanner's request: JSON with the session's CSRF token in the header."""
    if not client.csrf:
        await client.get("/admin/check")
    return await client.http.post(
        f"/admin/api/{path}", json=body, headers={"X-CSRF-Token": client.csrf}
    )


async def status_of(services: Services, code: str) -> str:
    async with services.db.session() as session:
        found = await session.scalar(select(Voucher.status).where(Voucher.code == code))
        assert found is not None
        return found


@pytest.fixture
async def make_client(
    admin_asgi: Starlette, services: Services
) -> AsyncIterator[Callable[..., Awaitable[StaffClient]]]:
    """A logged-in client for any account, from any address."""
    clients: list[httpx.AsyncClient] = []

    async def make(user_id: int, address: str = "127.0.0.1") -> StaffClient:
        client = await session_client(admin_asgi, services, user_id, address)
        clients.append(client)
        return StaffClient(client)

    yield make
    for client in clients:
        await client.aclose()


async def colleague(services: Services, accounts: Accounts, login: str) -> int:
    """Another member of staff of the same shop."""
    async with services.db.session() as session:
        user = StaffUser(
            login=login,
            role="partner",
            partner_id=accounts.partner.id,
            password_hash=password_hash(),
            must_change_password=False,
        )
        session.add(user)
        await session.flush()
        return user.id


# -- the flow -------------------------------------------------------------------------
async def test_a_valid_code_is_redeemed_once_and_the_family_is_told(
    staff_client: MakeClient, services: Services, accounts: Accounts, shop: Shop
) -> None:
    code = await voucher(services, shop)
    partner = await staff_client("partner")
    page = await partner.get("/admin/check")
    assert page.status_code == 200
    for attribute in ('autocomplete="off"', 'autocapitalize="characters"', 'inputmode="text"'):
        assert attribute in page.text
    assert "Пока ни одного сертификата не погашено" in page.text

    typed = display(code).lower().replace("-", " ")  # as a cashier might type it
    seen = await partner.post("/admin/check", {"code": typed})
    assert seen.status_code == 200
    assert "Действителен" in seen.text and "Комплект одежды" in seen.text
    assert "Платье, обувь" in seen.text and "4\u00a0000\u00a0₽" in seen.text
    assert f'name="code" value="{code}"' in seen.text and "Погасить" in seen.text
    assert await status_of(services, code) == "issued"  # a check changes nothing

    done = await partner.post("/admin/check/redeem", {"code": code})
    assert done.status_code == 200 and "Погашено" in done.text
    assert "Погасить" not in done.text
    assert f"…{code[-4:]}" in done.text and code not in done.text.replace(display(code), "")
    async with services.db.session() as session:
        row = await session.scalar(select(Voucher).where(Voucher.code == code))
        assert row is not None and row.status == "redeemed"
        assert row.redeemed_by == accounts.users["partner"].id
        records = (
            await session.scalars(select(AuditRecord).where(AuditRecord.action == "redeem"))
        ).all()
    assert [(r.entity, r.entity_id, r.after) for r in records] == [
        ("voucher", str(row.id), {"status": "redeemed"})
    ]
    assert records[0].user_login == "partner-user"
    # The family hears about it in its messenger.
    assert len(await shop.telegram.flushed()) == 1
    chat, replies = (await shop.telegram.flushed())[0]
    assert chat == "chat-marker-555" and "использован" in replies[0].text

    again = await partner.post("/admin/check/redeem", {"code": code})
    assert again.status_code == 200 and "Уже использован" in again.text
    assert "Погашено" not in again.text
    used = await partner.post("/admin/check", {"code": display(code)})
    assert "Уже использован" in used.text and "Погасить" not in used.text
    assert len(await shop.telegram.flushed()) == 1

    listed = await partner.get("/admin/check")
    assert "Последние погашения" in listed.text and f"…{code[-4:]}" in listed.text
    assert display(code) not in listed.text and code not in listed.text


async def test_the_api_checks_and_redeems_with_the_same_rules(
    staff_client: MakeClient, services: Services, shop: Shop
) -> None:
    code = await voucher(services, shop)
    partner = await staff_client("partner")
    seen = await api(partner, "check", {"code": display(code)})
    assert seen.status_code == 200
    body = seen.json()
    assert body["status"] == "valid" and body["redeemed"] is False
    assert body["offer"] == "Комплект одежды" and body["value_rub"] == 4000
    assert body["expires_at"] and body["redeemed_at"] is None
    done = (await api(partner, "redeem", {"code": code.lower()})).json()
    assert done["status"] == "redeemed" and done["redeemed"] is True and done["redeemed_at"]
    again = (await api(partner, "redeem", {"code": code})).json()
    assert again["status"] == "redeemed" and again["redeemed"] is False
    assert len(await shop.telegram.flushed()) == 1

    for bad in (b"{not json", b"[1, 2]", b'{"code": 7}', b'{"code": "  "}', b"\xff"):
        response = await partner.http.post(
            "/admin/api/check",
            content=bad,
            headers={"X-CSRF-Token": partner.csrf, "content-type": "application/json"},
        )
        assert response.status_code == 400 and response.json()["status"] == "bad_request"
    form = await partner.post("/admin/api/check", {"code": code})  # a form, not JSON
    assert form.status_code == 400 and form.json()["status"] == "bad_request"
    no_token = await partner.http.post("/admin/api/check", json={"code": code})
    assert no_token.status_code == 403


async def test_another_shops_code_looks_exactly_like_an_unknown_one(
    staff_client: MakeClient, services: Services, shop: Shop
) -> None:
    elsewhere = display(await voucher(services, shop, other_shop=True))
    nowhere = display(unknown_code())
    partner = await staff_client("partner")
    await partner.get("/admin/check")
    pages = []
    for typed in (elsewhere, nowhere):
        response = await partner.post("/admin/check", {"code": typed})
        assert response.status_code == 200 and "Код не найден" in response.text
        pages.append(response.text.replace(typed, "<typed>"))
    assert pages[0] == pages[1]
    redeemed = []
    for typed in (elsewhere, nowhere):
        response = await partner.post("/admin/check/redeem", {"code": typed})
        redeemed.append((response.status_code, response.text.replace(typed, "<typed>")))
    assert redeemed[0] == redeemed[1] and redeemed[0][0] == 200
    answers = [
        await api(partner, path, {"code": c})
        for path in ("check", "redeem")
        for c in (elsewhere, nowhere)
    ]
    assert len({(a.status_code, a.text) for a in answers}) == 1
    assert answers[0].json()["status"] == "not_found" and answers[0].json()["offer"] is None
    assert await status_of(services, elsewhere.replace("-", "")) == "issued"


async def test_mistyped_expired_and_revoked_codes(
    staff_client: MakeClient, services: Services, shop: Shop
) -> None:
    partner = await staff_client("partner")
    good = await voucher(services, shop)
    typo = await partner.post("/admin/check", {"code": mistype(good)})
    assert typo.status_code == 200 and "Похоже, в коде опечатка" in typo.text
    assert "Погасить" not in typo.text
    assert (await api(partner, "check", {"code": mistype(good)})).json()["status"] == "mistyped"

    expired = await voucher(services, shop, expires_in=-timedelta(days=1))
    shown = await partner.post("/admin/check", {"code": expired})
    assert "Срок истёк" in shown.text and "Погасить" not in shown.text
    refused = await partner.post("/admin/check/redeem", {"code": expired})
    assert "Срок истёк" in refused.text and "Погашено" not in refused.text
    assert await status_of(services, expired) == "issued"

    revoked = await voucher(services, shop, status="revoked")
    shown = await partner.post("/admin/check/redeem", {"code": revoked})
    assert "Аннулирован" in shown.text and "Погашено" not in shown.text
    assert await status_of(services, revoked) == "revoked"
    assert (await shop.telegram.flushed()) == []

    empty = await partner.post("/admin/check", {"code": "  "})
    assert empty.status_code == 400 and "Введите код" in empty.text


async def test_pages_and_api_never_show_who_holds_a_code(
    staff_client: MakeClient, services: Services, shop: Shop
) -> None:
    partner = await staff_client("partner")
    codes = [
        display(await voucher(services, shop)),
        display(await voucher(services, shop, status="redeemed")),
        display(await voucher(services, shop, expires_in=-timedelta(hours=1))),
        display(await voucher(services, shop, status="revoked")),
        display(await voucher(services, shop, other_shop=True)),
        display(unknown_code()),
    ]
    codes.append(mistype(codes[0].replace("-", "")))
    seen: list[str] = [(await partner.get("/admin/check")).text]
    for code in codes:
        for path in ("/admin/check", "/admin/check/redeem"):
            seen.append((await partner.post(path, {"code": code})).text)
        for kind in ("check", "redeem"):
            seen.append((await api(partner, kind, {"code": code})).text)
    seen.append((await partner.get("/admin/check")).text)  # the list of redemptions
    assert any("Погашено" in text for text in seen)
    for text in seen:
        for marker in MARKERS:
            assert marker not in text, marker
        assert "Сертификат жизни" not in text and "Переодеваемся" not in text


# -- guessing -------------------------------------------------------------------------
async def test_wrong_codes_lock_the_account_until_the_lock_ends(
    staff_client: MakeClient, services: Services, accounts: Accounts, shop: Shop
) -> None:
    partner = await staff_client("partner")
    good = display(await voucher(services, shop))
    for _ in range(5):
        assert (await partner.post("/admin/check", {"code": unknown_code()})).status_code == 200
    for _ in range(5):  # right codes in between neither count nor reset the count
        assert "Действителен" in (await partner.post("/admin/check", {"code": good})).text
    for _ in range(4):
        assert (
            await partner.post("/admin/check", {"code": mistype(new_code())})
        ).status_code == 200
    tenth = await partner.post("/admin/check", {"code": unknown_code()})
    assert tenth.status_code == 429
    assert "Слишком много неверных кодов подряд" in tenth.text
    assert re.search(r"будет доступна через 1[45] мин", tenth.text)

    # Now even the right code is not looked up, on the page and in the API.
    refused = await partner.post("/admin/check/redeem", {"code": good})
    assert refused.status_code == 429 and "Действителен" not in refused.text
    scanner = await api(partner, "redeem", {"code": good})
    assert scanner.status_code == 429 and scanner.json()["status"] == "locked"
    assert int(scanner.headers["retry-after"]) > 800
    assert await status_of(services, good.replace("-", "")) == "issued"
    async with services.db.session() as session:
        lockouts = (
            await session.scalars(select(AuditRecord).where(AuditRecord.action == "lockout"))
        ).all()
    assert [(r.entity, r.entity_id, r.after["scope"]) for r in lockouts if r.after] == [
        ("voucher_check", str(accounts.users["partner"].id), "account")
    ]

    # Another session of the same account is locked too.
    other = await staff_client("partner")
    assert (await other.post("/admin/check", {"code": good})).status_code == 429  # same account
    async with services.db.session() as session:
        await session.execute(
            update(Throttle)
            .where(Throttle.key.startswith("voucher:user:"))
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    back = await partner.post("/admin/check/redeem", {"code": good})
    assert back.status_code == 200 and "Погашено" in back.text


async def test_an_address_is_locked_across_accounts(
    make_client: Callable[..., Awaitable[StaffClient]],
    services: Services,
    accounts: Accounts,
    shop: Shop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        check,
        "ADDRESS_LIMIT",
        throttle.Limit(failures=6, window=timedelta(minutes=10), lockout=timedelta(minutes=30)),
    )
    good = display(await voucher(services, shop))
    anna = await make_client(accounts.users["partner"].id, "10.0.0.7")
    boris = await make_client(await colleague(services, accounts, "boris"), "10.0.0.7")
    for _ in range(3):
        assert (await anna.post("/admin/check", {"code": unknown_code()})).status_code == 200
    for _ in range(2):
        assert (await boris.post("/admin/check", {"code": unknown_code()})).status_code == 200
    locked = await boris.post("/admin/check", {"code": unknown_code()})
    assert locked.status_code == 429 and "через 30 мин" in locked.text
    # Both accounts at that address are stopped, each with only a few wrong codes.
    assert (await anna.post("/admin/check", {"code": good})).status_code == 429
    assert (await api(boris, "check", {"code": good})).status_code == 429
    # The same account from another address is fine: its own count is low.
    elsewhere = await make_client(accounts.users["partner"].id, "10.0.0.8")
    assert "Действителен" in (await elsewhere.post("/admin/check", {"code": good})).text
    async with services.db.session() as session:
        scopes = (
            await session.scalars(select(AuditRecord.after).where(AuditRecord.action == "lockout"))
        ).all()
    assert [s["scope"] for s in scopes if s] == ["address"]


# -- exactly once ---------------------------------------------------------------------
async def test_a_hundred_simultaneous_redemptions_succeed_once(
    staff_client: MakeClient, services: Services, shop: Shop
) -> None:
    code = await voucher(services, shop)
    tills = [await staff_client("partner") for _ in range(6)]
    for till in tills:
        await till.get("/admin/check")

    async def attempt(number: int) -> bool:
        till = tills[number % len(tills)]
        if number % 2:
            response = await api(till, "redeem", {"code": code})
            assert response.status_code == 200, response.text
            return bool(response.json()["redeemed"])
        page = await till.post("/admin/check/redeem", {"code": display(code)})
        assert page.status_code == 200, page.text
        assert "Погашено" in page.text or "Уже использован" in page.text
        return "Погашено" in page.text

    outcomes = await asyncio.gather(*(attempt(n) for n in range(120)))
    assert sum(outcomes) == 1
    async with services.db.session() as session:
        redeemed = await session.scalar(
            select(func.count()).select_from(Voucher).where(Voucher.status == "redeemed")
        )
        audited = await session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "redeem")
        )
    assert redeemed == 1 and audited == 1
    assert len(await shop.telegram.flushed()) == 1


# -- who may use it -------------------------------------------------------------------
@pytest.mark.parametrize("role", ["admin", "editor", "consultant"])
async def test_only_partner_staff_may_check_codes(
    role: str, staff_client: MakeClient, services: Services, shop: Shop
) -> None:
    code = await voucher(services, shop)
    client = await staff_client(role)
    assert (await client.get("/admin/check")).status_code == 403
    assert (await client.post("/admin/check", {"code": code})).status_code == 403
    assert (await client.post("/admin/check/redeem", {"code": code})).status_code == 403
    assert (await api(client, "redeem", {"code": code})).status_code == 403
    assert await status_of(services, code) == "issued"


async def test_an_account_without_a_shop_cannot_check(
    make_client: Callable[..., Awaitable[StaffClient]], services: Services, shop: Shop
) -> None:
    code = await voucher(services, shop)
    async with services.db.session() as session:
        user = StaffUser(
            login="nobody-shop",
            role="partner",
            password_hash=password_hash(),
            must_change_password=False,
        )
        session.add(user)
        await session.flush()
        user_id = user.id
    client = await make_client(user_id)
    page = await client.get("/admin/check")
    assert page.status_code == 200 and "не привязана" in page.text
    assert (await client.post("/admin/check/redeem", {"code": code})).status_code == 409
    assert (await api(client, "redeem", {"code": code})).status_code == 409
    assert await status_of(services, code) == "issued"
