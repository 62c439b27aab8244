"""One family across messengers: a code shown in Telegram and typed in VK makes one
profile (identities, cases, vouchers, card, consent, one conversation); wrong,
expired, reused and same-messenger codes are refused kindly; /forget then deletes
the profile in both; consultants answer where the family last wrote from."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.consult import delivery
from bot.core import linking
from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.core.types import Channel
from bot.storage.models import (
    Case,
    Conversation,
    Family,
    FamilyCard,
    Identity,
    Offer,
    OutboxItem,
    Partner,
    Voucher,
    utcnow,
)
from tests.support.family import TestFamily
from tests.support.vouchers import make_voucher

CODE = re.compile(r"\*\*([0-9A-Z]{4}-[0-9A-Z]{4})\*\*")


def telegram(frontdoor: FrontDoor, user: str = "tg-1") -> TestFamily:
    return TestFamily(frontdoor, user=user, channel=Channel.TELEGRAM)


def vk(frontdoor: FrontDoor, user: str = "vk-1") -> TestFamily:
    return TestFamily(frontdoor, user=user, channel=Channel.VK)


async def count(services: Services, model: type) -> int:
    async with services.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def family_of(services: Services, who: TestFamily) -> Family:
    async with services.db.session() as session:
        identity = await session.scalar(
            select(Identity).where(
                Identity.channel == who.channel.value, Identity.external_id == who.user
            )
        )
        assert identity is not None
        family = await session.get(Family, identity.family_id)
        assert family is not None
        return family


async def add_voucher(services: Services, family_id: int) -> str:
    async with services.db.session() as session:
        partner = Partner(name="Аистёнок", kind="children_shop", city="kaspiysk", addresses=[])
        session.add(partner)
        await session.flush()
        offer = Offer(
            partner_id=partner.id,
            programme="life_certificate",
            title="Набор для новорождённого",
            covers="Подгузники",
            value_rub=5000,
            valid_days=30,
        )
        session.add(offer)
        await session.flush()
        offer_id = offer.id
    return await make_voucher(services, offer_id, family_id=family_id, case_id=None, issued_by=None)


async def show_code(who: TestFamily, *, consent: bool = True) -> str:
    """Settings → link → «Показать код» (consent first when asked); the code shown."""
    await who.walk("/start", "Настройки", "Связать Telegram и VK", "Показать код")
    if who.node == "menu:consent":
        assert consent
        await who.press("Даю согласие")
    assert who.node == "settings:link_show", who.node
    found = CODE.search(who.text)
    assert found, who.text
    assert "15 минут" in who.text
    return found.group(1)


async def open_code_input(who: TestFamily) -> None:
    await who.walk("/start", "Настройки", "Связать Telegram и VK", "У меня есть код")
    if who.node == "menu:consent":
        await who.press("Даю согласие")
    assert who.node == "settings:link_enter", who.node


def sloppy(code: str) -> str:
    """As someone might type it: lower case, spaces, O for 0, l for 1."""
    typed = code.replace("-", " ").lower().replace("0", "o").replace("1", "l")
    return f" {typed} "


async def test_code_shown_in_telegram_and_typed_in_vk_makes_one_family(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    # VK first: a case with a consultant and a voucher, consent given there earlier.
    await vkf.ask_for("Психолог")
    await vkf.send("Мне тяжело, нужна поддержка")
    source = await family_of(services, vkf)
    voucher_code = await add_voucher(services, source.id)
    async with services.db.session() as session:
        session.add(FamilyCard(family_id=source.id, number="FC-TEST-0001", categories=[]))
    # Telegram: the profile that shows the code (consent asked first).
    code = await show_code(tg)
    target = await family_of(services, tg)
    assert target.link_hash == linking.code_hash(code.replace("-", ""))
    assert code not in str(target.link_hash)  # only the hash is kept
    assert target.consent_at is not None and source.consent_at is not None
    assert source.consent_at < target.consent_at

    await open_code_input(vkf)
    await vkf.send(sloppy(code))
    assert "Готово: Telegram и VK теперь один профиль" in vkf.text
    assert vkf.node == "settings:start"

    # One family: both identities, the case, the voucher and the card are the target's.
    assert await count(services, Family) == 1
    assert await count(services, Conversation) == 1
    async with services.db.session() as session:
        families = set((await session.scalars(select(Identity.family_id))).all())
        assert families == {target.id}
        case = await session.scalar(select(Case))
        assert case is not None and case.family_id == target.id
        voucher = await session.scalar(select(Voucher).where(Voucher.code == voucher_code))
        assert voucher is not None and voucher.family_id == target.id
        card = await session.scalar(select(FamilyCard))
        assert card is not None and card.family_id == target.id
        merged = await session.get(Family, target.id)
        assert merged is not None
        assert merged.consent_at == source.consent_at  # the earliest consent kept
        assert merged.link_hash is None and merged.link_expires is None
        # Telegram is told by a notice; VK got the normal reply.
        notices = (await session.scalars(select(OutboxItem))).all()
        told = [n for n in notices if "один профиль" in str(n.payload.get("text"))]
        assert [(n.channel, n.chat_id) for n in told] == [("telegram", tg.user)]

    # The conversation goes on, in both messengers, on one profile.
    await vkf.send("/menu")
    assert vkf.node == "menu:start"
    await tg.walk("/start", "Мои сертификаты")
    assert voucher_code[:4] in tg.text  # the voucher from VK is shown in Telegram
    await vkf.walk("/start", "Настройки", "Новости центра")
    assert vkf.node == "settings:news"  # consent is shared: no second question

    # The code worked once.
    other = vk(frontdoor, "vk-2")
    await open_code_input(other)
    await other.send(code)
    assert "не подошёл" in other.text
    assert await count(services, Family) == 2


async def test_the_merge_keeps_the_targets_choices(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    code = await show_code(tg)
    await open_code_input(vkf)
    source = await family_of(services, vkf)
    target = await family_of(services, tg)
    async with services.db.session() as session:
        # VK said yes to news and pressed "safe exit"; Telegram said neither.
        await session.execute(
            update(Family)
            .where(Family.id == source.id)
            .values(announcements_ok=True, quiet_at=utcnow(), language="en")
        )
        await session.execute(
            update(Family).where(Family.id == target.id).values(announcements_ok=False)
        )
    await vkf.send(code)
    assert "один профиль" in vkf.text  # in the target's language (Russian)
    merged = await family_of(services, tg)
    assert merged.id == target.id
    assert merged.announcements_ok is False  # a yes is never widened by a merge
    assert merged.quiet_at is not None  # "safe exit" anywhere holds for the profile
    assert merged.language == "ru"
    # After safe exit nothing is written first, not even "linked".
    assert await count(services, OutboxItem) == 0


async def test_wrong_expired_and_own_codes_are_refused_kindly(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    code = await show_code(tg)
    # The profile's own code.
    await open_code_input(tg)
    await tg.send(code)
    assert "из этого же профиля" in tg.text
    assert tg.node == "settings:link_enter"
    # Not a code at all: said so, not counted.
    await open_code_input(vkf)
    await vkf.send("привет")
    assert "не похоже на код" in vkf.text
    assert vkf.node == "settings:link_enter"
    # Expired.
    async with services.db.session() as session:
        await session.execute(
            update(Family)
            .where(Family.link_hash.is_not(None))
            .values(link_expires=utcnow() - timedelta(seconds=1))
        )
    await vkf.send(code)
    assert "Срок этого кода истёк" in vkf.text
    assert await count(services, Family) == 2
    # A new code replaces the old one: the old one no longer matches.
    fresh = await show_code(tg)
    assert fresh != code
    await open_code_input(vkf)
    await vkf.send(code)
    assert "не подошёл" in vkf.text
    await vkf.send(fresh)
    assert "один профиль" in vkf.text
    assert await count(services, Family) == 1


async def test_five_wrong_codes_then_try_later(frontdoor: FrontDoor, services: Services) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    code = await show_code(tg)
    await open_code_input(vkf)
    wrong = "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "YYYY-YYYY"
    for _ in range(4):
        await vkf.send(wrong)
        assert "не подошёл" in vkf.text
    await vkf.send(wrong)
    assert "через час" in vkf.text
    await vkf.send(code)  # even the right code waits now
    assert "через час" in vkf.text
    assert await count(services, Family) == 2


async def test_a_second_account_of_the_same_messenger_is_refused(
    frontdoor: FrontDoor, services: Services
) -> None:
    first, second = telegram(frontdoor, "tg-1"), telegram(frontdoor, "tg-2")
    code = await show_code(first)
    await open_code_input(second)
    await second.send(code)
    assert "другой аккаунт Telegram" in second.text
    assert await count(services, Family) == 2
    # Nothing changed: the code still works for another messenger.
    vkf = vk(frontdoor)
    await open_code_input(vkf)
    await vkf.send(code)
    assert "один профиль" in vkf.text
    # …and a linked VK cannot bring a second VK account in either.
    again = await show_code(first)
    other = vk(frontdoor, "vk-2")
    await open_code_input(other)
    await other.send(again)
    assert "другой аккаунт VK" in other.text
    assert await count(services, Family) == 3  # Telegram + VK, the second Telegram, this VK


async def test_linking_needs_consent(frontdoor: FrontDoor, services: Services) -> None:
    tg = telegram(frontdoor)
    await tg.send("как связать телеграм и вк?")  # typed in words: the explanation
    assert tg.node == "settings:link"
    assert "Показать код" in tg.text and "У меня есть код" in tg.text
    await tg.walk("/start", "Настройки", "Связать Telegram и VK", "Показать код")
    assert tg.node == "menu:consent"
    await tg.press("Не сейчас")
    assert (await family_of(services, tg)).link_hash is None


async def test_forget_deletes_the_profile_in_both_messengers(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    code = await show_code(tg)
    await open_code_input(vkf)
    await vkf.send(code)
    assert await count(services, Identity) == 2
    await vkf.walk("/start", "Настройки", "Удалить мои данные")
    assert "в обоих" in vkf.text
    await vkf.press("Да, удалить всё")
    assert "подключённых мессенджеров — 2" in vkf.text
    assert "Профиль был общим для Telegram и VK" in vkf.text
    for model in (Family, Identity, Conversation):
        assert await count(services, model) == 0, model.__name__
    # Telegram starts from a clean slate too.
    await tg.send("/start")
    assert "Семейное окно" in tg.text
    assert (await family_of(services, tg)).consent_at is None


async def test_consultants_answer_where_the_family_last_wrote(
    frontdoor: FrontDoor, services: Services
) -> None:
    tg, vkf = telegram(frontdoor), vk(frontdoor)
    await tg.ask_for("Психолог")
    await tg.send("Нужна помощь")
    code = await show_code(tg)
    await open_code_input(vkf)
    await vkf.send(code)

    async def answered_in() -> str:
        async with services.db.session() as session:
            case = await session.scalar(select(Case))
            assert case is not None
            identity = await delivery.family_identity(session, case)
            assert identity is not None
            return identity.channel

    assert await answered_in() == "vk"  # VK wrote last (the case came from Telegram)
    await tg.send("/menu")
    assert await answered_in() == "telegram"
    await vkf.send("/menu")
    assert await answered_in() == "vk"
    # A blocked messenger is skipped.
    await frontdoor.mark_blocked(vkf._incoming())
    assert await answered_in() == "telegram"


async def test_in_a_live_consultation_the_code_is_shown_not_typed(
    frontdoor: FrontDoor, services: Services
) -> None:
    vkf = vk(frontdoor)
    await vkf.ask_for("Психолог")
    await vkf.send("Нужна помощь")
    source = await family_of(services, vkf)
    async with services.db.session() as session:  # a consultant has taken the case
        case = await session.scalar(select(Case))
        assert case is not None
        case.status = "open"
        await session.execute(
            update(Conversation)
            .where(Conversation.family_id == source.id)
            .values(live_case_id=case.id)
        )
    # Typed here, a code would go to the consultant: a code is shown here instead.
    await vkf.walk("/start", "Настройки", "Связать Telegram и VK", "У меня есть код")
    assert "разговор с консультантом" in vkf.text
    assert vkf.node == "settings:link_show"
    code = CODE.search(vkf.text)
    assert code is not None
    tg = telegram(frontdoor)
    await open_code_input(tg)
    await tg.send(code.group(1))
    assert "один профиль" in tg.text
    async with services.db.session() as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None and conversation.family_id == source.id
        assert conversation.live_case_id == case.id  # the live chat goes on
