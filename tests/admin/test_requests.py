"""Requests from organisations: the list, the status and note, and the audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select

from bot.core.services import Services
from bot.storage.models import AuditRecord, OrgRequest, utcnow
from tests.admin.conftest import Accounts, StaffClient

MakeClient = Callable[[str], Awaitable[StaffClient]]


async def add_requests(services: Services) -> list[OrgRequest]:
    now = utcnow()
    rows = [
        OrgRequest(
            kind="partner",
            org_name="Магазин «Малыш»",
            city="Дербент",
            contact="+7 900 000-00-01",
            message="Хотим давать сертификаты",
            channel="telegram",
            language="ru",
            created_at=now - timedelta(days=2),
        ),
        OrgRequest(
            kind="volunteer",
            org_name="",
            city="Махачкала",
            contact="@helper",
            message="Могу возить вещи",
            channel="vk",
            language="ru",
            status="done",
            created_at=now - timedelta(days=1),
        ),
        OrgRequest(
            kind="organisation",
            org_name="Фонд «Опора»",
            city="Каспийск",
            contact="opora@example.ru",
            channel="web",
            language="ru",
            created_at=now,
        ),
    ]
    async with services.db.session() as session:
        session.add_all(rows)
    return rows


async def test_requests_are_listed_newest_first_and_filtered(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    await add_requests(services)
    admin = await staff_client("admin")
    page = await admin.get("/admin/requests")
    assert page.status_code == 200
    opora, helper, shop = (page.text.index(s) for s in ("Опора", "(без названия)", "Малыш"))
    assert opora < helper < shop
    assert 'class="tag done">выполнена' in page.text and 'class="tag new">новая' in page.text
    new_only = await admin.get("/admin/requests?status=new")
    assert "Малыш" in new_only.text and "Опора" in new_only.text
    assert "Волонтёр</td>" not in new_only.text
    partners = await admin.get("/admin/requests?kind=partner")
    assert "Малыш" in partners.text and "Опора" not in partners.text
    assert (
        "Под выбранные условия заявок нет"
        in (await admin.get("/admin/requests?status=rejected")).text
    )


async def test_status_change_is_saved_and_audited_without_contacts(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    shop = (await add_requests(services))[0]
    admin = await staff_client("admin")
    page = await admin.get(f"/admin/requests/{shop.id}")
    assert page.status_code == 200
    assert "Хотим давать сертификаты" in page.text and "+7 900 000-00-01" in page.text
    # The shortcut makes a partner from the request, the typed city turned into its id.
    assert "/admin/partners/new?name=" in page.text and "city=derbent" in page.text
    saved = await admin.post(
        f"/admin/requests/{shop.id}", {"status": "in_progress", "note": "Позвонила, ждём договор"}
    )
    assert saved.status_code == 303
    async with services.db.session() as session:
        row = await session.get(OrgRequest, shop.id)
        assert row is not None
        assert row.status == "in_progress" and row.note == "Позвонила, ждём договор"
        assert row.updated_at > shop.updated_at
        record = await session.scalar(
            select(AuditRecord).where(AuditRecord.entity == "org_request")
        )
        assert record is not None
        assert (record.action, record.entity_id, record.user_login) == (
            "status",
            str(shop.id),
            "admin-user",
        )
        assert record.before == {"status": "new", "note": ""}
        assert record.after == {"status": "in_progress", "note": "Позвонила, ждём договор"}
        assert "+7 900" not in str(record.before) + str(record.after)
    shown = await admin.get(f"/admin/requests/{shop.id}")
    assert 'class="tag in_progress">в работе' in shown.text and "ждём договор" in shown.text


async def test_a_bad_status_is_refused_and_nothing_changes(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    shop = (await add_requests(services))[0]
    admin = await staff_client("admin")
    response = await admin.post(
        f"/admin/requests/{shop.id}", {"status": "lost", "note": "моя заметка"}
    )
    assert response.status_code == 400
    assert "Выберите состояние заявки" in response.text and "моя заметка" in response.text
    assert (await admin.post(f"/admin/requests/{shop.id}", {})).status_code == 400
    async with services.db.session() as session:
        row = await session.get(OrgRequest, shop.id)
        assert row is not None and row.status == "new" and row.note == ""
        assert await session.scalar(select(AuditRecord.id)) is None


async def test_unknown_request_is_404(staff_client: MakeClient, accounts: Accounts) -> None:
    admin = await staff_client("admin")
    assert (await admin.get("/admin/requests/99999")).status_code == 404
    assert (await admin.post("/admin/requests/99999", {"status": "done"})).status_code == 404


async def test_only_the_manager_sees_requests(staff_client: MakeClient, accounts: Accounts) -> None:
    for role in ("editor", "consultant", "partner"):
        client = await staff_client(role)
        assert (await client.get("/admin/requests")).status_code == 403


async def test_a_long_list_is_paged(staff_client: MakeClient, services: Services) -> None:
    async with services.db.session() as session:
        session.add_all(
            OrgRequest(kind="volunteer", org_name=f"Волонтёр {i}", channel="web", language="ru")
            for i in range(55)
        )
    client = await staff_client("admin")
    first = await client.get("/admin/requests")
    assert "Страница 1 из 2" in first.text and "Старее →" in first.text
    assert "/admin/requests?" in first.text and "page=2" in first.text
    second = await client.get("/admin/requests?page=2")
    assert "Страница 2 из 2" in second.text and "← Новее" in second.text
