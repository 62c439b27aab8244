"""One family in two messengers: it asked for a psychologist in Telegram, then
linked VK and writes from there. The consultant who answered in Telegram gets
its words in the same topic and answers it in VK — where the family is now."""

from __future__ import annotations

import re

from bot.config import Settings
from bot.core.services import Services
from tests.channels.test_vk import configure
from tests.consult.conftest import ask_for_psychologist, consultant, settle, staff_room, tap
from tests.fakes.vk_api import FakeVkServer

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}\b")


async def test_a_linked_family_writes_in_vk_and_gets_the_same_consultant(
    services: Services, settings: Settings
) -> None:
    await consultant(services, "anna", "Анна", "psychologist", 5001)
    async with FakeVkServer() as vk_server:
        configure(settings, vk_server)
        async with staff_room(services, settings) as room:
            fake = room.fake
            family = fake.user(user_id=1001, first_name="Мария")
            anna = fake.user(user_id=5001, first_name="Анна")
            in_vk = vk_server.user(7001)

            # In Telegram: a case, taken by Anna, who answers there.
            await ask_for_psychologist(family, "Мне тяжело после родов, не сплю")
            await settle(fake, family)
            case = await room.case()
            thread = await room.thread_of(case.id)
            card = await room.wait_thread_text(thread, "Обращение №")
            await anna.press("✋ Взять", card, chat=room.group)
            await family.wait_for_messages(1)
            await anna.send_text("Здравствуйте, я Анна.", chat=room.group, thread_id=thread)
            (hello,) = await family.wait_for_messages(1)
            assert hello.text == "Здравствуйте, я Анна."

            # The family shows a code in Telegram (menu buttons work during a chat)…
            await family.send_command("/menu")
            await settle(fake, family)
            await tap(family, "Настройки")
            await settle(fake, family)
            await tap(family, "Связать Telegram и VK")
            await settle(fake, family)
            await tap(family, "Показать код")
            shown = "\n".join(m.text or "" for m in await settle(fake, family))
            match = CODE.search(shown)
            assert match, shown

            # …and types it in VK.
            await in_vk.send_text("Начать", payload='{"command":"start"}')  # VK's own button
            await vk_server.idle()
            await in_vk.press("⚙️ Настройки")
            await vk_server.idle()
            await in_vk.press("🔗 Связать Telegram и VK")
            await vk_server.idle()
            await in_vk.press("⌨️ У меня есть код")
            await vk_server.idle()
            await in_vk.press("✅ Даю согласие")  # linking stores a link: consent first
            await vk_server.idle()
            if "⌨️ У меня есть код" in in_vk.last_keyboard.labels:  # type: ignore[union-attr]
                await in_vk.press("⌨️ У меня есть код")
                await vk_server.idle()
            await in_vk.send_text(match.group(0).lower())
            await vk_server.idle()
            assert any(
                "Готово: Telegram и VK теперь один профиль" in m.text for m in in_vk.messages
            )
            told = "\n".join(m.text or "" for m in await settle(fake, family))
            assert "один профиль" in told  # the other messenger hears of it too

            # Now the family writes from VK: Anna reads it in the same topic…
            await in_vk.send_text("Пишу теперь из VK, так удобнее")
            await room.wait_thread_text(thread, "Пишу теперь из VK")
            # …and her answer reaches the family in VK, not in Telegram.
            before = len(family.chat.messages)
            await anna.send_text("Хорошо, я здесь.", chat=room.group, thread_id=thread)
            await vk_server.wait_until(
                lambda: any(m.text == "Хорошо, я здесь." for m in in_vk.messages), timeout=10
            )
            await settle(fake, family)
            assert not any(m.text == "Хорошо, я здесь." for m in family.chat.messages[before:]), (
                "the answer went to the messenger the family left"
            )
            fake.assert_no_errors()
