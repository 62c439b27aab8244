"""Family card applications: the manager confirms or declines, the change is in
the audit log and the family is told."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from admin.pages.cards import NOTE_LIMIT
from bot.core.services import Services
from bot.storage.models import AuditRecord, Family, FamilyCard, Identity, utcnow
from tests.admin.conftest import Accounts, StaffClient
from tests.admin.test_vouchers import flash
from tests.support.outbox import Recorder

MakeClient = Callable[[str], Awaitable[StaffClient]]


@pytest.fixture
async def cards(services: Services, accounts: Accounts) -> tuple[dict[str, int], Recorder]:
    sender = Recorder(services)
    now = utcnow()
    async with services.db.session() as session:
        families = [Family(), Family(), Family()]
        session.add_all(families)
        await session.flush()
        session.add(
            Identity(family_id=families[0].id, channel="telegram", external_id="5", chat_id="5")
        )
        rows = {
            "pending": FamilyCard(
                family_id=families[0].id,
                number="4829301756",
                categories=["large_family", "child_disability"],
                city="derbent",
                applied_at=now - timedelta(days=1),
            ),
            "verified": FamilyCard(
                family_id=families[1].id,
                number="1111111111",
                categories=["pregnancy"],
                status="verified",
                applied_at=now - timedelta(days=5),
                decided_at=now,
            ),
            "later": FamilyCard(
                family_id=families[2].id,
                number="2222222222",
                categories=["single_parent"],
                applied_at=now,
            ),
        }
        session.add_all(rows.values())
        await session.flush()
        return {key: card.id for key, card in rows.items()}, sender


async def test_applications_pending_first_with_categories_in_russian(
    staff_client: MakeClient, cards: tuple[dict[str, int], Recorder]
) -> None:
    client = await staff_client("admin")
    page = await client.get("/admin/cards")
    assert page.status_code == 200
    text = page.text
    assert "многодетная семья, ребёнок с инвалидностью или ОВЗ" in text
    assert "Дербент" in text
    assert "Ждут проверки: 2." in text
    # Pending (oldest first), then the decided ones.
    assert text.index("4829301756") < text.index("2222222222") < text.index("1111111111")
    only = await client.get("/admin/cards?status=verified")
    assert "1111111111" in only.text and "4829301756" not in only.text


async def test_verify_is_audited_and_the_family_told(
    staff_client: MakeClient,
    services: Services,
    accounts: Accounts,
    cards: tuple[dict[str, int], Recorder],
) -> None:
    ids, sender = cards
    client = await staff_client("admin")
    response = await client.post(f"/admin/cards/{ids['pending']}/verify")
    assert response.status_code == 303
    assert flash(response) == "Карта №4829301756 подтверждена. Семья получила сообщение."
    async with services.db.session() as session:
        card = await session.get(FamilyCard, ids["pending"])
        record = await session.scalar(
            select(AuditRecord).where(AuditRecord.entity == "family_card")
        )
    assert card is not None and card.status == "verified"
    assert card.decided_by == accounts.users["admin"].id and card.decided_at is not None
    assert record is not None and record.action == "verify"
    assert record.entity_id == str(card.id)
    assert record.before == {"status": "pending", "note": ""}
    assert record.after == {"status": "verified", "note": ""}
    [(chat, [reply])] = await sender.flushed()
    assert chat == "5"
    assert reply.text == (
        "✅ Ваша семейная карта №4829301756 подтверждена. Откройте «Мои сертификаты» в меню, "
        "чтобы увидеть предложения партнёров."
    )
    again = await client.post(f"/admin/cards/{ids['pending']}/verify")
    assert flash(again) == "Карта №4829301756 уже подтверждена."


async def test_reject_needs_a_reason_which_the_family_reads(
    staff_client: MakeClient, services: Services, cards: tuple[dict[str, int], Recorder]
) -> None:
    ids, sender = cards
    client = await staff_client("admin")
    empty = await client.post(f"/admin/cards/{ids['pending']}/reject", {"note": "  "})
    assert empty.status_code == 400
    assert "Напишите причину" in empty.text
    long = await client.post(
        f"/admin/cards/{ids['pending']}/reject", {"note": "я" * (NOTE_LIMIT + 1)}
    )
    assert long.status_code == 400 and "я" * NOTE_LIMIT in long.text
    note = "В заявке указано трое детей, а в документах — двое."
    response = await client.post(f"/admin/cards/{ids['pending']}/reject", {"note": note})
    assert response.status_code == 303
    assert flash(response) == "Карта №4829301756 отклонена. Семья получила сообщение."
    async with services.db.session() as session:
        card = await session.get(FamilyCard, ids["pending"])
        record = await session.scalar(select(AuditRecord).where(AuditRecord.action == "reject"))
    assert card is not None and card.status == "rejected" and card.note == note
    assert record is not None and record.after == {"status": "rejected", "note": note}
    [(_, [reply])] = await sender.flushed()
    assert note in reply.text and "К сожалению" in reply.text
    # A family out of reach: staff are told so.
    other = await client.post(f"/admin/cards/{ids['later']}/reject", {"note": note})
    assert "не доставлено" in flash(other)
    page = await client.get("/admin/cards")
    assert f"Причина: {note}" in page.text


async def test_only_the_manager_decides(
    staff_client: MakeClient, cards: tuple[dict[str, int], Recorder]
) -> None:
    ids, _ = cards
    for role in ("consultant", "editor", "partner"):
        client = await staff_client(role)
        assert (await client.get("/admin/cards")).status_code == 403
        assert (await client.post(f"/admin/cards/{ids['pending']}/verify")).status_code == 403
    admin = await staff_client("admin")
    assert (await admin.post("/admin/cards/999999/verify")).status_code == 404
