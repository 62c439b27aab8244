"""Partner staff at the counter in Telegram: a staff member links their Telegram in
the admin panel (`/link CODE`), checks a voucher with `/check CODE`, redeems it
with the «Погасить» button — exactly once, the family told — under the partner
page's limits and words, and never learns who holds a code. For anyone else the
command does not exist: `/check` goes to the families' front door.

The whole service runs as in production (`bot.app.Application`), with the real
aiogram client polling a fake Bot API server.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import Application
from bot.channels.telegram import partner_desk
from bot.config import Settings
from bot.core.services import Services
from bot.storage.models import (
    AuditRecord,
    Case,
    Family,
    Identity,
    Offer,
    Partner,
    StaffUser,
    Voucher,
    utcnow,
)
from bot.vouchers.codes import ALPHABET, display, new_code
from tests.admin.conftest import StaffClient, password_hash, session_client
from tests.fakes.telegram_api import FakeMessage, FakeTelegramServer, FakeUser
from tests.support.vouchers import make_voucher
from tests.vouchers.test_telegram_e2e import service

CASHIER_TG, FAMILY_TG, STRANGER_TG = 2002, 3003, 4004
# Recognisable values in the holder's rows: none may ever reach the shop.
FAMILY_ID, CASE_ID, ISSUER_ID = 987654, 876543, 765432
MARKERS = (
    "МАРКЕР",
    str(FAMILY_ID),
    str(CASE_ID),
    str(ISSUER_ID),
    str(FAMILY_TG),
    "issuer-marker",
    "violence",
    "new_life",
    "новую жизнь",
    "Переодеваемся",
)
LINK_CODE = re.compile(r"/link ([0-9A-Z]{8})")


@dataclass
class Shop:
    partner: int
    offer: int
    other_offer: int
    family: int


async def make_shop(services: Services) -> Shop:
    """A shop with an offer, another shop, and a family (reachable in Telegram) with a case."""
    async with services.db.session() as session:
        shop = Partner(name="Магазин «Лада»", kind="clothes_shop", city="kaspiysk")
        other = Partner(name="Салон «Ирис»", kind="services", city="kaspiysk")
        session.add_all([shop, other])
        await session.flush()
        offer = Offer(
            partner_id=shop.id,
            programme="new_life",
            title="Комплект одежды",
            covers="Платье, обувь, верхняя одежда",
            value_rub=4000,
            valid_days=30,
        )
        elsewhere = Offer(
            partner_id=other.id, programme="life_certificate", title="Стрижка", discount_percent=50
        )
        family = Family(id=FAMILY_ID, language="ru")
        issuer = StaffUser(
            id=ISSUER_ID,
            login="issuer-marker",
            name="Выдавшая МАРКЕР",
            role="consultant",
            specialties=["crisis"],
            password_hash=password_hash(),
        )
        session.add_all([offer, elsewhere, family, issuer])
        await session.flush()
        session.add_all(
            [
                Case(
                    id=CASE_ID,
                    family_id=family.id,
                    topic="violence",
                    specialty="crisis",
                    priority="urgent",
                    summary="МАРКЕР-СЕМЬИ: подробности обращения",
                    channel="telegram",
                    language="ru",
                ),
                Identity(
                    family_id=family.id,
                    channel="telegram",
                    external_id=str(FAMILY_TG),
                    chat_id=str(FAMILY_TG),
                ),
            ]
        )
        return Shop(shop.id, offer.id, elsewhere.id, family.id)


async def voucher(
    services: Services,
    shop: Shop,
    *,
    other_shop: bool = False,
    status: str = "issued",
    expires_in: timedelta = timedelta(days=20),
) -> str:
    """A voucher row as the staff side leaves it; returns its code."""
    return await make_voucher(
        services,
        shop.other_offer if other_shop else shop.offer,
        family_id=shop.family,
        case_id=CASE_ID,
        issued_by=ISSUER_ID,
        status=status,
        expires_in=expires_in,
    )


async def cashier_account(services: Services, shop: Shop, *, linked: bool = False) -> int:
    """A member of the shop's staff; linked to the cashier's Telegram when asked."""
    async with services.db.session() as session:
        user = StaffUser(
            login="lada-cashier",
            name="Кассир",
            role="partner",
            partner_id=shop.partner,
            password_hash=password_hash(),
            must_change_password=False,
            telegram_user_id=str(CASHIER_TG) if linked else None,
        )
        session.add(user)
        await session.flush()
        return user.id


async def staff_session(app: Application, services: Services, user_id: int) -> StaffClient:
    """A logged-in browser for an existing account (the session made directly)."""
    return StaffClient(await session_client(app.asgi, services, user_id))


def mistype(code: str) -> str:
    changed = ALPHABET[(ALPHABET.index(code[3]) + 1) % len(ALPHABET)]
    return display(code[:3] + changed + code[4:])


async def say(user: FakeUser, text: str) -> FakeMessage:
    """Send a message and return the bot's one answer."""
    before = len(user.history)
    await user.send_text(text)
    (answer,) = await user.wait_for_messages(1)
    await user.wait_idle()
    assert len(user.history) == before + 1, user.chat.transcript()
    return answer


async def families_of(services: Services, telegram_id: int) -> int:
    async with services.db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Identity)
                .where(Identity.channel == "telegram", Identity.external_id == str(telegram_id))
            )
            or 0
        )


async def status_of(services: Services, code: str) -> str:
    async with services.db.session() as session:
        found = await session.scalar(select(Voucher.status).where(Voucher.code == code))
    assert found is not None
    return found


def assert_no_holder_data(texts: list[str]) -> None:
    for text in texts:
        for marker in MARKERS:
            assert marker not in text, (marker, text)
        assert "Сертификат жизни" not in text


# -- the whole way ---------------------------------------------------------------------
async def test_link_in_the_panel_check_and_redeem_in_telegram(
    services: Services, settings: Settings
) -> None:
    shop = await make_shop(services)
    code = await voucher(services, shop)
    async with service(services, settings) as app:
        fake: FakeTelegramServer = app.fake  # type: ignore[attr-defined]
        family = fake.user(user_id=FAMILY_TG, first_name="МАРКЕР-Имя", language_code="ru")
        cashier = fake.user(user_id=CASHIER_TG, first_name="Кассир", language_code="ru")
        browser = await staff_session(app, services, await cashier_account(services, shop))

        # The panel offers to link; the code is shown once, only its hash kept.
        own = await browser.get("/admin/partner")
        assert own.status_code == 200 and "Привязать Telegram" in own.text
        made = await browser.post("/admin/partner/telegram")
        assert made.status_code == 200, made.text
        assert "Отправьте боту команду" in made.text and "в течение 15 минут" in made.text
        found = LINK_CODE.search(made.text)
        assert found is not None
        link_code = found.group(1)
        async with services.db.session() as session:
            user = await session.scalar(select(StaffUser).where(StaffUser.login == "lada-cashier"))
            assert user is not None and user.telegram_link_expires is not None
            assert user.telegram_link_hash == hashlib.sha256(link_code.encode()).hexdigest()
            assert user.telegram_link_expires > utcnow() + timedelta(minutes=14)
            records = (
                await session.scalars(
                    select(AuditRecord).where(AuditRecord.action == "telegram_link")
                )
            ).all()
        assert [(r.entity, r.entity_id) for r in records] == [("staff_user", str(user.id))]
        assert link_code not in str(records[0].after) and user.telegram_link_hash not in str(
            records[0].after
        )
        assert link_code not in (await browser.get("/admin/partner")).text

        # `/link CODE` in Telegram (any case, a dash in the middle is fine).
        typed = f"{link_code[:4]}-{link_code[4:]}".lower()
        linked = await say(cashier, f"/link {typed}")
        assert linked.text == partner_desk.LINKED
        async with services.db.session() as session:
            user = await session.get(StaffUser, user.id)
            assert user is not None and user.telegram_user_id == str(CASHIER_TG)
            assert user.telegram_link_hash is None and user.telegram_link_expires is None
        assert "Telegram привязан" in (await browser.get("/admin/partner")).text
        again = await say(cashier, f"/link {link_code}")  # the code was for one use
        assert again.text == partner_desk.LINK_REFUSED

        # `/check CODE`: the partner page's words, and a button to redeem.
        checked = await say(cashier, f"/check {display(code).lower()}")
        assert checked.text is not None
        assert checked.text.startswith("✅ Действителен")
        assert "Комплект одежды" in checked.text and "Платье, обувь" in checked.text
        assert "4\u00a0000\u00a0₽" in checked.text and display(code) in checked.text
        assert checked.buttons == [[("Погасить", f"vr:{code}")]]
        assert await status_of(services, code) == "issued"

        before_family = len(family.messages)
        press = await cashier.press("Погасить", checked)
        await press.wait_answered()
        await cashier.wait_idle()
        done = cashier.messages[-1]
        assert done.text is not None and done.text.startswith("✅ Погашено")
        assert "Повторно этот код уже не примут" in done.text and not done.buttons
        assert press.answer_text == "Погашено"
        (told,) = family.messages[before_family:]
        assert "использован" in (told.text or "") and "Лада" in (told.text or "")
        async with services.db.session() as session:
            row = await session.scalar(select(Voucher).where(Voucher.code == code))
            assert row is not None and row.status == "redeemed" and row.redeemed_by == user.id
            redeems = (
                await session.scalars(select(AuditRecord).where(AuditRecord.action == "redeem"))
            ).all()
        assert [(r.entity, r.entity_id, r.user_id, r.user_login) for r in redeems] == [
            ("voucher", str(row.id), user.id, "lada-cashier")
        ]

        # A second tap is refused, and the family hears nothing more.
        second = await cashier.press("Погасить", checked)
        await second.wait_answered()
        await cashier.wait_idle()
        refused = cashier.messages[-1]
        assert refused.text is not None and refused.text.startswith("⛔ Уже использован")
        assert second.answer_text == "Уже использован"
        assert len(family.messages) == before_family + 1
        assert await status_of(services, code) == "redeemed"

        # Staff commands never made the cashier a family.
        assert await families_of(services, CASHIER_TG) == 0
        assert_no_holder_data([m.text or "" for m in cashier.messages])

        # Unlinked in the panel: `/check` is a family's message again.
        unlinked = await browser.post("/admin/partner/telegram/unlink")
        assert unlinked.status_code == 303
        async with services.db.session() as session:
            user = await session.get(StaffUser, user.id)
            assert user is not None and user.telegram_user_id is None
            gone = await session.scalar(
                select(AuditRecord).where(AuditRecord.action == "telegram_unlink")
            )
        assert gone is not None and gone.entity_id == str(user.id)
        before = len(cashier.messages)
        await cashier.send_text(f"/check {display(code)}")
        await cashier.wait_for_messages(1)
        await cashier.wait_idle()
        assert all("Погасить" not in m.button_labels for m in cashier.messages[before:])
        assert await families_of(services, CASHIER_TG) == 1
        fake.assert_no_errors()
        await browser.http.aclose()


# -- who may use it ----------------------------------------------------------------------
async def test_check_from_someone_not_linked_goes_to_the_family_front_door(
    services: Services, settings: Settings
) -> None:
    shop = await make_shop(services)
    code = await voucher(services, shop)
    await cashier_account(services, shop)  # staff exists, but this Telegram is not linked
    async with service(services, settings) as app:
        fake: FakeTelegramServer = app.fake  # type: ignore[attr-defined]
        stranger = fake.user(user_id=STRANGER_TG, first_name="Аминат", language_code="ru")
        await stranger.send_text(f"/check {display(code)}")
        await stranger.wait_for_messages(1)
        await stranger.wait_idle()
        replies = [m.text or "" for m in stranger.messages]
        assert replies and all(r.strip() for r in replies)
        for reply in replies:
            for secret in ("Действителен", "Комплект одежды", "Погасить", "Код не найден"):
                assert secret not in reply
        assert_no_holder_data(replies)
        # A forged redeem button is not honoured either.
        await stranger.press_data(f"vr:{code}")
        await stranger.wait_idle()
        assert await status_of(services, code) == "issued"
        # It was a family's message: the front door took it in as one.
        assert await families_of(services, STRANGER_TG) == 1
        fake.assert_no_errors()


async def test_wrong_and_expired_link_codes_are_refused_and_guessing_locks(
    services: Services, settings: Settings
) -> None:
    shop = await make_shop(services)
    user_id = await cashier_account(services, shop)
    async with services.db.session() as session:
        consultant = StaffUser(  # an editor: nothing to do in Telegram, so no link
            login="not-a-shop",
            role="editor",
            password_hash=password_hash(),
            telegram_link_hash=hashlib.sha256(b"K0NSVMT1").hexdigest(),
            telegram_link_expires=utcnow() + timedelta(minutes=10),
        )
        cashier = await session.get(StaffUser, user_id)
        assert cashier is not None
        cashier.telegram_link_hash = hashlib.sha256(b"EXP1RED0").hexdigest()
        cashier.telegram_link_expires = utcnow() - timedelta(seconds=1)
        session.add(consultant)
    async with service(services, settings) as app:
        fake: FakeTelegramServer = app.fake  # type: ignore[attr-defined]
        guesser = fake.user(user_id=STRANGER_TG, first_name="Гость", language_code="ru")
        # Unknown, expired, another role's code, nothing at all: one neutral answer.
        for typed in ("/link ZZZZ9999", "/link EXP1RED0", "/link k0nsvmt1", "/link"):
            assert (await say(guesser, typed)).text == partner_desk.LINK_REFUSED
        # The fifth wrong code locks this Telegram user; then even a good one is refused.
        locked = await say(guesser, "/link 00000000")
        assert locked.text is not None and "Слишком много неверных кодов" in locked.text
        async with services.db.session() as session:
            cashier = await session.get(StaffUser, user_id)
            assert cashier is not None
            cashier.telegram_link_hash = hashlib.sha256(b"G00DC0DE").hexdigest()
            cashier.telegram_link_expires = utcnow() + timedelta(minutes=10)
        still = await say(guesser, "/link G00DC0DE")
        assert still.text is not None and "Слишком много неверных кодов" in still.text
        async with services.db.session() as session:
            linked = await session.scalar(
                select(func.count())
                .select_from(StaffUser)
                .where(StaffUser.telegram_user_id.is_not(None))
            )
        assert linked == 0
        # Another Telegram user is not affected by this one's lock.
        other = fake.user(user_id=CASHIER_TG, first_name="Кассир", language_code="ru")
        assert (await say(other, "/link g00d-c0de")).text == partner_desk.LINKED
        assert await families_of(services, STRANGER_TG) == 0
        fake.assert_no_errors()


# -- guessing and holder data ------------------------------------------------------------
async def test_ten_wrong_codes_lock_the_account_in_telegram_and_on_the_page(
    services: Services, settings: Settings
) -> None:
    shop = await make_shop(services)
    user_id = await cashier_account(services, shop, linked=True)
    good = display(await voucher(services, shop))
    async with service(services, settings) as app:
        fake: FakeTelegramServer = app.fake  # type: ignore[attr-defined]
        cashier = fake.user(user_id=CASHIER_TG, first_name="Кассир", language_code="ru")
        for number in range(9):
            typed = mistype(new_code()) if number % 3 == 0 else display(new_code())
            answer = await say(cashier, f"/check {typed}")
            assert answer.text is not None and typed in answer.text
            assert answer.text.startswith(("❓ Код не найден", "✏️ Похоже, в коде опечатка"))
        tenth = await say(cashier, f"/check {display(new_code())}")
        assert tenth.text is not None
        assert tenth.text.startswith("Слишком много неверных кодов подряд.")
        assert re.search(r"будет доступна через 1[45] мин\.$", tenth.text)
        # Locked: even the right code is not looked up — here and on the partner page.
        refused = await say(cashier, f"/check {good}")
        assert refused.text == tenth.text and not refused.buttons
        async with services.db.session() as session:
            user = await session.get(StaffUser, user_id)
            assert user is not None
            lockouts = (
                await session.scalars(select(AuditRecord).where(AuditRecord.action == "lockout"))
            ).all()
        assert [(r.entity, r.entity_id, (r.after or {}).get("scope")) for r in lockouts] == [
            ("voucher_check", str(user_id), "account")
        ]
        assert await status_of(services, good.replace("-", "")) == "issued"
        # The partner page shares the account's counter: locked there too.
        browser = await staff_session(app, services, user_id)
        page = await browser.post("/admin/check/redeem", {"code": good})
        assert page.status_code == 429 and tenth.text in page.text
        assert await status_of(services, good.replace("-", "")) == "issued"
        await browser.http.aclose()
        fake.assert_no_errors()


async def test_telegram_answers_never_show_who_holds_a_code(
    services: Services, settings: Settings
) -> None:
    shop = await make_shop(services)
    await cashier_account(services, shop, linked=True)
    codes = [
        display(await voucher(services, shop)),
        display(await voucher(services, shop, status="redeemed")),
        display(await voucher(services, shop, expires_in=-timedelta(hours=1))),
        display(await voucher(services, shop, status="revoked")),
        display(await voucher(services, shop, other_shop=True)),
        display(new_code()),
    ]
    codes.append(mistype(codes[0].replace("-", "")))
    async with service(services, settings) as app:
        fake: FakeTelegramServer = app.fake  # type: ignore[attr-defined]
        fake.user(user_id=FAMILY_TG, first_name="МАРКЕР-Имя", language_code="ru")
        cashier = fake.user(user_id=CASHIER_TG, first_name="Кассир", language_code="ru")
        titles = []
        for typed in codes:
            answer = await say(cashier, f"/check {typed}")
            assert answer.text is not None
            titles.append(answer.text.split("\n", 1)[0])
        assert titles == [
            "✅ Действителен",
            "⛔ Уже использован",
            "⌛ Срок истёк",
            "⛔ Аннулирован",
            "❓ Код не найден",
            "❓ Код не найден",
            "✏️ Похоже, в коде опечатка",
        ]
        # Another shop's code reads exactly like an unknown one.
        elsewhere, nowhere = cashier.messages[4], cashier.messages[5]
        assert (elsewhere.text or "").replace(codes[4], "?") == (nowhere.text or "").replace(
            codes[5], "?"
        )
        press = await cashier.press("Погасить", cashier.messages[0])
        await press.wait_answered()
        await cashier.wait_idle()
        assert (cashier.messages[-1].text or "").startswith("✅ Погашено")
        assert_no_holder_data([m.text or "" for m in cashier.messages])
        assert await status_of(services, codes[4].replace("-", "")) == "issued"
        assert await families_of(services, CASHIER_TG) == 0
        fake.assert_no_errors()
