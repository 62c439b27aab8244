"""The consultants' inbox in a real Chromium, on a phone-sized screen: take a case
from the queue, answer with a canned reply changed by hand, see the answer in
the conversation, and see the family's next message arrive without a reload.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core.services import Services
from bot.storage.models import (
    CannedReply,
    Case,
    CaseMessage,
    Conversation,
    Family,
    Identity,
    utcnow,
)
from tests.admin.conftest import PASSWORD, Accounts
from tests.support.browser import ARTIFACTS, PHONE, chromium_browser, log_in, site

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def base(services: Services, accounts: Accounts) -> AsyncIterator[str]:
    async with site(services) as url:
        yield url


async def _waiting_case(services: Services) -> int:
    async with services.db.session() as session:
        family = Family(consent_at=utcnow())
        session.add(family)
        await session.flush()
        session.add(
            Identity(family_id=family.id, channel="web", external_id="visitor", chat_id="chat")
        )
        item = Case(
            family_id=family.id,
            topic="pregnancy",
            specialty="psychologist",
            priority="high",
            summary="Срок 8 недель, не знает, как сказать мужу",
            signals=[],
            channel="web",
            language="ru",
        )
        session.add(item)
        await session.flush()
        session.add(Conversation(family_id=family.id, journey="menu", node="start"))
        session.add(
            CaseMessage(case_id=item.id, author="family", text="Здравствуйте, мне нужна помощь")
        )
        session.add(CannedReply(title="Приветствие", text="Здравствуйте! Я психолог центра."))
        return item.id


async def test_a_consultant_takes_answers_and_sees_the_family_write(
    base: str, services: Services
) -> None:
    from playwright.async_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    case_id = await _waiting_case(services)
    async with chromium_browser() as browser:
        page = await browser.new_page(viewport=PHONE, locale="ru-RU")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # A CSP violation (inline script or style) shows as a console error.
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        await log_in(page, base, "consultant-user", PASSWORD)
        await page.locator("details.menu summary").click()
        await page.locator("details.menu nav").get_by_text("Чаты с семьями").click()
        await page.wait_for_url(base + "/admin/inbox")
        queue = page.locator("#queue")
        await expect(queue).to_contain_text(f"№{case_id}")
        await page.screenshot(path=str(ARTIFACTS / "admin-inbox.png"), full_page=True)

        await queue.get_by_role("button", name="Взять").click()
        await page.wait_for_url(base + f"/admin/inbox/{case_id}")
        await expect(page.locator(".flash")).to_contain_text("теперь у вас")
        await expect(page.locator(".card-text")).to_contain_text("Срок 8 недель")

        # A canned reply fills the box; the consultant adds to it before sending.
        await page.locator("select[data-canned]").select_option(label="Приветствие")
        box = page.locator("textarea[data-reply-text]")
        await expect(box).to_have_value("Здравствуйте! Я психолог центра.")
        await box.fill("Здравствуйте! Я психолог центра. Расскажите, что вас тревожит?")
        await page.get_by_role("button", name="Отправить семье").click()
        await expect(page.locator(".flash")).to_contain_text("Сообщение отправлено семье")
        answer = page.locator("#conversation .msg-consultant")
        await expect(answer).to_contain_text("Расскажите, что вас тревожит?")

        # The family writes again (as the bot would store it): it appears by itself,
        # and what the consultant is typing meanwhile stays in the box.
        await box.fill("Пишу ответ…")
        async with services.db.session() as session:
            session.add(
                CaseMessage(case_id=case_id, author="family", text="<b>Боюсь</b>, что он уйдёт")
            )
        family_said = page.locator("#conversation .msg-family").last
        await expect(family_said.locator(".text")).to_have_text(
            "<b>Боюсь</b>, что он уйдёт", timeout=15_000
        )
        await expect(box).to_have_value("Пишу ответ…")
        assert await page.locator("#conversation b").count() == 0  # text, not markup
        await page.screenshot(path=str(ARTIFACTS / "admin-inbox-chat.png"), full_page=True)
        # Nothing on the phone is wider than its screen.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        assert errors == []
