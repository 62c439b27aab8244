"""End to end: a family in Telegram (the real aiogram client polling a fake Bot
API server) gets a Certificate of Life from a psychologist in the admin panel,
a shop redeems it on the partner page, the family is told, a second redemption
is refused. The whole service runs as in production (`bot.app.Application`:
the web chat, the admin panel, Telegram, the scheduler)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import zxingcpp
from PIL import Image
from sqlalchemy import select

from admin import auth
from admin.web import SESSION_COOKIE
from bot.app import Application
from bot.config import Settings
from bot.core.services import Services
from bot.core.types import Reply
from bot.storage.models import (
    Case,
    Identity,
    Offer,
    Partner,
    StaffSession,
    StaffUser,
    Voucher,
    utcnow,
)
from bot.vouchers.codes import display
from bot.vouchers.qr import qr_png
from tests.admin.conftest import StaffClient, password_hash
from tests.fakes.telegram_api import FakeTelegramServer, FakeUser


@contextlib.asynccontextmanager
async def service(services: Services, settings: Settings) -> AsyncIterator[Application]:
    """The service with Telegram on the fake Bot API (long polling)."""
    async with FakeTelegramServer() as fake:
        settings.telegram_token = fake.token
        settings.telegram_api_server = fake.base_url
        settings.telegram_mode = "polling"
        app = Application.build(settings, services)
        await app.start()
        try:
            await asyncio.wait_for(app.wait_ready(), 30)
            telegram = app.telegram
            assert telegram is not None
            fake.bot_busy = lambda: telegram.busy
            app.fake = fake  # type: ignore[attr-defined]
            yield app
        finally:
            await app.stop()


async def staff(app: Application, services: Services, **values: object) -> StaffClient:
    """A logged-in browser for a new staff member (the session made directly)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with services.db.session() as session:
        user = StaffUser(password_hash=password_hash(), must_change_password=False, **values)
        session.add(user)
        await session.flush()
        session.add(
            StaffSession(
                token_hash=auth.token_hash(token),
                user_id=user.id,
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                seen_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.asgi),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: token},
    )
    return StaffClient(client)


def scanned(image: bytes | str | None) -> str:
    assert isinstance(image, bytes), "the bot sent no picture"
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(image)))
    return str(found.text)


async def psychologist_case(user: FakeUser) -> None:
    """The family asks for a psychologist and tells what happened: a case opens."""
    await user.send_command("/start")
    await user.wait_for_messages(2)
    await user.press("👤 Поговорить с человеком")
    (consent,) = await user.wait_for_messages(1)
    assert "согласие" in (consent.text or "")
    await user.press("✅ Даю согласие")
    await user.wait_for_messages(2)
    await user.press("💬 Психолог")
    (describe,) = await user.wait_for_messages(1)
    assert "опишите" in (describe.text or "")
    await user.send_text("Беременна, решила рожать, нужна поддержка")
    await user.wait_for_messages(1)
    await user.wait_idle()
    assert "обращение" in " ".join(m.text or "" for m in user.messages[-3:]).lower()


async def test_certificate_of_life_from_staff_to_a_shop_through_telegram(
    services: Services, settings: Settings
) -> None:
    async with services.db.session() as session:
        shop = Partner(
            name="Детский магазин «Аистёнок»",
            kind="children_shop",
            city="kaspiysk",
            addresses=["ул. Ленина, 5"],
        )
        session.add(shop)
        await session.flush()
        offer = Offer(
            partner_id=shop.id,
            programme="life_certificate",
            title="Набор для новорождённого",
            covers="Подгузники, пелёнки, бутылочки",
            value_rub=5000,
            monthly_quota=3,
            valid_days=30,
        )
        session.add(offer)
        await session.flush()
        shop_id, offer_id = shop.id, offer.id

    async with service(services, settings) as app:
        fake: FakeTelegramServer = app.fake  # type: ignore[attr-defined]
        user = fake.user(user_id=1001, first_name="Мария", language_code="ru")
        await psychologist_case(user)
        async with services.db.session() as session:
            case = await session.scalar(select(Case))
        assert case is not None and case.specialty == "psychologist"

        # A psychologist issues a Certificate of Life from the case view.
        psychologist = await staff(
            app, services, login="psy", name="Психолог", role="consultant",
            specialties=["psychologist"],
        )  # fmt: skip
        before = len(user.messages)
        issued = await psychologist.post(
            f"/admin/cases/{case.id}/vouchers", {"offer_id": str(offer_id)}
        )
        assert issued.status_code == 303, issued.text
        await user.wait_idle()
        (photo,) = user.messages[before:]
        async with services.db.session() as session:
            voucher = await session.scalar(select(Voucher))
        assert voucher is not None and voucher.family_id == case.family_id
        code = display(voucher.code)
        # The family's chat: a photo whose QR is the code, the code in its caption.
        assert photo.kind == "photo"
        assert scanned(photo.photo) == code
        assert photo.caption is not None and code in photo.caption
        assert "Сертификат жизни" in photo.caption and "ул. Ленина, 5" in photo.caption
        assert photo.parse_mode == "HTML"

        # «Мои сертификаты» shows it again, with the same QR.
        await user.send_text("мои сертификаты")
        shown = await user.wait_for_messages(3)
        assert scanned(shown[1].photo) == code

        # The shop's staff redeem it on the partner page: the family is told.
        cashier = await staff(
            app, services, login="shop", name="Кассир", role="partner", partner_id=shop_id
        )
        before = len(user.messages)
        redeemed = await cashier.post("/admin/check/redeem", {"code": code.lower()})
        assert redeemed.status_code == 200, redeemed.text
        assert "Мария" not in redeemed.text and "психолог" not in redeemed.text.lower()
        await user.wait_idle()
        (told,) = user.messages[before:]
        assert "использован" in (told.text or "") and "Аистёнок" in (told.text or "")

        # A second redemption is refused, and the family hears nothing more.
        again = await cashier.post("/admin/check/redeem", {"code": code})
        assert again.status_code == 200
        assert "Уже использован" in again.text
        await user.wait_idle()
        assert len(user.messages) == before + 1
        async with services.db.session() as session:
            row = await session.get(Voucher, voucher.id)
        assert row is not None and row.status == "redeemed"

        # Messages the service sent by itself are wiped by "safe exit" like the rest.
        await user.send_text("быстрый выход")
        await user.wait_for_messages(1)
        await user.press("🗑 Удалить переписку сейчас")
        await fake.wait_idle()
        assert photo.deleted and told.deleted
        fake.assert_no_errors()
        await psychologist.http.aclose()
        await cashier.http.aclose()


async def test_a_family_that_blocked_the_bot_is_marked_and_skipped(
    services: Services, settings: Settings
) -> None:
    async with service(services, settings) as app:
        fake: FakeTelegramServer = app.fake  # type: ignore[attr-defined]
        user = fake.user(user_id=1002, first_name="Аминат", language_code="ru")
        await user.send_command("/start")
        await user.wait_for_messages(2)
        assert app.telegram is not None
        long_text = "Очень длинное объяснение. " * 60  # over a caption's 1,024 characters
        picture = qr_png("7KQM2F9XD4HB")
        async with services.db.session() as session:
            family_id = await session.scalar(select(Identity.family_id))
        assert family_id is not None
        notify = services.notifier.to_family
        assert await notify(family_id, lambda _: [Reply(text=long_text, image=picture)])
        photo, text = await user.wait_for_messages(2)
        assert photo.kind == "photo" and not photo.caption and text.text == long_text.strip()

        await user.block()
        await fake.wait_idle()
        async with services.db.session() as session:
            identity = await session.scalar(select(Identity))
            assert identity is not None
            identity.blocked_at = None  # as if the block went unnoticed: the send finds out
        assert await notify(family_id, lambda _: [Reply(text="🎁", image=picture)])
        await fake.wait_idle()  # the send finds out and marks the chat
        async with services.db.session() as session:
            identity = await session.scalar(select(Identity))
        assert identity is not None and identity.blocked_at is not None
        # The Notifier skips a blocked chat from now on.
        assert not await notify(family_id, lambda _: [Reply("x")])
        fake.assert_no_errors(allow=("bot was blocked",))
