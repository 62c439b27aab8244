"""The family's side of vouchers, through the core as a family uses it: «Мои
сертификаты» with QR codes that scan, the family card (applying with consent,
the verified card and its offers, claiming one), the sweeps' messages, /forget."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import zxingcpp
from PIL import Image
from sqlalchemy import select

from bot.channels.web.app import WebChat, reply_json
from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.core.types import Reply
from bot.jobs import voucher_sweep
from bot.storage.models import Conversation, FamilyCard, Identity, Offer, Partner, Voucher, utcnow
from bot.vouchers import service
from bot.vouchers.codes import display
from tests.support.family import TestFamily
from tests.support.outbox import Recorder


def scanned(image: bytes | None) -> str:
    """What a shop's scanner reads from a reply's picture."""
    assert image is not None, "the reply has no picture"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(image)))
    assert len(found) == 1
    return str(found[0].text)


async def family_id(services: Services, family: TestFamily) -> int:
    async with services.db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == family.user))
        assert identity is not None
        return identity.family_id


async def add_offer(services: Services, city: str = "kaspiysk", **values: Any) -> int:
    """A partner with one offer (a Certificate of Life unless told otherwise)."""
    async with services.db.session() as session:
        partner = Partner(
            name=str(values.pop("partner", "Аистёнок")),
            kind="children_shop",
            city=city,
            addresses=[str(values.pop("address", "ул. Ленина, 5"))],
            active=bool(values.pop("partner_active", True)),
        )
        session.add(partner)
        await session.flush()
        fields: dict[str, object] = {
            "programme": "life_certificate",
            "title": "Набор для новорождённого",
            "covers": "Подгузники, пелёнки, бутылочки",
            "value_rub": 5000,
            "valid_days": 30,
        }
        fields.update(values)
        offer = Offer(partner_id=partner.id, **fields)
        session.add(offer)
        await session.flush()
        return offer.id


async def issue(services: Services, offer_id: int, family: int, now: datetime | None = None) -> str:
    async with services.db.session() as session:
        voucher = await service.issue(session, offer_id=offer_id, family_id=family, now=now)
        return voucher.code


# -- «Мои сертификаты» -------------------------------------------------------------
async def test_no_vouchers_explains_how_they_are_given(family: TestFamily) -> None:
    await family.send("/start")
    await family.press("Мои сертификаты и семейная карта")
    assert "пока нет сертификатов" in family.text
    assert "психолог" in family.text and "Семейная социальная карта" in family.text
    assert "💳 Семейная карта" in family.labels and "👤 Поговорить с человеком" in family.labels
    assert not any(r.image for r in family.replies)
    # Typed instead of pressed, anywhere.
    await family.send("мои сертификаты")
    assert "пока нет сертификатов" in family.text
    await family.press("Семейная карта")
    assert "📝 Оформить карту" in family.labels and "скидки" in family.text


async def test_an_active_voucher_is_shown_with_a_qr_that_scans(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    fid = await family_id(services, family)
    code = await issue(services, await add_offer(services), fid)
    used = await issue(services, await add_offer(services, partner="Другой"), fid)
    async with services.db.session() as session:
        other = await session.scalar(select(Voucher.partner_id).where(Voucher.code == used))
        assert other is not None
        await service.redeem(session, other, used, None)

    await family.send("сертификат")
    pictures = [r for r in family.replies if r.image is not None]
    assert len(pictures) == 1  # the used one is not shown as a voucher
    (voucher,) = pictures
    assert scanned(voucher.image) == display(code)
    assert display(code) in voucher.text
    assert "Подгузники" in voucher.text and "ул. Ленина, 5" in voucher.text
    assert "Действует до" in voucher.text and "Сертификат жизни" in voucher.text
    assert "использовано — 1" in family.text
    assert family.labels[:2] == ["💳 Семейная карта", "👤 Поговорить с человеком"]


async def test_an_english_family_reads_its_voucher_in_english(
    frontdoor: FrontDoor, services: Services
) -> None:
    family = TestFamily(frontdoor, user="family-en", language="en")
    await family.send("/start")
    code = await issue(services, await add_offer(services), await family_id(services, family))
    await family.send("my vouchers")
    (voucher,) = [r for r in family.replies if r.image is not None]
    assert "Certificate of Life" in voucher.text and "Valid until" in voucher.text
    assert scanned(voucher.image) == display(code)


# -- the family card -----------------------------------------------------------------
async def test_the_card_application_is_stored_only_with_consent(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    await family.send("семейная карта")
    await family.press("Оформить карту")
    assert family.node == "menu:consent"
    await family.press("Не сейчас")
    async with services.db.session() as session:
        assert await session.scalar(select(FamilyCard)) is None
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        assert not any(k.startswith("card_c") for k in conversation.vars)

    await family.send("семейная карта")
    await family.press("Оформить карту")
    await family.press("Даю согласие")
    assert "можно несколько" in family.text
    assert "Готово" not in " ".join(family.labels)  # nothing ticked yet
    await family.press("Многодетная семья")
    await family.press("Беременность")
    assert "Отмечено: Многодетная семья, Беременность" in family.text
    assert "✅ Многодетная семья" in family.labels and "▫️ Ребёнок до 3 лет" in family.labels
    await family.press("✅ Многодетная семья")  # pressed again: unticked
    assert "Отмечено: Беременность." in family.text
    await family.press("Ребёнок до 3 лет")
    await family.press("Готово")
    assert "В каком городе" in family.text
    await family.press("Каспийск")
    assert "Заявка на семейную карту принята" in family.text

    async with services.db.session() as session:
        card = await session.scalar(select(FamilyCard))
        assert card is not None
        assert card.status == "pending" and card.city == "kaspiysk"
        assert card.categories == ["pregnancy", "child_under_3"]
        assert card.number.isdigit() and len(card.number) == 10
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        # The answers live in the application now, not twice.
        assert not {"card_categories", "card_city", "card_category"} & set(conversation.vars)

    await family.send("семейная карта")
    assert "проверяется" in family.text and "✏️ Изменить заявку" in family.labels


async def verified_card(services: Services, family: int, categories: list[str]) -> str:
    async with services.db.session() as session:
        card = FamilyCard(
            family_id=family,
            number="4071239958",
            categories=categories,
            city="kaspiysk",
            status="verified",
        )
        session.add(card)
    return "4071239958"


async def test_a_verified_card_lists_eligible_offers_city_first_and_one_is_claimed(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    await family.send("мои сертификаты")
    await family.press("Семейная карта")
    await family.press("Оформить карту")
    await family.press("Даю согласие")  # a verified family has consented
    fid = await family_id(services, family)
    number = await verified_card(services, fid, ["large_family"])
    card: dict[str, Any] = {"programme": "family_card", "valid_days": 14}
    elsewhere = await add_offer(
        services, "derbent", partner="Обувь Дербента", title="Скидка на обувь",
        discount_percent=10, value_rub=None, **card,
    )  # fmt: skip
    here = await add_offer(
        services, "kaspiysk", partner="Ясли-сад", title="Месяц в группе",
        categories=["large_family"], **card,
    )  # fmt: skip
    await add_offer(
        services, partner="Не для вас", title="Только беременным",
        categories=["pregnancy"], **card,
    )  # fmt: skip
    await add_offer(services, partner="Выключено", title="Приостановлено", active=False, **card)
    await add_offer(services, partner="Сертификат", title="Не по карте")  # another programme

    await family.send("семейная карта")
    (shown,) = [r for r in family.replies if r.image is not None]
    assert scanned(shown.image) == number and "4071 2399 58" in shown.text
    assert "Многодетная семья" in shown.text
    listing = family.text
    assert listing.index("Месяц в группе") < listing.index("Скидка на обувь")  # city first
    assert "скидка 10%" in listing and "на сумму 5000 ₽" in listing
    assert "Только беременным" not in listing and "Приостановлено" not in listing
    assert "Не по карте" not in listing

    await family.press("Ясли-сад: Месяц в группе")
    (voucher,) = [r for r in family.replies if r.image is not None]
    async with services.db.session() as session:
        issued = await session.scalar(select(Voucher).where(Voucher.family_id == fid))
    assert issued is not None and issued.offer_id == here and issued.programme == "family_card"
    assert scanned(voucher.image) == display(issued.code)
    assert "Семейная социальная карта" in voucher.text and "Сертификат — выше" in family.text
    # Pressed again: the same code, not a second voucher.
    await family.press("Ясли-сад: Месяц в группе")
    assert "уже есть" in family.text
    (again,) = [r for r in family.replies if r.image is not None]
    assert scanned(again.image) == display(issued.code)
    # A quota that ran out is said kindly, with the other offers still there.
    async with services.db.session() as session:
        offer = await session.get(Offer, elsewhere)
        assert offer is not None
        offer.monthly_quota = 0
    await family.press("Обувь Дербента: Скидка на обувь")
    assert "уже разобрали" in family.text and "следующего месяца" in family.text
    assert "из 0" not in family.text  # the staff's figures are not the family's business
    assert any("Обувь Дербента" in label for label in family.labels)


async def test_a_card_that_is_not_verified_shows_no_offers(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    async with services.db.session() as session:
        session.add(
            FamilyCard(
                family_id=await family_id(services, family),
                number="1000000001",
                categories=["low_income"],
                status="rejected",
            )
        )
    await family.send("моя семейная карта")
    assert "подтвердить не получилось" in family.text
    assert "📝 Подать заявку ещё раз" in family.labels
    assert not any(r.image for r in family.replies)


# -- messages the service sends by itself --------------------------------------------
async def test_sweeps_remind_and_tell_of_expiry_once(
    family: TestFamily, services: Services
) -> None:
    outbox = Recorder(services, channel="cli")
    await family.send("/start")
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    code = await issue(
        services, await add_offer(services), await family_id(services, family), start
    )

    assert await voucher_sweep(services, start + timedelta(days=10)) == (0, 0)
    assert (await outbox.flushed()) == []
    assert await voucher_sweep(services, start + timedelta(days=28)) == (0, 1)
    assert await voucher_sweep(services, start + timedelta(days=28, hours=1)) == (0, 0)
    ((chat, (reminder,)),) = await outbox.flushed()
    assert chat == family.user and "Напоминаем" in reminder.text
    assert display(code) in reminder.text

    assert await voucher_sweep(services, start + timedelta(days=31)) == (1, 0)
    assert await voucher_sweep(services, start + timedelta(days=31, minutes=15)) == (0, 0)
    assert len(await outbox.flushed()) == 2
    assert (
        "закончился" in (await outbox.texts())[-1]
        and "не переживайте" in (await outbox.texts())[-1]
    )
    await family.send("мои сертификаты")
    assert "действующих сертификатов нет" in family.text and "истёк срок — 1" in family.text


async def test_expiry_long_ago_is_not_news(family: TestFamily, services: Services) -> None:
    outbox = Recorder(services, channel="cli")
    await family.send("/start")
    start = utcnow() - timedelta(days=60)
    await issue(services, await add_offer(services), await family_id(services, family), start)
    assert await voucher_sweep(services) == (0, 0)  # expired a month ago, marked quietly
    async with services.db.session() as session:
        voucher = await session.scalar(select(Voucher))
        assert voucher is not None and voucher.status == "expired"
    assert (await outbox.flushed()) == []


async def test_forget_keeps_codes_working_and_says_so(
    family: TestFamily, services: Services
) -> None:
    await family.send("/start")
    fid = await family_id(services, family)
    await verified_card(services, fid, ["pregnancy"])
    code = await issue(services, await add_offer(services), fid)
    await family.send("/forget")
    assert "продолжат работать — сохраните их" in family.text
    assert "Семейная карта и заявка на неё тоже удалены" in family.text
    async with services.db.session() as session:
        assert await session.scalar(select(FamilyCard)) is None
        voucher = await session.scalar(select(Voucher).where(Voucher.code == code))
        assert voucher is not None and voucher.family_id is None and voucher.status == "issued"


# -- the web chat ----------------------------------------------------------------------
async def test_web_chat_shows_images_and_receives_notifications(
    frontdoor: FrontDoor, services: Services
) -> None:
    png = b"\x89PNG\r\n\x1a\nrest"
    assert reply_json(Reply(text="x"))["image"] is None
    assert reply_json(Reply(text="x", image=png))["image"].startswith("data:image/png;base64,")
    web = WebChat(frontdoor, services.settings)
    services.outbox.register("web", web.courier)
    assert await services.outbox.send("web", "visitor-1", [Reply(text="🎁 код", image=png)])
    assert await services.outbox.drain() is None  # through the queue, image and all
    ((_, message),) = web.inbox.since("visitor-1", 0)
    assert message["text"] == "🎁 код" and message["image"].startswith("data:image/png")
