"""A profile linked across messengers after the review: "safe exit" and "delete my
data" reach every chat of the family, the merge keeps the better family card and
both sides' answers, two live consultations are not joined, and on PostgreSQL two
turns of one family from two messengers at once do not lose each other's changes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.consult import family as consultation
from bot.core import linking
from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.core.turn import Turn
from bot.core.types import Channel, Outcome, Reply
from bot.outbound.outbox import Priority, reply_payload
from bot.storage.models import (
    AuditRecord,
    Case,
    Conversation,
    Family,
    FamilyCard,
    Identity,
    OutboxItem,
    Throttle,
)
from tests.core.test_linking import count, family_of, open_code_input, show_code, telegram, vk
from tests.support.family import TestFamily


async def linked(frontdoor: FrontDoor, services: Services) -> tuple[TestFamily, TestFamily]:
    """Telegram shows a code, VK types it: one profile (Telegram's is the target)."""
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    code = await show_code(tg)
    await open_code_input(vkf)
    await vkf.send(code)
    assert "один профиль" in vkf.text
    return tg, vkf


async def queue(services: Services, channel: str, chat_id: str, text: str, level: int) -> None:
    async with services.db.session() as session:
        services.outbox.enqueue(
            session,
            channel=channel,
            chat_id=chat_id,
            kind="reply",
            payload=reply_payload(Reply(text)),
            priority=level,
        )


async def waiting(services: Services) -> list[tuple[str, str]]:
    """(lane, text) of every item still waiting, oldest first."""
    async with services.db.session() as session:
        items = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    return [(i.lane, str(i.payload.get("text"))) for i in items]


async def safe_exit(who: TestFamily) -> Outcome:
    await who.walk("/start", "Насилие дома")
    await who.send("он снова кричит")
    await who.walk("Вернуться к разговору", "Быстрый выход")
    return await who.press("Удалить переписку сейчас")


# -- safe exit and "delete my data" in every chat --------------------------------------
async def test_safe_exit_withdraws_what_waits_in_every_chat_of_the_profile(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = await linked(frontdoor, services)
    for level in (Priority.URGENT, Priority.REPLY, Priority.NOTICE, Priority.ANNOUNCEMENT):
        await queue(services, "telegram", tg.user, f"tg {level.name}", level)
        await queue(services, "vk", vkf.user, f"vk {level.name}", level)
    stranger = telegram(frontdoor, "tg-stranger")
    await stranger.send("/start")
    await queue(services, "telegram", stranger.user, "not theirs", Priority.NOTICE)

    await safe_exit(vkf)
    # Nothing waits for the family's chats any more, in VK or in Telegram.
    assert await waiting(services) == [(f"telegram:{stranger.user}", "not theirs")]
    # The one line said here: the Telegram chat is to be cleared by hand.
    assert [r.text for r in vkf.replies] == [
        "Переписку в другом подключённом чате (Telegram) удалите вручную."
    ]
    assert not vkf.buttons
    assert (await family_of(services, tg)).quiet_at is not None


async def test_safe_exit_in_one_messenger_says_nothing(
    frontdoor: FrontDoor, services: Services
) -> None:
    alone = vk(frontdoor)
    await alone.send("/start")
    await queue(services, "vk", alone.user, "a reminder", Priority.NOTICE)
    outcome = await safe_exit(alone)
    assert outcome.replies == []  # nothing new appears in the wiped chat
    assert await waiting(services) == []


async def test_safe_exit_line_in_english(frontdoor: FrontDoor, services: Services) -> None:
    tg, vkf = await linked(frontdoor, services)
    async with services.db.session() as session:
        await session.execute(update(Family).values(language="en"))
    await vkf.walk("/start", "Violence at home")
    await vkf.send("he is shouting again")
    await vkf.walk("Back to the conversation", "Quick exit")
    await vkf.press("Delete the chat now")
    assert vkf.text == services.translator.gettext(
        "en", "Переписку в другом подключённом чате ({channels}) удалите вручную."
    ).format(channels="Telegram")
    assert "Telegram" in vkf.text and "Переписку" not in vkf.text
    assert await waiting(services) == []  # Telegram's "linked" notice was withdrawn too
    assert tg.user not in vkf.text


async def test_forget_withdraws_notices_and_news_in_every_chat(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = await linked(frontdoor, services)
    async with services.db.session() as session:  # the "linked" notice: not needed now
        await session.execute(update(OutboxItem).values(priority=Priority.REPLY))
    await queue(services, "telegram", tg.user, "voucher reminder", Priority.NOTICE)
    await queue(services, "telegram", tg.user, "centre news", Priority.ANNOUNCEMENT)
    await queue(services, "vk", vkf.user, "vk news", Priority.ANNOUNCEMENT)
    await vkf.walk("/start", "Настройки", "Удалить мои данные", "Да, удалить всё")
    assert "Профиль был общим для Telegram и VK" in vkf.text
    # The conversation's answers may still go; notices and news do not.
    left = await waiting(services)
    assert [lane for lane, _ in left] == [f"telegram:{tg.user}"]
    assert "один профиль" in left[0][1]
    assert await count(services, Family) == 0


# -- the merge ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target_status", "source_status", "kept"),
    [
        ("pending", "verified", "source"),
        ("rejected", "pending", "source"),
        ("rejected", "verified", "source"),
        ("verified", "pending", "target"),
        ("verified", "verified", "target"),  # a tie: the target's
        ("pending", "pending", "target"),
        ("pending", "rejected", "target"),
    ],
)
async def test_the_merge_keeps_the_better_family_card(
    frontdoor: FrontDoor, services: Services, target_status: str, source_status: str, kept: str
) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    code = await show_code(tg)
    await open_code_input(vkf)
    target, source = await family_of(services, tg), await family_of(services, vkf)
    async with services.db.session() as session:
        session.add(FamilyCard(family_id=target.id, number="FC-TARGET", status=target_status))
        session.add(FamilyCard(family_id=source.id, number="FC-SOURCE", status=source_status))
    await vkf.send(code)
    assert "один профиль" in vkf.text
    async with services.db.session() as session:
        (card,) = (await session.scalars(select(FamilyCard))).all()
        records = (
            await session.scalars(select(AuditRecord).where(AuditRecord.entity == "family_card"))
        ).all()
    assert card.family_id == target.id
    assert card.number == ("FC-TARGET" if kept == "target" else "FC-SOURCE")
    # The other card was deleted on purpose, and that is on record.
    (record,) = records
    dropped = source_status if kept == "target" else target_status
    assert record.action == "delete" and record.before == {"status": dropped}
    assert record.after is not None and record.after["kept_card"] == card.id


async def test_the_merge_keeps_the_only_card_wherever_it_was(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    code = await show_code(tg)
    await open_code_input(vkf)
    source = await family_of(services, vkf)
    async with services.db.session() as session:
        session.add(FamilyCard(family_id=source.id, number="FC-SOURCE", status="verified"))
    await vkf.send(code)
    async with services.db.session() as session:
        (card,) = (await session.scalars(select(FamilyCard))).all()
        assert await session.scalar(select(func.count()).select_from(AuditRecord)) == 0
    assert card.family_id == (await family_of(services, tg)).id and card.status == "verified"


async def test_the_merge_keeps_both_sides_answers_the_targets_first(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    code = await show_code(tg)
    await open_code_input(vkf)
    target, source = await family_of(services, tg), await family_of(services, vkf)

    async def add_vars(family_id: int, values: dict[str, Any]) -> None:
        async with services.db.session() as session:
            conversation = await session.get(Conversation, family_id)
            assert conversation is not None
            conversation.vars = {**conversation.vars, **values}

    await add_vars(target.id, {"city": "derbent", "children": "3"})
    await add_vars(source.id, {"city": "kaspiysk", "situation": "pregnancy"})
    await vkf.send(code)
    assert "один профиль" in vkf.text
    async with services.db.session() as session:
        (conversation,) = (await session.scalars(select(Conversation))).all()
    assert conversation.family_id == target.id
    assert conversation.vars["city"] == "derbent"  # the target's answer wins
    assert conversation.vars["children"] == "3"
    assert conversation.vars["situation"] == "pregnancy"  # only the source knew it
    assert await count(services, Family) == 1


async def live_chat(services: Services, family_id: int) -> int:
    """A consultant holds a case of this family now."""
    async with services.db.session() as session:
        case = Case(
            family_id=family_id,
            topic="psychology",
            specialty="psychologist",
            priority="normal",
            status="open",
            channel="telegram",
            language="ru",
        )
        session.add(case)
        await session.flush()
        await session.execute(
            update(Conversation)
            .where(Conversation.family_id == family_id)
            .values(live_case_id=case.id)
        )
        return case.id


async def test_two_live_consultations_are_not_joined(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    code = await show_code(tg)
    await open_code_input(vkf)
    target, source = await family_of(services, tg), await family_of(services, vkf)
    theirs, ours = await live_chat(services, target.id), await live_chat(services, source.id)

    # Through the door it cannot happen: typed in a live chat, the code goes to the
    # consultant (it is not read as a code, nothing is joined).
    await vkf.send(code)
    assert await count(services, Family) == 2
    # Called directly, the link is refused kindly and nothing changes: not counted
    # as a wrong code, and the code still works once one chat is over.
    async with services.db.session() as session:
        family = await session.get(Family, source.id)
        identity = await session.scalar(select(Identity).where(Identity.family_id == source.id))
        assert family is not None and identity is not None
        found = await linking.link(session, family, identity, code)
    assert found.result is linking.Result.BOTH_LIVE
    assert await count(services, Family) == 2
    assert await count(services, Throttle) == 0
    assert (await family_of(services, tg)).link_hash == linking.code_hash(code.replace("-", ""))
    async with services.db.session() as session:
        await session.execute(update(Case).where(Case.id == ours).values(status="closed"))
    async with services.db.session() as session:
        family = await session.get(Family, source.id)
        identity = await session.scalar(select(Identity).where(Identity.family_id == source.id))
        assert family is not None and identity is not None
        found = await linking.link(session, family, identity, code)
    assert found.result is linking.Result.LINKED
    async with services.db.session() as session:
        (conversation,) = (await session.scalars(select(Conversation))).all()
    assert conversation.family_id == target.id and conversation.live_case_id == theirs


async def test_the_both_live_refusal_reads_kindly(
    frontdoor: FrontDoor, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def both_live(*_args: Any) -> linking.Linking:
        return linking.Linking(linking.Result.BOTH_LIVE)

    monkeypatch.setattr(linking, "link", both_live)
    vkf = vk(frontdoor)
    await open_code_input(vkf)
    await vkf.send("ABCD-1234")
    assert "в обоих мессенджерах" in vkf.text and "завершите один" in vkf.text
    assert vkf.node == "settings:link_enter"


# -- PostgreSQL: one family, two messengers, two processes, at once -------------------------
async def test_turns_from_two_messengers_at_once_keep_each_others_changes(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes (two FrontDoors: no shared in-process lock) serve the family's
    Telegram and VK turns at the same moment; each turn changes the conversation
    while the other one is under way. The later turn waits for the earlier one and
    sees its change; nothing is lost."""
    one, two = FrontDoor(services), FrontDoor(services)
    tg, vkf = await linked(one, services)
    await tg.send("/menu")
    settings_button = tg.button("Настройки").payload
    assert settings_button is not None
    vk_two = TestFamily(two, user=vkf.user, channel=Channel.VK, message_id=1000)
    seen: list[tuple[str, dict[str, Any]]] = []
    original = consultation.intercept

    async def slow(turn: Turn) -> bool:
        channel = turn.identity.channel
        seen.append((channel, dict(turn.vars)))
        turn.set_var(f"from_{channel}", len(seen))
        await asyncio.sleep(0.4)  # the other turn starts meanwhile
        return await original(turn)

    monkeypatch.setattr(consultation, "intercept", slow)

    async def later() -> None:
        await asyncio.sleep(0.1)
        await vk_two.payload(settings_button)

    await asyncio.gather(tg.send("/help"), later())
    # In order: Telegram's turn first, then VK's, which read Telegram's change.
    assert [channel for channel, _ in seen] == ["telegram", "vk"]
    assert seen[1][1].get("from_telegram") == 1
    async with services.db.session() as session:
        (conversation,) = (await session.scalars(select(Conversation))).all()
    assert conversation.vars["from_telegram"] == 1 and conversation.vars["from_vk"] == 2
    assert (conversation.journey, conversation.node) == ("settings", "start")
