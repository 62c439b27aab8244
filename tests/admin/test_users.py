"""Staff accounts: one-time passwords shown once, forced change at first login,
sessions ending on reset or disabling, the last manager kept, no secrets in the log."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select

from admin import audit, auth
from bot.core.services import Services
from bot.storage.models import AuditRecord, StaffSession, StaffUser
from tests.admin.conftest import Accounts, StaffClient

MakeClient = Callable[[str], Awaitable[StaffClient]]
SECRET = re.compile(r'<p class="secret" id="one-time-password">([^<]+)</p>')


def one_time_password(response: httpx.Response) -> str:
    found = SECRET.search(response.text)
    assert found, response.text
    return found.group(1)


async def user_by_login(services: Services, login: str) -> StaffUser | None:
    async with services.db.session() as session:
        return await session.scalar(select(StaffUser).where(StaffUser.login == login))


async def staff_records(services: Services) -> list[AuditRecord]:
    async with services.db.session() as session:
        return list(
            (
                await session.scalars(
                    select(AuditRecord)
                    .where(AuditRecord.entity == "staff_user", AuditRecord.action != "login")
                    .order_by(AuditRecord.id)
                )
            ).all()
        )


async def test_the_list_shows_roles_specialties_and_partners(
    staff_client: MakeClient, accounts: Accounts
) -> None:
    page = await (await staff_client("admin")).get("/admin/users")
    assert page.status_code == 200
    for shown in (
        "consultant-user",
        "Консультант",
        "психолог, кризисный специалист",
        "Сотрудник партнёра",
        "Детский магазин «Карапуз»",
        "ещё не входил(а)",
    ):
        assert shown in page.text
    assert "argon2" not in page.text
    editors = await (await staff_client("admin")).get("/admin/users?role=editor")
    assert "editor-user" in editors.text and "consultant-user" not in editors.text


async def test_a_new_account_gets_a_one_time_password_shown_once(
    staff_client: MakeClient, services: Services, accounts: Accounts, anonymous: StaffClient
) -> None:
    admin = await staff_client("admin")
    created = await admin.post(
        "/admin/users/new",
        {
            "login": "Amina.Psy",
            "name": "Амина Магомедова",
            "role": "consultant",
            "specialties": ["psychologist", "lawyer"],
            "partner_id": str(accounts.partner.id),  # ignored: not partner staff
        },
    )
    assert created.status_code == 200
    password = one_time_password(created)
    assert len(password) >= auth.PASSWORD_MIN and "amina.psy" in created.text
    assert password not in created.headers.get("set-cookie", "")  # never in a flash cookie
    user = await user_by_login(services, "amina.psy")
    assert user is not None
    assert user.must_change_password and user.role == "consultant"
    assert user.specialties == ["lawyer", "psychologist"] and user.partner_id is None
    assert password not in user.password_hash and auth.verify_password(user.password_hash, password)
    # Nowhere else: not on the next pages, not in the audit log.
    for path in ("/admin/users", f"/admin/users/{user.id}/edit", "/admin/users/new"):
        assert password not in (await admin.get(path)).text
    records = await staff_records(services)
    assert [r.action for r in records] == ["create"]
    assert password not in json.dumps([[r.before, r.after] for r in records], ensure_ascii=False)
    assert records[0].after is not None and "password_hash" not in records[0].after

    # The first login leads straight to the forced password change.
    login = await anonymous.login("amina.psy", password)
    assert login.status_code == 303 and login.headers["location"] == "/admin/account"
    elsewhere = await anonymous.get("/admin/cases")
    assert elsewhere.headers["location"] == "/admin/account"
    assert "временным паролем" in (await anonymous.get("/admin/account")).text


async def test_new_account_form_is_prefilled_for_a_partner(
    staff_client: MakeClient, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    page = await admin.get(f"/admin/users/new?role=partner&partner_id={accounts.partner.id}")
    assert '<option value="partner" selected>' in page.text
    assert f'<option value="{accounts.partner.id}" selected>' in page.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"login": "editor-user", "role": "editor"}, "уже занят"),
        ({"login": "Я логин", "role": "editor"}, "Логин: 2–64 символа"),
        ({"login": "new-one", "role": "consultant"}, "хотя бы одна специальность"),
        ({"login": "new-one", "role": "partner"}, "привязан к организации-партнёру"),
        ({"login": "new-one", "role": "partner", "partner_id": "99999"}, "Такой организации"),
        ({"login": "new-one", "role": "root"}, "Выберите роль"),
        ({"login": "new-one", "role": "editor", "name": ""}, "Укажите имя"),
    ],
)
async def test_bad_new_accounts_are_refused_with_the_input_kept(
    form: dict[str, str],
    message: str,
    staff_client: MakeClient,
    services: Services,
    accounts: Accounts,
) -> None:
    admin = await staff_client("admin")
    response = await admin.post("/admin/users/new", {"name": "Заира"} | form)
    assert response.status_code == 400
    assert message in response.text and "one-time-password" not in response.text
    assert f'value="{form["login"]}"' in response.text
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(StaffUser)) == 4
    assert await staff_records(services) == []


async def test_editing_an_account_changes_role_and_is_audited(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    editor = accounts.users["editor"]
    response = await admin.post(
        f"/admin/users/{editor.id}/edit",
        {
            "name": "Патимат",
            "role": "partner",
            "partner_id": str(accounts.other_partner.id),
            "specialties": ["lawyer"],  # dropped: not a consultant
            "active": "1",
        },
    )
    assert response.status_code == 303
    user = await user_by_login(services, "editor-user")
    assert user is not None
    assert (user.name, user.role, user.partner_id, user.specialties) == (
        "Патимат",
        "partner",
        accounts.other_partner.id,
        [],
    )
    [record] = await staff_records(services)
    assert record.action == "update" and record.before and record.after
    assert record.before["role"] == "editor" and record.after["role"] == "partner"
    assert "password_hash" not in record.before and "password_hash" not in record.after
    bad = await admin.post(f"/admin/users/{editor.id}/edit", {"name": "X", "role": "consultant"})
    assert bad.status_code == 400 and "хотя бы одна специальность" in bad.text


async def test_reset_password_ends_the_old_sessions(
    staff_client: MakeClient, services: Services, accounts: Accounts, anonymous: StaffClient
) -> None:
    admin = await staff_client("admin")
    victim = await staff_client("editor")
    assert (await victim.get("/admin/")).status_code == 200
    editor = accounts.users["editor"]
    reset = await admin.post(f"/admin/users/{editor.id}/reset-password")
    assert reset.status_code == 200
    password = one_time_password(reset)
    gone = await victim.get("/admin/")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/admin/login")
    assert (await admin.get("/admin/")).status_code == 200  # the manager stays logged in
    user = await user_by_login(services, "editor-user")
    assert user is not None and user.must_change_password
    assert (await anonymous.login("editor-user")).status_code == 401  # the old one is dead
    fresh = await anonymous.login("editor-user", password)
    assert fresh.headers["location"] == "/admin/account"
    [record] = await staff_records(services)
    assert record.action == "password_reset" and record.before is None and record.after is None


async def test_disabling_ends_sessions_and_enabling_brings_the_account_back(
    staff_client: MakeClient, services: Services, accounts: Accounts, anonymous: StaffClient
) -> None:
    admin = await staff_client("admin")
    consultant = await staff_client("consultant")
    user_id = accounts.users["consultant"].id
    assert (await admin.post(f"/admin/users/{user_id}/disable")).status_code == 303
    assert (await consultant.get("/admin/cases")).status_code == 303
    async with services.db.session() as session:
        left = await session.scalar(
            select(func.count()).select_from(StaffSession).where(StaffSession.user_id == user_id)
        )
        assert left == 0
    assert (await anonymous.login("consultant-user")).status_code == 401
    assert "отключена" in (await admin.get(f"/admin/users/{user_id}/edit")).text
    assert (await admin.post(f"/admin/users/{user_id}/enable")).status_code == 303
    assert (await anonymous.login("consultant-user")).status_code == 303
    assert [r.action for r in await staff_records(services)] == ["disable", "enable"]


async def test_the_last_manager_cannot_be_disabled_or_demoted(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    me = accounts.users["admin"]
    disabled = await admin.post(f"/admin/users/{me.id}/disable")
    assert disabled.status_code == 400 and "последняя действующая учётная запись" in disabled.text
    demoted = await admin.post(
        f"/admin/users/{me.id}/edit", {"name": "Я", "role": "editor", "active": "1"}
    )
    assert demoted.status_code == 400 and "последняя действующая" in demoted.text
    switched_off = await admin.post(
        f"/admin/users/{me.id}/edit",
        {"name": "Я", "role": "admin"},  # "active" unticked
    )
    assert switched_off.status_code == 400
    user = await user_by_login(services, "admin-user")
    assert user is not None and user.active and user.role == "admin"
    assert (await admin.get("/admin/users")).status_code == 200  # still logged in
    assert await staff_records(services) == []


async def test_a_manager_cannot_disable_themselves_even_with_a_colleague(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    created = await admin.post(
        "/admin/users/new", {"login": "second-admin", "name": "Второй", "role": "admin"}
    )
    assert created.status_code == 200
    me = accounts.users["admin"]
    refused = await admin.post(f"/admin/users/{me.id}/disable")
    assert refused.status_code == 400 and "Нельзя отключить свою учётную запись" in refused.text
    # Another manager may be disabled while one remains.
    second = await user_by_login(services, "second-admin")
    assert second is not None
    assert (await admin.post(f"/admin/users/{second.id}/disable")).status_code == 303


async def test_audit_snapshots_never_hold_the_password_hash(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    user = accounts.users["editor"]
    assert "password_hash" not in audit.snapshot(user)
    admin = await staff_client("admin")
    await admin.post("/admin/users/new", {"login": "p1", "name": "П", "role": "editor"})
    await admin.post(
        f"/admin/users/{user.id}/edit", {"name": "Новое имя", "role": "editor", "active": "1"}
    )
    await admin.post(f"/admin/users/{user.id}/reset-password")
    await admin.post(f"/admin/users/{user.id}/disable")
    records = await staff_records(services)
    assert [r.action for r in records] == ["create", "update", "password_reset", "disable"]
    async with services.db.session() as session:
        hashes = list((await session.scalars(select(StaffUser.password_hash))).all())
    dumped = json.dumps([[r.before, r.after] for r in records], ensure_ascii=False)
    assert "password_hash" not in dumped and "argon2" not in dumped
    assert not any(h in dumped for h in hashes)


async def test_unknown_account_is_404(staff_client: MakeClient, accounts: Accounts) -> None:
    admin = await staff_client("admin")
    assert (await admin.get("/admin/users/99999/edit")).status_code == 404
    for action in ("edit", "reset-password", "disable", "enable"):
        response = await admin.post(f"/admin/users/99999/{action}", {"name": "x", "role": "editor"})
        assert response.status_code == 404


@pytest.mark.parametrize("role", ["editor", "consultant", "partner"])
async def test_only_the_manager_manages_accounts(
    role: str, staff_client: MakeClient, accounts: Accounts
) -> None:
    client = await staff_client(role)
    assert (await client.get("/admin/users")).status_code == 403
    target = accounts.users[role].id
    assert (await client.post(f"/admin/users/{target}/reset-password")).status_code == 403


# -- consultants: working hours and chats at once ----------------------------------------
CONSULTANT_FORM = {
    "login": "zaira.law",
    "name": "Заира",
    "role": "consultant",
    "specialties": ["lawyer"],
    "working_hours": "пн-чт 10:00-16:00\nсб 10:00-14:00",
    "max_chats": "5",
}


async def test_a_consultant_gets_working_hours_and_a_chat_limit(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    form = await admin.get("/admin/users/new")
    assert "К вам подключается Анна, психолог" in form.text  # the name families see
    assert 'placeholder="пн-пт 09:00-18:00"' in form.text  # the centre's hours
    assert 'name="max_chats" type="number"' in form.text and 'value="3"' in form.text

    created = await admin.post("/admin/users/new", CONSULTANT_FORM)
    assert created.status_code == 200
    user = await user_by_login(services, "zaira.law")
    assert user is not None
    assert (user.working_hours, user.max_chats) == ("пн-чт 10:00-16:00; сб 10:00-14:00", 5)
    [record] = await staff_records(services)
    assert record.after is not None
    assert record.after["working_hours"] == "пн-чт 10:00-16:00; сб 10:00-14:00"
    assert record.after["max_chats"] == 5

    page = await admin.get(f"/admin/users/{user.id}/edit")
    assert "Часы работы</dt><dd>пн-чт 10:00-16:00; сб 10:00-14:00" in page.text
    assert "Одновременно чатов</dt><dd>до 5" in page.text
    assert 'value="пн-чт 10:00-16:00; сб 10:00-14:00"' in page.text


async def test_changing_a_consultants_hours_is_audited(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    consultant = accounts.users["consultant"]
    page = await admin.get(f"/admin/users/{consultant.id}/edit")
    assert "Часы работы</dt><dd>как у центра: пн-пт 09:00-18:00" in page.text
    response = await admin.post(
        f"/admin/users/{consultant.id}/edit",
        {
            "name": "Анна",
            "role": "consultant",
            "specialties": ["psychologist"],
            "working_hours": "вт-сб 12:00-20:00",
            "max_chats": "2",
            "active": "1",
        },
    )
    assert response.status_code == 303
    user = await user_by_login(services, "consultant-user")
    assert user is not None
    assert (user.name, user.working_hours, user.max_chats) == ("Анна", "вт-сб 12:00-20:00", 2)
    [record] = await staff_records(services)
    assert record.before is not None and record.after is not None
    assert (record.before["working_hours"], record.after["working_hours"]) == (
        "",
        "вт-сб 12:00-20:00",
    )
    assert (record.before["max_chats"], record.after["max_chats"]) == (3, 2)

    # Emptying the hours gives the consultant the centre's hours again;
    # an empty chat limit keeps the one they have.
    back = await admin.post(
        f"/admin/users/{consultant.id}/edit",
        {
            "name": "Анна",
            "role": "consultant",
            "specialties": ["psychologist"],
            "working_hours": "",
            "max_chats": "",
            "active": "1",
        },
    )
    assert back.status_code == 303
    user = await user_by_login(services, "consultant-user")
    assert user is not None and (user.working_hours, user.max_chats) == ("", 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"working_hours": "по будням"}, "не понятно «по будням»"),
        ({"working_hours": "пн-пт 18:00-09:00"}, "конец раньше начала"),
        ({"working_hours": "пн-пт 09:00-25:00"}, "нет такого времени"),
        ({"working_hours": "xx 09:00-18:00"}, "нет такого дня недели"),
        ({"working_hours": ";"}, "не указано ни одного рабочего дня"),
        ({"working_hours": "пн 09:00-18:00; " * 20}, "не длиннее 200 символов"),
        ({"max_chats": "0"}, "от 1 до 20"),
        ({"max_chats": "21"}, "от 1 до 20"),
        ({"max_chats": "три"}, "от 1 до 20"),
        ({"max_chats": "-1"}, "от 1 до 20"),
    ],
)
async def test_bad_consultant_settings_are_refused_next_to_the_field(
    change: dict[str, str],
    message: str,
    staff_client: MakeClient,
    services: Services,
    accounts: Accounts,
) -> None:
    admin = await staff_client("admin")
    form = CONSULTANT_FORM | change
    created = await admin.post("/admin/users/new", form)
    assert created.status_code == 400
    assert message in created.text and "one-time-password" not in created.text
    field = "working_hours" if "working_hours" in change else "max_chats"
    assert f'<span class="field-error" id="err-{field}">' in created.text
    assert 'value="zaira.law"' in created.text and 'value="Заира"' in created.text
    assert await user_by_login(services, "zaira.law") is None

    consultant = accounts.users["consultant"]
    edited = await admin.post(
        f"/admin/users/{consultant.id}/edit", form | {"name": "Новое имя", "active": "1"}
    )
    assert edited.status_code == 400 and message in edited.text
    assert 'value="Новое имя"' in edited.text
    user = await user_by_login(services, "consultant-user")
    assert user is not None and (user.name, user.working_hours, user.max_chats) == (
        "Тест consultant",
        "",
        3,
    )
    assert await staff_records(services) == []


async def test_other_roles_ignore_the_consultant_fields(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    admin = await staff_client("admin")
    created = await admin.post(
        "/admin/users/new",
        {
            "login": "new-editor",
            "name": "Редактор",
            "role": "editor",
            "working_hours": "когда угодно",
            "max_chats": "100",
        },
    )
    assert created.status_code == 200
    user = await user_by_login(services, "new-editor")
    assert user is not None and (user.working_hours, user.max_chats) == ("", 3)
    assert "Часы работы</dt>" not in (await admin.get(f"/admin/users/{user.id}/edit")).text
