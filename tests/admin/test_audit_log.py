"""The audit log viewer: read-only, for the head of the centre."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from admin.app import all_pages
from bot.core.services import Services
from bot.storage.models import AuditRecord
from tests.admin.conftest import StaffClient

Make = Callable[[str], Awaitable[StaffClient]]
BASE = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)  # 12:30 in Moscow


async def add(services: Services, *records: dict[str, Any]) -> list[int]:
    async with services.db.session() as session:
        rows = [AuditRecord(**{"entity_id": "", **r}) for r in records]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


def shown_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-record="(\d+)">', html)]


@pytest.fixture
async def sample(services: Services) -> dict[str, int]:
    ids = await add(
        services,
        {
            "at": BASE,
            "user_login": "editor-user",
            "action": "update",
            "entity": "knowledge",
            "entity_id": "mat_capital",
            "before": {"title": "Материнский капитал", "published": True},
            "after": {"title": "Материнский (семейный) капитал", "published": True},
        },
        {
            "at": BASE + timedelta(days=1),
            "user_login": "admin-user",
            "action": "create",
            "entity": "partner",
            "entity_id": "7",
            "after": {"name": "Карапуз", "city": "makhachkala"},
        },
        {
            "at": BASE + timedelta(days=2),
            "user_login": "admin-user",
            "action": "login",
            "entity": "staff_user",
            "entity_id": "1",
        },
    )
    return dict(zip(("update", "create", "login"), ids, strict=True))


async def test_newest_first_with_russian_labels(staff_client: Make, sample: dict[str, int]) -> None:
    client = await staff_client("admin")
    response = await client.get("/admin/audit")
    assert response.status_code == 200
    html = response.text
    assert shown_ids(html)[:3] == [sample["login"], sample["create"], sample["update"]]
    row = re.search(rf'<tr data-record="{sample["update"]}">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = row.group(1)
    assert "01.05.2024 12:30" in cells  # Moscow time
    assert "editor-user" in cells
    assert "изменение" in cells
    assert "mat_capital" in cells
    assert "title" in cells and "published" not in cells  # only what changed
    assert "создание" in html and "вход" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("login=editor", ["update"]),
        ("login=ADMIN-user", ["login", "create"]),
        ("entity=partner", ["create"]),
        ("action=login", ["login"]),
        ("entity_id=mat_capital", ["update"]),
        ("from=2024-05-02", ["login", "create"]),
        ("to=2024-05-02", ["create", "update"]),
        ("from=2024-05-02&to=2024-05-02", ["create"]),
        ("login=admin&action=create", ["create"]),
        ("login=nobody", []),
        ("from=not-a-date", ["login", "create", "update"]),
    ],
)
async def test_filters(
    staff_client: Make, sample: dict[str, int], query: str, expected: list[str]
) -> None:
    client = await staff_client("admin")
    response = await client.get(f"/admin/audit?{query}")
    assert response.status_code == 200
    sample_ids = set(sample.values())
    assert [i for i in shown_ids(response.text) if i in sample_ids] == [
        sample[name] for name in expected
    ]
    if not expected:
        assert "По этим условиям записей нет." in response.text


async def test_filter_by_moscow_day(staff_client: Make, services: Services) -> None:
    # 22:30 UTC on 1 May is already 2 May in Moscow.
    late = await add(
        services,
        {
            "at": datetime(2024, 5, 1, 22, 30, tzinfo=UTC),
            "user_login": "x",
            "action": "update",
            "entity": "offer",
            "entity_id": "3",
        },
    )
    client = await staff_client("admin")
    html = (await client.get("/admin/audit?from=2024-05-02&to=2024-05-02&entity=offer")).text
    assert shown_ids(html) == late
    assert "02.05.2024 01:30" in html
    html = (await client.get("/admin/audit?to=2024-05-01&entity=offer")).text
    assert shown_ids(html) == []


async def test_pagination(staff_client: Make, services: Services) -> None:
    ids = await add(
        services,
        *(
            {
                "at": BASE + timedelta(minutes=i),
                "user_login": "bulk",
                "action": "update",
                "entity": "offer",
                "entity_id": str(i),
            }
            for i in range(120)
        ),
    )
    newest_first = list(reversed(ids))
    client = await staff_client("admin")
    first = (await client.get("/admin/audit?login=bulk")).text
    assert shown_ids(first) == newest_first[:50]
    assert "Найдено записей: 120" in first
    assert "Новее" not in first
    older = re.search(r'href="([^"]+)">Старее', first)
    assert older is not None
    second_url = older.group(1).replace("&amp;", "&")
    assert "login=bulk" in second_url
    second = (await client.get(second_url)).text
    assert shown_ids(second) == newest_first[50:100]
    assert "Новее" in second
    third_url = re.search(r'href="([^"]+)">Старее', second)
    assert third_url is not None
    third = (await client.get(third_url.group(1).replace("&amp;", "&"))).text
    assert shown_ids(third) == newest_first[100:]
    assert "Старее" not in third
    newer = re.search(r'href="([^"]+)">← Новее', third)
    assert newer is not None
    back = (await client.get(newer.group(1).replace("&amp;", "&"))).text
    assert shown_ids(back) == newest_first[50:100]


async def test_detail_highlights_changed_fields(staff_client: Make, sample: dict[str, int]) -> None:
    client = await staff_client("admin")
    response = await client.get(f"/admin/audit/{sample['update']}")
    assert response.status_code == 200
    html = response.text
    title = re.search(r'<tr data-field="title" class="changed">(.*?)</tr>', html, re.S)
    assert title is not None
    assert "<del>Материнский капитал</del>" in title.group(1)
    assert "<ins>Материнский (семейный) капитал</ins>" in title.group(1)
    published = re.search(r'<tr data-field="published">(.*?)</tr>', html, re.S)
    assert published is not None
    assert "<del>" not in published.group(1) and "<ins>" not in published.group(1)
    assert "изменение" in html and "editor-user" in html and "01.05.2024 12:30" in html
    created = (await client.get(f"/admin/audit/{sample['create']}")).text
    assert "<ins>Карапуз</ins>" in created
    assert "записи не было" in created
    login = (await client.get(f"/admin/audit/{sample['login']}")).text
    assert "не хранит значений полей" in login


async def test_unknown_record_is_404(staff_client: Make) -> None:
    client = await staff_client("admin")
    assert (await client.get("/admin/audit/999999")).status_code == 404


@pytest.mark.parametrize("role", ["editor", "consultant", "partner"])
async def test_only_admin(staff_client: Make, sample: dict[str, int], role: str) -> None:
    client = await staff_client(role)
    assert (await client.get("/admin/audit")).status_code == 403
    assert (await client.get(f"/admin/audit/{sample['update']}")).status_code == 403


async def test_audit_log_cannot_be_changed_from_the_panel(
    staff_client: Make, sample: dict[str, int]
) -> None:
    audit_pages = [p for p in all_pages() if p.path == "/audit" or p.path.startswith("/audit/")]
    assert {p.path for p in audit_pages} == {"/audit", "/audit/{record_id:int}"}
    assert all(p.methods == ("GET",) for p in audit_pages)
    client = await staff_client("admin")
    response = await client.post(f"/admin/audit/{sample['update']}", {})
    assert response.status_code == 405
