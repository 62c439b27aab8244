"""Voucher rules on a real database: quotas, limits, expiry, and redemption
exactly once however many times a code is tried at the same moment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.core.services import Services
from bot.storage.models import Family, Offer, Partner, Voucher
from bot.vouchers import service
from bot.vouchers.codes import display

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def shop(services: Services) -> dict[str, int]:
    async with services.db.session() as session:
        partner = Partner(name="Детский магазин «Аистёнок»", kind="children_shop", city="kaspiysk")
        other = Partner(name="Магазин «Другой»", kind="children_shop", city="derbent")
        session.add_all([partner, other])
        await session.flush()
        offer = Offer(
            partner_id=partner.id,
            programme="life_certificate",
            title="Сертификат жизни: набор для новорождённого",
            covers="Подгузники, пелёнки, бутылочки",
            value_rub=5000,
            monthly_quota=2,
            valid_days=30,
        )
        families = [Family() for _ in range(4)]
        session.add_all([offer, *families])
        await session.flush()
        return {
            "partner": partner.id,
            "other": other.id,
            "offer": offer.id,
            **{f"family{i}": f.id for i, f in enumerate(families)},
        }


async def _issue(services: Services, shop: dict[str, int], family: str, **kw: object) -> Voucher:
    async with services.db.session() as session:
        return await service.issue(
            session, offer_id=shop["offer"], family_id=shop[family], now=kw.get("now", NOW)
        )


async def test_monthly_quota_and_one_unused_voucher_per_family(
    services: Services, shop: dict[str, int]
) -> None:
    first = await _issue(services, shop, "family0")
    assert first.expires_at == NOW + timedelta(days=30) and first.month == "2026-11"
    with pytest.raises(service.IssueError, match="уже есть неиспользованный"):
        await _issue(services, shop, "family0")
    await _issue(services, shop, "family1")
    with pytest.raises(service.IssueError, match="закончились"):
        await _issue(services, shop, "family2")
    # Revoking gives the place back; next month the quota starts again by itself.
    async with services.db.session() as session:
        voucher = await session.get(Voucher, first.id)
        assert voucher is not None and await service.revoke(session, voucher, NOW)
    await _issue(services, shop, "family2")
    await _issue(services, shop, "family3", now=NOW + timedelta(days=15))  # December


async def test_a_code_is_redeemed_once_and_only_in_its_own_shop(
    services: Services, shop: dict[str, int]
) -> None:
    voucher = await _issue(services, shop, "family0")
    typed = display(voucher.code).lower().replace("-", " ")
    async with services.db.session() as session:
        elsewhere = await service.check(session, shop["other"], typed, NOW)
        unknown = await service.check(session, shop["other"], "0000-0000-0000", NOW)
        assert elsewhere == service.Check("not_found")
        assert unknown.status in ("not_found", "mistyped")
        seen = await service.check(session, shop["partner"], typed, NOW)
        assert seen.status == "valid" and seen.value_rub == 5000
        assert not hasattr(seen, "family_id")
    async with services.db.session() as session:
        used, family = await service.redeem(session, shop["partner"], typed, None, NOW)
    assert used.just_redeemed and family == shop["family0"]
    async with services.db.session() as session:
        again, nobody = await service.redeem(session, shop["partner"], typed, None, NOW)
    assert again.status == "redeemed" and not again.just_redeemed and nobody is None


async def test_an_expired_code_is_not_redeemed_and_the_sweep_marks_it(
    services: Services, shop: dict[str, int]
) -> None:
    voucher = await _issue(services, shop, "family0")
    later = NOW + timedelta(days=31)
    async with services.db.session() as session:
        result, _ = await service.redeem(session, shop["partner"], voucher.code, None, later)
        assert result.status == "expired"
    async with services.db.session() as session:
        soon = await service.reminders_due(session, NOW + timedelta(days=28))
        assert [v.id for v in soon] == [voucher.id]
        assert await service.reminders_due(session, NOW + timedelta(days=28)) == []
    async with services.db.session() as session:
        expired = await service.expire_due(session, later)
        assert [v.id for v in expired] == [voucher.id]
    async with services.db.session() as session:
        assert (await session.get(Voucher, voucher.id)).status == "expired"  # type: ignore[union-attr]


async def test_reissue_replaces_the_code(services: Services, shop: dict[str, int]) -> None:
    old = await _issue(services, shop, "family0")
    async with services.db.session() as session:
        row = await session.get(Voucher, old.id)
        assert row is not None
        new = await service.reissue(session, row, None, NOW)
    assert new.code != old.code and new.replaces_id == old.id and new.month == old.month
    async with services.db.session() as session:
        stale, _ = await service.redeem(session, shop["partner"], old.code, None, NOW)
        assert stale.status == "revoked"


async def test_a_hundred_simultaneous_redemptions_succeed_once(
    services: Services, shop: dict[str, int]
) -> None:
    voucher = await _issue(services, shop, "family0")

    async def attempt() -> bool:
        async with services.db.session() as session:
            result, _ = await service.redeem(session, shop["partner"], voucher.code, None, NOW)
            return result.just_redeemed

    outcomes = await asyncio.gather(*(attempt() for _ in range(120)))
    assert sum(outcomes) == 1
    async with services.db.session() as session:
        redeemed = await session.scalar(
            select(func.count()).select_from(Voucher).where(Voucher.status == "redeemed")
        )
    assert redeemed == 1


async def test_reissuing_a_revoked_voucher_needs_room_in_the_quota(
    services: Services, shop: dict[str, int]
) -> None:
    first = await _issue(services, shop, "family0")
    async with services.db.session() as session:
        row = await session.get(Voucher, first.id)
        assert row is not None and await service.revoke(session, row, NOW)
    await _issue(services, shop, "family1")
    await _issue(services, shop, "family2")  # the revoked one's place was taken
    async with services.db.session() as session:
        row = await session.get(Voucher, first.id)
        assert row is not None
        with pytest.raises(service.IssueError, match="закончились"):
            await service.reissue(session, row, None, NOW)


async def test_a_family_gets_one_voucher_per_offer_a_month(
    services: Services, shop: dict[str, int]
) -> None:
    """Using a code and claiming again at once must not drain the shop's pool."""
    first = await _issue(services, shop, "family0")
    async with services.db.session() as session:
        used, _ = await service.redeem(session, shop["partner"], first.code, None, NOW)
        assert used.just_redeemed
    with pytest.raises(service.IssueError, match="уже получала"):
        await _issue(services, shop, "family0", now=NOW + timedelta(hours=1))
    await _issue(services, shop, "family0", now=NOW + timedelta(days=15))  # December


async def test_a_family_that_pressed_safe_exit_is_never_written_to_first(
    services: Services, shop: dict[str, int]
) -> None:
    from bot.core.types import Reply
    from bot.storage.models import Identity
    from bot.vouchers.messages import tell
    from tests.support.outbox import Recorder

    recorder = Recorder(services)
    voucher = await _issue(services, shop, "family0")
    async with services.db.session() as session:
        session.add(
            Identity(family_id=shop["family0"], channel="telegram", external_id="7", chat_id="7")
        )
    assert await tell(services, voucher.id, "issued")
    async with services.db.session() as session:
        family = await session.get(Family, shop["family0"])
        assert family is not None
        family.quiet_at = NOW
    for what in ("redeemed", "reminder", "expired"):
        assert not await tell(services, voucher.id, what)
    assert not await services.notifier.to_family(shop["family0"], lambda _: [Reply("Привет")])
    assert [chat for chat, _ in await recorder.flushed()] == ["7"]
