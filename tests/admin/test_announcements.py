"""«Рассылки»: the manager and editors write a draft, see how families will read
it and how many will get it, start it, watch it go and may stop it. Counts only,
every step audited; consultants and partners have no access."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from bot.core.services import Services
from bot.outbound.announcements import TEXT_MAX, Feeder
from bot.storage.models import Announcement, AuditRecord, OutboxItem
from tests.admin.conftest import Accounts, StaffClient
from tests.outbound.test_announcements import Courier, add_family

MakeClient = Callable[[str], Awaitable[StaffClient]]
GOOD = {"text": "В субботу в центре праздник для семей.\r\nПриходите!", "language": ""}


async def rows(services: Services) -> list[Announcement]:
    async with services.db.session() as session:
        return list((await session.scalars(select(Announcement).order_by(Announcement.id))).all())


async def records(services: Services) -> list[AuditRecord]:
    async with services.db.session() as session:
        return list(
            (
                await session.scalars(
                    select(AuditRecord)
                    .where(AuditRecord.entity == "announcement")
                    .order_by(AuditRecord.id)
                )
            ).all()
        )


async def draft(client: StaffClient, **values: object) -> str:
    """Create a draft through the form; its page's path."""
    created = await client.post("/admin/announcements/new", GOOD | values)
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    assert re.fullmatch(r"/admin/announcements/\d+", location)
    return str(location)


@pytest.mark.parametrize("role", ["editor", "admin"])
async def test_create_preview_start_watch_and_stop(
    role: str, staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    chats = [(await add_family(services))[1][0] for _ in range(3)]
    await add_family(services, ok=False)  # did not agree: never counted
    await add_family(services, language="en")  # the filter below leaves it out
    client = await staff_client(role)

    listing = await client.get("/admin/announcements")
    assert listing.status_code == 200 and "Рассылок пока нет" in listing.text
    assert 'href="/admin/announcements"' in listing.text  # the menu
    form = await client.get("/admin/announcements/new")
    assert form.status_code == 200 and 'name="csrf"' in form.text
    for shown in ("многодетная семья", "ребёнок до 3 лет", "подтверждённой", "Дербент"):
        assert shown in form.text, shown

    path = await draft(client, language="ru")
    [announcement] = await rows(services)
    assert announcement.status == "draft" and announcement.language == "ru"
    assert announcement.text == "В субботу в центре праздник для семей.\nПриходите!"
    assert announcement.created_by == accounts.users[role].id

    view = await client.get(path)
    assert view.status_code == 200
    assert "Получат: <strong>3 семьи</strong>" in view.text
    assert "Отключить новости центра: Меню → Настройки → Новости центра." in view.text
    assert "Начать рассылку" in view.text and "Изменить" in view.text
    assert "Удалить черновик" in view.text
    for chat in chats:  # counts only, never who
        assert chat not in view.text

    started = await client.post(f"{path}/start")
    assert started.status_code == 303 and started.headers["location"] == path
    [announcement] = await rows(services)
    assert (announcement.status, announcement.total) == ("sending", 3)
    progress = await client.get(f"{path}/progress.json")
    assert progress.status_code == 200
    figures = progress.json()
    assert {k: figures[k] for k in ("status", "total", "queued", "sent", "waiting")} == {
        "status": "sending",
        "total": 3,
        "queued": 0,
        "sent": 0,
        "waiting": 0,
    }
    assert figures["eta"] == "меньше минуты" and figures["percent"] == 0

    courier = Courier(services)
    feeder = Feeder(services, low=1, batch=2)
    await feeder.top_up()
    await courier.flush()
    figures = (await client.get(f"{path}/progress.json")).json()
    assert (figures["queued"], figures["sent"], figures["percent"]) == (2, 2, 67)

    sending = await client.get(path)
    assert "Ход рассылки" in sending.text and "Остановить" in sending.text
    assert 'data-progress="/admin/announcements/' in sending.text
    assert "/static/announcements.js" in sending.text
    assert "Начать рассылку" not in sending.text and "Удалить черновик" not in sending.text

    await feeder.top_up()  # the third family's item waits…
    stopped = await client.post(f"{path}/stop")
    assert stopped.status_code == 303
    [announcement] = await rows(services)
    assert (announcement.status, announcement.sent, announcement.queued) == ("stopped", 2, 2)
    async with services.db.session() as session:  # …and is withdrawn
        assert await session.scalar(select(func.count()).select_from(OutboxItem)) == 0
    await feeder.top_up()
    await courier.flush()
    assert len(courier.sent) == 2

    final = await client.get(path)
    assert "Итоги" in final.text and "остановлена" in final.text
    assert "<dt>Не отправлено</dt><dd>1</dd>" in final.text
    assert (
        'action="/admin/announcements/' not in final.text.split("Итоги")[1].split("</section>")[0]
    )
    assert (await client.get(f"{path}/progress.json")).json()["status"] == "stopped"

    assert [r.action for r in await records(services)] == ["create", "start", "stop"]
    assert {r.user_login for r in await records(services)} == {f"{role}-user"}
    listing = await client.get("/admin/announcements")
    assert "остановлена" in listing.text and "2 из 3" in listing.text
    assert f"Тест {role}" in listing.text


async def test_a_bad_form_comes_back_with_what_was_typed(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    client = await staff_client("editor")
    empty = await client.post("/admin/announcements/new", {"text": "  ", "city": "atlantis"})
    assert empty.status_code == 400
    assert "Напишите текст рассылки" in empty.text and "Выберите город из списка" in empty.text
    long = "Новость. " * 500
    too_long = await client.post(
        "/admin/announcements/new", {"text": long, "categories": ["pregnancy", "aliens"]}
    )
    assert too_long.status_code == 400
    assert f"не длиннее {TEXT_MAX} символов" in too_long.text
    assert "Выберите категории семей из списка" in too_long.text
    assert "Новость. Новость." in too_long.text  # kept
    assert 'value="pregnancy" checked' in too_long.text
    assert await rows(services) == []


async def test_a_draft_may_be_changed_and_deleted_a_started_one_not(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    await add_family(
        services,
        card={"status": "verified", "city": "derbent", "categories": ["large_family"]},
    )
    client = await staff_client("editor")
    path = await draft(client)
    edit = await client.get(f"{path}/edit")
    assert edit.status_code == 200 and "В субботу в центре праздник" in edit.text
    saved = await client.post(
        f"{path}/edit",
        {"text": "Встреча многодетных семей", "city": "derbent", "categories": "large_family"},
    )
    assert saved.status_code == 303
    [announcement] = await rows(services)
    assert (announcement.text, announcement.city, announcement.categories) == (
        "Встреча многодетных семей",
        "derbent",
        ["large_family"],
    )
    view = await client.get(path)
    assert "Получат: <strong>1 семья</strong>" in view.text
    assert "город: Дербент" in view.text and "категории: многодетная семья" in view.text

    other = await draft(client, text="Черновик, который не нужен")
    deleted = await client.post(f"{other}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/admin/announcements"
    assert len(await rows(services)) == 1

    assert (await client.post(f"{path}/start")).status_code == 303
    again = await client.post(f"{path}/start")
    assert "уже начата" in (await client.get(again.headers["location"])).text
    edit = await client.get(f"{path}/edit")
    assert edit.status_code == 303
    changed = await client.post(f"{path}/edit", {"text": "Другой текст"})
    assert changed.status_code == 303
    refused = await client.post(f"{path}/delete")
    assert refused.status_code == 303 and refused.headers["location"] == path
    [announcement] = await rows(services)
    assert (announcement.text, announcement.status) == ("Встреча многодетных семей", "sending")
    actions = [r.action for r in await records(services)]
    assert actions == ["create", "update", "create", "delete", "start"]


async def test_nobody_to_send_to_is_not_started(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    await add_family(services, language="en")
    client = await staff_client("admin")
    path = await draft(client, language="ru")
    view = await client.get(path)
    assert "Получат: <strong>0 семей</strong>" in view.text
    assert "Начать рассылку" not in view.text
    refused = await client.post(f"{path}/start")
    assert "не подходит ни одна семья" in (await client.get(refused.headers["location"])).text
    [announcement] = await rows(services)
    assert announcement.status == "draft"


@pytest.mark.parametrize("role", ["consultant", "partner"])
async def test_consultants_and_partners_have_no_access(
    role: str, staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    editor = await staff_client("editor")
    path = await draft(editor)
    client = await staff_client(role)
    for target in ("/admin/announcements", "/admin/announcements/new", path, f"{path}/edit"):
        assert (await client.get(target)).status_code == 403, target
    assert (await client.get(f"{path}/progress.json")).status_code == 403
    assert (await client.post(f"{path}/start")).status_code == 403
    assert (await client.post("/admin/announcements/new", GOOD)).status_code == 403
    home = await client.get("/admin/")
    assert "/admin/announcements" not in home.text  # not in their menu
    [announcement] = await rows(services)
    assert announcement.status == "draft"


async def test_starting_and_stopping_need_the_form_token(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    await add_family(services)
    client = await staff_client("admin")
    path = await draft(client)
    assert (await client.post(f"{path}/start", csrf=False)).status_code == 403
    assert (await client.post(f"{path}/start", {"csrf": "guess"}, csrf=False)).status_code == 403
    assert (await client.post(f"{path}/delete", csrf=False)).status_code == 403
    [announcement] = await rows(services)
    assert announcement.status == "draft"
    assert (await client.post(f"{path}/start")).status_code == 303
    assert (await client.post(f"{path}/stop", csrf=False)).status_code == 403
    [announcement] = await rows(services)
    assert announcement.status == "sending"
    assert [r.action for r in await records(services)] == ["create", "start"]


async def test_an_unknown_announcement_is_not_found(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    client = await staff_client("editor")
    assert (await client.get("/admin/announcements/999")).status_code == 404
    assert (await client.get("/admin/announcements/999/progress.json")).status_code == 404
    assert (await client.post("/admin/announcements/999/stop")).status_code == 404


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_in_a_phone_browser_the_figures_refresh_by_themselves(
    services: Services, accounts: Accounts
) -> None:
    from tests.admin.conftest import PASSWORD
    from tests.support.browser import ARTIFACTS, PHONE, chromium_browser, log_in, site

    for _ in range(3):
        await add_family(services)
    courier = Courier(services)
    feeder = Feeder(services, low=1, batch=2)
    ARTIFACTS.mkdir(exist_ok=True)
    async with site(services) as base, chromium_browser() as browser:
        page = await browser.new_page(viewport=PHONE, locale="ru-RU")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("dialog", lambda dialog: dialog.accept())  # the "are you sure?" questions
        await log_in(page, base, "editor-user", PASSWORD)
        await page.goto(base + "/admin/announcements/new")
        await page.locator('textarea[name="text"]').fill("Праздник в субботу!\nПриходите.")
        await page.screenshot(path=str(ARTIFACTS / "admin-announcement-new.png"), full_page=True)
        await page.get_by_role("button", name="Сохранить черновик").click()
        await page.get_by_text("Получат:").wait_for()
        await page.screenshot(path=str(ARTIFACTS / "admin-announcement-draft.png"), full_page=True)
        await page.get_by_role("button", name="Начать рассылку").click()
        await page.get_by_text("Ход рассылки").wait_for()

        await feeder.top_up()
        await courier.flush()
        sent = page.locator('[data-field="sent"]')
        await page.wait_for_function(
            "() => document.querySelector('[data-field=\"sent\"]').textContent === '2'",
            timeout=8000,
        )
        assert await sent.text_content() == "2"
        assert await page.locator('[data-field="percent"]').text_content() == "67"
        await page.screenshot(
            path=str(ARTIFACTS / "admin-announcement-sending.png"), full_page=True
        )

        await page.get_by_role("button", name="Остановить").click()
        await page.get_by_text("Итоги").wait_for()
        await page.screenshot(
            path=str(ARTIFACTS / "admin-announcement-stopped.png"), full_page=True
        )
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing runs off a phone's screen
    assert errors == []
    [announcement] = await rows(services)
    assert (announcement.status, announcement.sent) == ("stopped", 2)
