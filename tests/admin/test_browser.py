"""The admin panel in a real Chromium, served with the web chat as `make run` does:
staff log in, an editor's change reaches the family's chat, a partner is kept
out of content pages, a form without its CSRF token is refused, the dashboard
draws its charts. Screenshots of the main pages go to test-artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core.services import Services
from tests.admin.conftest import PASSWORD, Accounts
from tests.support.browser import ARTIFACTS, PHONE, chromium_browser, log_in, site

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
DESKTOP = {"width": 1280, "height": 900}
ENTRY = "unified-benefit"


@pytest.fixture
async def base(services: Services, accounts: Accounts) -> AsyncIterator[str]:
    async with site(services) as url:
        yield url


async def test_editor_changes_an_answer_and_the_family_sees_it(base: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with chromium_browser() as browser:
        staff = await browser.new_page(viewport=DESKTOP, locale="ru-RU")
        errors: list[str] = []
        staff.on("pageerror", lambda exc: errors.append(str(exc)))
        # CSP violations and script errors show in the console; the one expected
        # 403 (the forged form) is a failed resource load, not an error of ours.
        staff.on(
            "console",
            lambda msg: (
                errors.append(msg.text)
                if msg.type == "error" and "status of 403" not in msg.text
                else None
            ),
        )
        await staff.goto(base + "/admin/login")
        await staff.screenshot(path=str(ARTIFACTS / "admin-login.png"))
        await log_in(staff, base, "editor-user", PASSWORD)
        await staff.screenshot(path=str(ARTIFACTS / "admin-home-editor.png"))

        await staff.goto(base + "/admin/knowledge")
        await staff.screenshot(path=str(ARTIFACTS / "admin-knowledge-list.png"))
        await staff.goto(base + f"/admin/knowledge/{ENTRY}/edit")
        wording = "Новая формулировка от редактора: подать заявление можно на Госуслугах."
        await staff.locator('textarea[name="summary.ru"]').fill(wording)
        await staff.screenshot(path=str(ARTIFACTS / "admin-knowledge-edit.png"), full_page=True)
        await staff.get_by_role("button", name="Сохранить").click()
        await staff.wait_for_url(base + f"/admin/knowledge/{ENTRY}")
        await staff.get_by_text("Изменения сохранены").wait_for()
        await staff.screenshot(path=str(ARTIFACTS / "admin-knowledge-entry.png"))

        # The family asks in the web chat and gets the new wording at once.
        family = await browser.new_page(viewport=PHONE, locale="ru-RU")
        await family.goto(base + "/")
        await family.locator('[data-testid="message"][data-from="bot"]').first.wait_for()
        await family.locator('[data-testid="composer-input"]').fill("единое пособие")
        await family.locator('[data-testid="composer-send"]').click()
        await family.get_by_text("Новая формулировка от редактора", exact=False).wait_for()
        await family.screenshot(path=str(ARTIFACTS / "admin-change-in-web-chat.png"))

        # A form posted without its CSRF token is refused and changes nothing.
        await staff.goto(base + f"/admin/knowledge/{ENTRY}/edit")
        await staff.locator('textarea[name="summary.ru"]').fill("Подделка")
        await staff.evaluate(
            "document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())"
        )
        await staff.get_by_role("button", name="Сохранить").click()
        await staff.get_by_text("Форма устарела").wait_for()
        assert "Нет доступа" in await staff.locator("h1").inner_text()
        await staff.goto(base + f"/admin/knowledge/{ENTRY}")
        assert "Подделка" not in await staff.content()

        await staff.goto(base + "/admin/journeys/pregnancy")
        assert await staff.locator("svg [data-node]").count() > 5
        await staff.screenshot(path=str(ARTIFACTS / "admin-journey.png"))
        assert errors == []


async def test_manager_sees_the_dashboard_charts_on_a_phone(base: str, services: Services) -> None:
    from bot.core.frontdoor import FrontDoor

    # Some real traffic for the charts: a family walks through the bot first.
    from tests.support.family import TestFamily

    family = TestFamily(FrontDoor(services))
    await family.send("/start")
    await family.send("единое пособие")
    await family.send("мне страшно, муж бьёт")

    async with chromium_browser() as browser:
        page = await browser.new_page(viewport=PHONE, locale="ru-RU")
        await log_in(page, base, "admin-user", PASSWORD)
        await page.screenshot(path=str(ARTIFACTS / "admin-home-manager.png"))
        await page.goto(base + "/admin/dashboard")
        charts = page.locator("svg.chart")
        assert await charts.count() >= 5
        bars = page.locator("svg.chart [data-value]")
        assert await bars.count() >= 1
        await page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)
        # No chart is wider than the phone's screen.
        widths = await charts.evaluate_all("els => els.map(e => e.getBoundingClientRect().width)")
        assert max(widths) <= PHONE["width"]

        csv = await page.request.get(base + "/admin/dashboard.csv")
        assert csv.status == 200 and "attachment" in csv.headers["content-disposition"]

        for path, name in (
            ("/admin/partners", "admin-partners.png"),
            ("/admin/users", "admin-users.png"),
            ("/admin/audit", "admin-audit.png"),
            ("/admin/cases", "admin-cases.png"),
        ):
            await page.goto(base + path)
            await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def test_partner_staff_are_kept_out_of_content_pages(base: str) -> None:
    async with chromium_browser() as browser:
        page = await browser.new_page(viewport=PHONE, locale="ru-RU")
        await log_in(page, base, "partner-user", PASSWORD)
        assert "Карапуз" in await page.content()
        await page.locator("details.menu summary").click()  # the phone menu opens on tap
        nav = await page.locator("details.menu nav").inner_text()
        assert "База знаний" not in nav and "Моя организация" in nav
        await page.screenshot(path=str(ARTIFACTS / "admin-partner-home.png"))
        for path in ("/admin/knowledge", f"/admin/knowledge/{ENTRY}/edit", "/admin/users"):
            response = await page.goto(base + path)
            assert response is not None and response.status == 403, path
            assert "Нет доступа" in await page.locator("h1").inner_text()
        await page.screenshot(path=str(ARTIFACTS / "admin-partner-403.png"))
        await page.goto(base + "/admin/partner")
        assert "Новый образ" not in await page.content()  # someone else's organisation


async def test_a_psychologist_issues_and_a_shop_redeems_on_phones(
    base: str, services: Services, accounts: Accounts
) -> None:
    """The voucher's path through people's hands: the psychologist issues a
    Certificate of Life from the case, the shop assistant types the code on a
    phone and redeems it with one tap."""

    from bot.storage.models import Case, Family, Offer, Voucher

    async with services.db.session() as session:
        offer = Offer(
            partner_id=accounts.partner.id,
            programme="life_certificate",
            title="Набор для новорождённого",
            covers="Подгузники, пелёнки, боди",
            value_rub=5000,
            monthly_quota=5,
            valid_days=30,
        )
        family = Family()
        session.add_all([offer, family])
        await session.flush()
        session.add(
            Case(
                family_id=family.id,
                topic="pregnancy",
                specialty="psychologist",
                priority="high",
                summary="Решила сохранить беременность",
                channel="web",
                language="ru",
            )
        )
    async with chromium_browser() as browser:
        staff = await browser.new_page(viewport=PHONE, locale="ru-RU")
        await log_in(staff, base, "consultant-user", PASSWORD)
        await staff.goto(base + "/admin/cases")
        await staff.get_by_text("Выдать сертификат").first.click()
        await staff.locator('select[name="offer_id"]').select_option(index=1)
        await staff.screenshot(path=str(ARTIFACTS / "admin-issue-voucher.png"), full_page=True)
        await staff.locator("form button[type=submit]", has_text="Выдать сертификат").click()
        await staff.get_by_text("Сертификат выдан", exact=False).wait_for()

        async with services.db.session() as session:
            from sqlalchemy import select

            code = await session.scalar(select(Voucher.code))
        assert code is not None

        shop = await browser.new_page(viewport=PHONE, locale="ru-RU")
        await log_in(shop, base, "partner-user", PASSWORD)
        await shop.goto(base + "/admin/check")
        await shop.locator('input[name="code"]').fill(code.lower())
        await shop.get_by_role("button", name="Проверить").click()
        await shop.get_by_text("Действителен", exact=False).first.wait_for()
        page_text = await shop.content()
        assert "Решила сохранить" not in page_text and "Тест consultant" not in page_text
        await shop.screenshot(path=str(ARTIFACTS / "admin-check-valid.png"), full_page=True)
        await shop.get_by_role("button", name="Погасить").click()
        await shop.get_by_text("Погашено", exact=False).first.wait_for()
        await shop.screenshot(path=str(ARTIFACTS / "admin-check-redeemed.png"), full_page=True)
