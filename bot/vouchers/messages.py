"""What a family is told about its vouchers, in its language: the voucher itself
(code, QR, what it covers, where, until when), that it was used, that it will
expire soon, and — kindly — that it has expired."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from bot.core.i18n import N_
from bot.core.services import Services
from bot.core.turn import Turn
from bot.core.types import Reply
from bot.storage.models import Offer, Partner, Voucher
from bot.vouchers.codes import display
from bot.vouchers.qr import qr_png
from bot.vouchers.service import LOCAL

PROGRAMME_TITLES = {
    "life_certificate": N_("Сертификат жизни"),
    "new_life": N_("«Переодеваемся в новую жизнь»"),
    "family_card": N_("Семейная социальная карта"),
}
ISSUED = N_(
    "🎁 **{programme}**\n\n{title}\n{covers}\n\n"
    "Код: **{code}**\nДействует до {until}.\n\n"
    "Где: {shop}{addresses}\n\n"
    "Покажите код или QR-картинку на кассе. Никому, кроме магазина, код не сообщайте: "
    "им может воспользоваться любой, кто его знает."
)
REDEEMED = N_(
    "✅ Ваш сертификат «{title}» использован в магазине «{shop}». "
    "Пусть покупки радуют вас и малыша!"
)
# Other programmes (clothing after violence, the family card) are not about a baby.
REDEEMED_OTHER = N_(
    "✅ Ваш сертификат «{title}» использован в «{shop}». Пусть это будет в радость!"
)
REMINDER = N_(
    "⏰ Напоминаем: сертификат «{title}» (код {code}) действует до {until}. "
    "Успейте зайти в магазин «{shop}»{addresses}."
)
EXPIRED = N_(
    "Срок сертификата «{title}» (код {code}) закончился {until}, и магазин его уже не примет. "
    "Так бывает — не переживайте. Если он всё ещё нужен, напишите консультанту центра: "
    "вместе посмотрим, чем можно помочь."
)


def _until(moment: datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%d.%m.%Y")


async def _load(services: Services, voucher_id: int) -> tuple[Voucher, Offer, Partner] | None:
    async with services.db.session() as session:
        row = (
            await session.execute(
                select(Voucher, Offer, Partner)
                .join(Offer, Offer.id == Voucher.offer_id)
                .join(Partner, Partner.id == Voucher.partner_id)
                .where(Voucher.id == voucher_id)
            )
        ).one_or_none()
    return (row[0], row[1], row[2]) if row is not None else None


def voucher_replies(
    services: Services, voucher: Voucher, offer: Offer, partner: Partner, language: str
) -> list[Reply]:
    """The voucher as the family keeps it: one message with the QR image."""
    t = services.translator.gettext
    addresses = "; ".join(str(a) for a in partner.addresses if a)
    text = Turn.fill(
        t(language, ISSUED),
        {
            "programme": t(language, PROGRAMME_TITLES.get(offer.programme, offer.programme)),
            "title": offer.title,
            "covers": offer.covers,
            "code": display(voucher.code),
            "until": _until(voucher.expires_at),
            "shop": partner.name,
            "addresses": f" — {addresses}" if addresses else "",
        },
    )
    return [Reply(text=text, image=qr_png(voucher.code), node="vouchers:issued")]


async def tell(services: Services, voucher_id: int, what: str) -> bool:
    """Tell the holder about one voucher: "issued", "redeemed", "reminder" or "expired"."""
    found = await _load(services, voucher_id)
    if found is None or found[0].family_id is None:
        return False
    voucher, offer, partner = found
    assert voucher.family_id is not None
    addresses = "; ".join(str(a) for a in partner.addresses if a)
    values = {
        "title": offer.title,
        "code": display(voucher.code),
        "until": _until(voucher.expires_at),
        "shop": partner.name,
        "addresses": f" ({addresses})" if addresses else "",
    }
    redeemed = REDEEMED if offer.programme == "life_certificate" else REDEEMED_OTHER
    template = {"redeemed": redeemed, "reminder": REMINDER, "expired": EXPIRED}.get(what)

    def compose(language: str) -> Sequence[Reply]:
        if template is None:
            return voucher_replies(services, voucher, offer, partner, language)
        text = Turn.fill(services.translator.gettext(language, template), values)
        return [Reply(text=text, node=f"vouchers:{what}")]

    return await services.notifier.to_family(voucher.family_id, compose)
