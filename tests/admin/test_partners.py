"""Partners and their offers: the manager's pages, checks on the forms, and a
partner's own read-only view that never shows another partner."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date

import pytest
from sqlalchemy import func, select, update

from bot.core.services import Services
from bot.storage.models import AuditRecord, Offer, Partner, StaffUser
from tests.admin.conftest import Accounts, StaffClient

MakeClient = Callable[[str], Awaitable[StaffClient]]

PARTNER_FORM = {
    "name": "Магазин «Топ-топ»",
    "kind": "children_shop",
    "city": "kaspiysk",
    "addresses": "ул. Ленина, 1\n\n  пр. Победы, 5  ",
    "phone": "+7 (8722) 55-55-55",
    "email": "shop@example.ru",
    "website": "toptop.example.ru",
    "contact_person": "Патимат",
    "notes": "Договор до конца года",
    "active": "1",
}
OFFER_FORM = {
    "programme": "life_certificate",
    "title": "Сертификат на товары для новорождённого",
    "covers": "Одежда и товары для малыша",
    "value_rub": "3 000",
    "discount_percent": "",
    "monthly_quota": "5",
    "valid_days": "60",
    "starts_on": "2025-01-01",
    "ends_on": "2025-12-31",
    "categories": ["single_parent", "pregnancy"],
    "active": "1",
}


async def audit_actions(services: Services, entity: str) -> list[str]:
    async with services.db.session() as session:
        return list(
            (
                await session.scalars(
                    select(AuditRecord.action)
                    .where(AuditRecord.entity == entity)
                    .order_by(AuditRecord.id)
                )
            ).all()
        )


async def count(services: Services, model: type[Partner] | type[Offer]) -> int:
    async with services.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# -- partners -------------------------------------------------------------------------
async def test_admin_creates_edits_and_deactivates_a_partner(
    staff_client: MakeClient, services: Services
) -> None:
    admin = await staff_client("admin")
    form = await admin.get("/admin/partners/new")
    assert form.status_code == 200 and "Детский магазин" in form.text and "Каспийск" in form.text
    created = await admin.post("/admin/partners/new", PARTNER_FORM)
    assert created.status_code == 303
    partner_id = int(created.headers["location"].rsplit("/", 1)[1])
    async with services.db.session() as session:
        partner = await session.get(Partner, partner_id)
        assert partner is not None
        assert partner.addresses == ["ул. Ленина, 1", "пр. Победы, 5"]
        assert partner.website == "https://toptop.example.ru"
        assert partner.city == "kaspiysk" and partner.active
    page = await admin.get(f"/admin/partners/{partner_id}")
    assert "Магазин «Топ-топ»" in page.text and "Каспийск" in page.text
    assert f"/admin/users/new?role=partner&amp;partner_id={partner_id}" in page.text
    assert "Партнёр добавлен." in page.text  # the flash

    edited = await admin.post(
        f"/admin/partners/{partner_id}/edit", PARTNER_FORM | {"name": "Топ-топ", "city": ""}
    )
    assert edited.status_code == 303
    off = await admin.post(f"/admin/partners/{partner_id}/active", {"active": "0"})
    assert off.status_code == 303
    async with services.db.session() as session:
        partner = await session.get(Partner, partner_id)
        assert partner is not None
        assert partner.name == "Топ-топ" and partner.city == "" and not partner.active
    assert "Партнёр отключён" in (await admin.get(f"/admin/partners/{partner_id}")).text
    await admin.post(f"/admin/partners/{partner_id}/active", {"active": "1"})
    assert await audit_actions(services, "partner") == [
        "create",
        "update",
        "deactivate",
        "activate",
    ]


async def test_saving_an_unchanged_partner_writes_no_audit_record(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    partner = accounts.partner
    same = {"name": partner.name, "kind": partner.kind, "city": partner.city, "active": "1"}
    assert (await admin.post(f"/admin/partners/{partner.id}/edit", same)).status_code == 303
    assert await audit_actions(services, "partner") == []


async def test_partner_form_errors_keep_the_input_and_save_nothing(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    before = await count(services, Partner)
    bad = PARTNER_FORM | {
        "name": "",
        "kind": "bank",
        "city": "atlantis",
        "email": "not-an-email",
        "phone": "call me",
    }
    response = await admin.post("/admin/partners/new", bad)
    assert response.status_code == 400
    for message in (
        "Укажите название организации",
        "Выберите вид организации",
        "Выберите город из списка",
        "name@example.ru",
        "Телефон: цифры",
        "ничего не сохранено",
    ):
        assert message in response.text
    assert 'value="not-an-email"' in response.text and "Договор до конца года" in response.text
    assert await count(services, Partner) == before

    edit = await admin.post(
        f"/admin/partners/{accounts.partner.id}/edit", PARTNER_FORM | {"name": " "}
    )
    assert edit.status_code == 400 and "Укажите название организации" in edit.text
    async with services.db.session() as session:
        unchanged = await session.get(Partner, accounts.partner.id)
        assert unchanged is not None and unchanged.name == accounts.partner.name
    assert await audit_actions(services, "partner") == []


async def test_an_empty_post_answers_400_not_500(staff_client: MakeClient) -> None:
    admin = await staff_client("admin")
    assert (await admin.post("/admin/partners/new", {})).status_code == 400


async def test_the_list_counts_offers_and_staff_and_filters(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    async with services.db.session() as session:
        session.add_all(
            [
                Offer(partner_id=accounts.partner.id, programme="life_certificate", title="A"),
                Offer(partner_id=accounts.partner.id, programme="family_card", title="B"),
            ]
        )
    admin = await staff_client("admin")
    page = await admin.get("/admin/partners")
    assert page.status_code == 200
    row = re.search(r"<tr>\s*<td><a[^>]*>Детский магазин «Карапуз».*?</tr>", page.text, re.S)
    assert row is not None
    assert re.findall(r'<td class="num">(\d+)</td>', row.group(0)) == ["2", "1"]
    assert "Махачкала" in row.group(0) and "Детский магазин" in row.group(0)

    shops = await admin.get("/admin/partners?kind=children_shop")
    assert "Карапуз" in shops.text and "Новый образ" not in shops.text
    derbent = await admin.get("/admin/partners?city=derbent")
    assert "Новый образ" in derbent.text and "Карапуз" not in derbent.text
    async with services.db.session() as session:
        await session.execute(
            update(Partner).where(Partner.id == accounts.other_partner.id).values(active=False)
        )
    inactive = await admin.get("/admin/partners?active=0")
    assert "Новый образ" in inactive.text and "Карапуз" not in inactive.text


async def test_new_partner_form_is_prefilled_from_the_address(
    staff_client: MakeClient,
) -> None:
    admin = await staff_client("admin")
    page = await admin.get("/admin/partners/new?name=Ателье+«Шик»&city=Дербент&kind=salon")
    assert 'value="Ателье «Шик»"' in page.text
    assert '<option value="derbent" selected>' in page.text
    assert '<option value="salon" selected>' in page.text


async def test_unknown_partner_or_offer_is_404(staff_client: MakeClient) -> None:
    admin = await staff_client("admin")
    for path in ("/admin/partners/999999", "/admin/partners/999999/edit", "/admin/offers/999/edit"):
        assert (await admin.get(path)).status_code == 404
    for path in (
        "/admin/partners/999999/edit",
        "/admin/partners/999999/offers/new",
        "/admin/offers/999/toggle",
        "/admin/offers/999/delete",
    ):
        assert (await admin.post(path, OFFER_FORM)).status_code == 404


# -- offers ---------------------------------------------------------------------------
async def test_offer_create_edit_suspend_and_delete(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    partner_id = accounts.partner.id
    form = await admin.get(f"/admin/partners/{partner_id}/offers/new")
    assert form.status_code == 200
    for label in ("Сертификат жизни", "Переодеваемся в новую жизнь", "Семейная социальная карта"):
        assert label in form.text
    assert "после насилия" in form.text and "многодетная семья" in form.text

    created = await admin.post(f"/admin/partners/{partner_id}/offers/new", OFFER_FORM)
    assert created.status_code == 303
    assert created.headers["location"] == f"/admin/partners/{partner_id}"
    async with services.db.session() as session:
        offer = await session.scalar(select(Offer).where(Offer.partner_id == partner_id))
        assert offer is not None
        assert (offer.value_rub, offer.discount_percent, offer.monthly_quota) == (3000, None, 5)
        assert offer.valid_days == 60
        assert (offer.starts_on, offer.ends_on) == (date(2025, 1, 1), date(2025, 12, 31))
        assert offer.categories == ["pregnancy", "single_parent"]  # in the list's order
    page = await admin.get(f"/admin/partners/{partner_id}")
    assert "Сертификат на товары для новорождённого" in page.text
    assert "номинал 3 000 ₽" in page.text and "до 5 в месяц" in page.text

    edit_form = await admin.get(f"/admin/offers/{offer.id}/edit")
    assert 'value="2025-12-31"' in edit_form.text
    changed = OFFER_FORM | {
        "programme": "family_card",
        "value_rub": "",
        "discount_percent": "15",
        "monthly_quota": "",
        "categories": [],
    }
    assert (await admin.post(f"/admin/offers/{offer.id}/edit", changed)).status_code == 303
    assert (await admin.post(f"/admin/offers/{offer.id}/toggle")).status_code == 303
    async with services.db.session() as session:
        saved = await session.get(Offer, offer.id)
        assert saved is not None
        assert (saved.programme, saved.discount_percent, saved.monthly_quota) == (
            "family_card",
            15,
            None,
        )
        assert saved.categories == [] and not saved.active
    assert "приостановлено" in (await admin.get(f"/admin/partners/{partner_id}")).text
    assert (await admin.post(f"/admin/offers/{offer.id}/delete")).status_code == 303
    assert await count(services, Offer) == 0
    assert await audit_actions(services, "offer") == ["create", "update", "suspend", "delete"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "Укажите название предложения"),
        ("covers", "", "Опишите, что получает семья"),
        ("programme", "lottery", "Выберите программу"),
        ("value_rub", "-5", "Номинал — целое число рублей"),
        ("discount_percent", "0", "от 1 до 100"),
        ("discount_percent", "101", "от 1 до 100"),
        ("monthly_quota", "0", "Лимит в месяц"),
        ("valid_days", "400", "от 1 до 365 дней"),
        ("valid_days", "", "от 1 до 365 дней"),
        ("ends_on", "2024-12-31", "не может быть раньше даты начала"),
        ("starts_on", "вчера", "Дата в виде"),
        ("categories", ["rich"], "Выберите категории семей"),
    ],
)
async def test_offer_errors_keep_the_input_and_save_nothing(
    field: str,
    value: str | list[str],
    message: str,
    staff_client: MakeClient,
    services: Services,
    accounts: Accounts,
) -> None:
    admin = await staff_client("admin")
    response = await admin.post(
        f"/admin/partners/{accounts.partner.id}/offers/new", OFFER_FORM | {field: value}
    )
    assert response.status_code == 400
    assert message in response.text
    assert "Сертификат на товары для новорождённого" in response.text or field == "title"
    assert "Одежда и товары для малыша" in response.text or field == "covers"
    assert await count(services, Offer) == 0
    assert await audit_actions(services, "offer") == []


async def test_a_bad_offer_edit_changes_nothing(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    async with services.db.session() as session:
        offer = Offer(partner_id=accounts.partner.id, programme="new_life", title="Платье")
        session.add(offer)
    admin = await staff_client("admin")
    response = await admin.post(
        f"/admin/offers/{offer.id}/edit", OFFER_FORM | {"discount_percent": "сто"}
    )
    assert response.status_code == 400 and 'value="сто"' in response.text
    async with services.db.session() as session:
        saved = await session.get(Offer, offer.id)
        assert saved is not None and saved.title == "Платье" and saved.programme == "new_life"


# -- who may see what -----------------------------------------------------------------
async def test_a_partner_sees_only_their_own_organisation(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    async with services.db.session() as session:
        session.add_all(
            [
                Offer(
                    partner_id=accounts.partner.id,
                    programme="life_certificate",
                    title="Наш сертификат",
                    covers="Пелёнки",
                ),
                Offer(
                    partner_id=accounts.other_partner.id,
                    programme="new_life",
                    title="Чужая стрижка",
                ),
                StaffUser(
                    login="colleague",
                    role="partner",
                    partner_id=accounts.partner.id,
                    password_hash="x",
                ),
                StaffUser(
                    login="stranger",
                    role="partner",
                    partner_id=accounts.other_partner.id,
                    password_hash="x",
                ),
            ]
        )
    client = await staff_client("partner")
    own = await client.get("/admin/partner")
    assert own.status_code == 200
    assert "Карапуз" in own.text and "Наш сертификат" in own.text and "Пелёнки" in own.text
    assert "colleague" in own.text and "partner-user" in own.text
    for foreign in ("Новый образ", "Чужая стрижка", "stranger"):
        assert foreign not in own.text
    # Read-only: no forms but logout, and the one that links the person's own Telegram.
    body = own.text.split("</header>", 1)[1]
    assert body.count("<form") == 1 and 'action="/admin/partner/telegram"' in body
    async with services.db.session() as session:
        offer_id = await session.scalar(select(Offer.id).where(Offer.title == "Наш сертификат"))
    for path in (
        "/admin/partners",
        f"/admin/partners/{accounts.other_partner.id}",
        f"/admin/partners/{accounts.partner.id}",
        f"/admin/offers/{offer_id}/edit",
        "/admin/users",
        "/admin/requests",
    ):
        assert (await client.get(path)).status_code == 403, path
    refused = await client.post(f"/admin/offers/{offer_id}/toggle")
    assert refused.status_code == 403


async def test_a_partner_account_without_an_organisation_gets_a_kind_message(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    async with services.db.session() as session:
        await session.execute(
            update(StaffUser).where(StaffUser.login == "partner-user").values(partner_id=None)
        )
    page = await (await staff_client("partner")).get("/admin/partner")
    assert page.status_code == 200
    assert "не привязана к организации" in page.text and "Карапуз" not in page.text


@pytest.mark.parametrize("role", ["editor", "consultant"])
async def test_other_roles_cannot_open_partners(role: str, staff_client: MakeClient) -> None:
    client = await staff_client(role)
    assert (await client.get("/admin/partners")).status_code == 403
    assert (await client.get("/admin/partner")).status_code == 403
