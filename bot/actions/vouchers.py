"""The family's side of vouchers: «Мои сертификаты», the family card (applying,
the card itself, its offers) and claiming a family-card offer.

Vouchers of the Certificate of Life and «new life» programmes are issued by
staff; a family with a verified card claims family-card offers itself. What a
shop sees is decided elsewhere (bot/vouchers/service.py): here only the family
sees its own codes.
"""

from __future__ import annotations

import io
import secrets
from datetime import date
from typing import Any

import segno
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.actions.registry import ActionResult, Option, registry
from bot.core.i18n import N_
from bot.core.turn import Turn
from bot.core.types import Reply
from bot.storage.models import FAMILY_CATEGORIES, FamilyCard, Offer, Partner, Voucher, utcnow
from bot.vouchers import service

CATEGORY_LABELS = {
    "large_family": N_("Многодетная семья"),
    "pregnancy": N_("Беременность"),
    "child_under_3": N_("Ребёнок до 3 лет"),
    "child_disability": N_("Ребёнок с инвалидностью"),
    "low_income": N_("Семья с невысоким доходом"),
    "single_parent": N_("Одинокий родитель"),
}
assert set(CATEGORY_LABELS) == set(FAMILY_CATEGORIES)

# Conversation variables of the application (declared in dialogs/vouchers.yaml).
PICKED = "card_category"  # the category just pressed (toggled, then dropped)
CHOSEN = "card_categories"
CITY = "card_city"
OFFER = "card_offer"
STATUS = "card_status"
# The claimable offers last shown, for the option buttons (providers cannot
# query the database). Not declared: staff never see it among the answers.
OFFER_MENU = "card_offer_menu"
MAX_OFFERS = 7  # option rows, plus the node's own and the navigation: VK shows 10
LABEL_MAX = 40  # VK's limit for a button label

VOUCHERS_INTRO = N_("Ваши действующие сертификаты — ниже. Покажите на кассе код или QR-картинку.")
VOUCHERS_AFTER = N_(
    "Если код потерялся или вы сменили телефон — напишите консультанту: "
    "сертификат заменят на новый."
)
VOUCHERS_HISTORY = N_("Раньше: использовано — {redeemed}, истёк срок — {expired}.")
VOUCHERS_NONE_ACTIVE = N_("Сейчас действующих сертификатов нет.")
VOUCHERS_NONE = N_(
    "У вас пока нет сертификатов. Вот как их получают:\n\n"
    "• **Сертификат жизни** — подарок детских магазинов-партнёров для будущей мамы, "
    "которая решила сохранить беременность. Его выдаёт психолог центра после "
    "консультации: нажмите «Поговорить с человеком» или напишите «психолог».\n"
    "• **«Переодеваемся в новую жизнь»** — одежда и услуги для женщин, переживших "
    "насилие. Спросите о нём консультанта.\n"
    "• **Семейная социальная карта** — скидки и подарки магазинов и организаций для "
    "семей с детьми. Оформите карту здесь: после проверки вы сами сможете получать "
    "предложения по ней."
)

CARD_NONE = N_(
    "**Семейная социальная карта** — скидки и подарки магазинов и организаций-партнёров "
    "для семей с детьми.\n\n"
    "Оформить её можно здесь: отметьте, что подходит вашей семье, и выберите город. "
    "Специалисты центра проверят заявку, и после этого вы сами сможете получать "
    "предложения по карте."
)
CARD_PENDING = N_(
    "Ваша заявка на семейную карту проверяется. Специалисты центра посмотрят её в "
    "ближайшие рабочие дни — когда карта будет готова, её номер и предложения появятся здесь."
)
CARD_REJECTED = N_(
    "Заявку на семейную карту подтвердить не получилось. Так бывает, если не хватило "
    "сведений. Напишите консультанту — он объяснит, что можно сделать, — или подайте "
    "заявку ещё раз."
)
CARD_TEXTS = {"none": CARD_NONE, "pending": CARD_PENDING, "rejected": CARD_REJECTED, "verified": ""}
CATEGORIES_CHOSEN = N_("Отмечено: {categories}. Можно отметить ещё или нажать «Готово».")
CATEGORIES_EMPTY = N_("Пока ничего не отмечено. Выберите, что подходит вашей семье.")
CARD_VERIFIED = N_(
    "💳 **Семейная социальная карта**\n\n"
    "Номер: **{number}**\n"
    "{categories}\n\n"
    "Номер карты пригодится, если будете писать в центр. Предложения по карте — ниже: "
    "нажмите на нужное, и я пришлю сертификат с кодом — его и покажите в магазине."
)
CARD_CATEGORIES = N_("Категории: {categories}")
CARD_NO_OFFERS = N_(
    "Сейчас предложений по карте нет. Как только партнёры их добавят, они появятся здесь."
)
OFFERS_TITLE = N_("**Предложения по семейной карте:**")
OFFER_VALUE = N_("на сумму {value} ₽")
OFFER_DISCOUNT = N_("скидка {percent}%")
OFFER_CLAIM = N_("🎁 {title}")
OFFER_HELD = N_("(у вас уже есть код)")

APPLIED = N_(
    "Спасибо! Заявка на семейную карту принята. Специалисты центра проверят её в "
    "ближайшие рабочие дни — они могут связаться с вами и уточнить сведения. Когда "
    "карта будет готова, её номер и предложения появятся в «Мои сертификаты»."
)
APPLIED_AGAIN = N_(
    "Спасибо! Заявка обновлена. Специалисты центра проверят её ещё раз — пока идёт "
    "проверка, предложения по карте недоступны."
)
CLAIMED = N_(
    "Сертификат — выше. Покажите код или QR-картинку на кассе магазина. "
    "Он также есть в «Мои сертификаты»."
)
CLAIM_HELD = N_("Этот сертификат у вас уже есть — вот он ещё раз.")
CLAIM_FAILED = N_("Сейчас этот сертификат получить не получилось.")
# Why, in the family's words (the service's own reasons are written for staff).
CLAIM_REASONS = {
    "quota": N_(
        "В этом месяце сертификаты этого партнёра уже разобрали. Новые появятся в начале "
        "следующего месяца — загляните тогда или выберите другое предложение."
    ),
    "this_month": N_(
        "Вы уже получали сертификат по этому предложению в этом месяце. "
        "Следующий можно будет получить в новом месяце."
    ),
    "closed": N_("Это предложение сейчас не действует. Выберите, пожалуйста, другое."),
}
CLAIM_OTHERS = N_(
    "Можно выбрать другое предложение по карте или спросить консультанта: "
    "«Поговорить с человеком» в меню."
)

FORGET_CARD = N_("Семейная карта и заявка на неё тоже удалены.")
FORGET_VOUCHERS = N_(
    "Коды действующих сертификатов ({count}) продолжат работать — сохраните их: "
    "больше я их показать не смогу."
)


# -- «Мои сертификаты» -------------------------------------------------------------
@registry.action("show_vouchers")
async def show_vouchers(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """The family's active vouchers, each with its QR; the rest in one line."""
    await turn.session.flush()  # a family met this turn has an id only after a flush
    now = utcnow()
    rows = (
        await turn.session.execute(
            select(Voucher, Offer, Partner)
            .join(Offer, Offer.id == Voucher.offer_id)
            .join(Partner, Partner.id == Voucher.partner_id)
            .where(Voucher.family_id == turn.family.id)
            .order_by(Voucher.expires_at, Voucher.id)
        )
    ).all()
    active = [r for r in rows if r[0].status == "issued" and r[0].expires_at > now]
    redeemed = sum(1 for r in rows if r[0].status == "redeemed")
    expired = sum(
        1
        for r in rows
        if r[0].status == "expired" or (r[0].status == "issued" and r[0].expires_at <= now)
    )
    turn.event("vouchers")
    history = turn.t(VOUCHERS_HISTORY, redeemed=redeemed, expired=expired)
    if not active:
        if redeemed or expired:
            return ActionResult(texts=[f"{turn.t(VOUCHERS_NONE_ACTIVE)} {history}"])
        return ActionResult(texts=[turn.t(VOUCHERS_NONE)])
    turn.say(turn.t(VOUCHERS_INTRO))
    for voucher, offer, partner in active:
        turn.replies.extend(_voucher(turn, voucher, offer, partner))
    last = turn.t(VOUCHERS_AFTER)
    if redeemed or expired:
        last = f"{history}\n\n{last}"
    return ActionResult(texts=[last])


def _voucher(turn: Turn, voucher: Voucher, offer: Offer, partner: Partner) -> list[Reply]:
    """A voucher as its message (code, QR, where, until when), on the family's screen."""
    # Imported here: bot.vouchers.messages needs the services, which import the actions.
    from bot.vouchers.messages import voucher_replies

    replies = voucher_replies(turn.services, voucher, offer, partner, turn.language)
    return [
        Reply(text=r.text, buttons=r.buttons, node=turn.position, image=r.image) for r in replies
    ]


# -- the family card ---------------------------------------------------------------
async def family_card_of(turn: Turn) -> FamilyCard | None:
    """The family's card or application, if it has one."""
    await turn.session.flush()
    return await turn.session.scalar(
        select(FamilyCard).where(FamilyCard.family_id == turn.family.id)
    )


@registry.action("family_card_status")
async def family_card_status(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """«Семейная карта»: how to apply, the application's status, or the card itself.
    The node's buttons read `card_status` (apply / change / apply again)."""
    card = await family_card_of(turn)
    status = card.status if card is not None and card.status in CARD_TEXTS else "none"
    turn.set_var(STATUS, status)
    if status == "verified":
        return ActionResult(goto="card_verified")
    return ActionResult(texts=[turn.t(CARD_TEXTS[status])])


@registry.provider("card_categories")
def card_categories(turn: Turn) -> list[Option]:
    """Every category, the chosen ones ticked: pressing one ticks or unticks it."""
    chosen = set(_chosen(turn))
    return [
        Option(key, ("✅ " if key in chosen else "▫️ ") + turn.t(label))
        for key, label in CATEGORY_LABELS.items()
    ]


def _chosen(turn: Turn) -> list[str]:
    value = turn.vars.get(CHOSEN)
    if not isinstance(value, list):
        return []
    return [key for key in FAMILY_CATEGORIES if key in value]


@registry.action("toggle_card_category")
async def toggle_card_category(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """A multi-select made of single presses: the pressed category flips."""
    picked = turn.vars.get(PICKED)
    chosen = _chosen(turn)
    if picked in CATEGORY_LABELS:
        chosen = [k for k in chosen if k != picked] if picked in chosen else [*chosen, picked]
    # Only the list is the answer; an empty list is no answer at all.
    values = {k: v for k, v in turn.vars.items() if k not in (PICKED, CHOSEN)}
    if chosen:
        values[CHOSEN] = [k for k in FAMILY_CATEGORIES if k in chosen]
    turn.conversation.vars = values
    # One short message with the ticks, instead of the whole question again.
    names = ", ".join(turn.t(CATEGORY_LABELS[k]) for k in FAMILY_CATEGORIES if k in chosen)
    text = turn.t(CATEGORIES_CHOSEN, categories=names) if names else turn.t(CATEGORIES_EMPTY)
    turn.say(text, turn.services.engine.current_rows(turn))
    return ActionResult(stop=True)


def _new_number() -> str:
    """Ten random digits (never derived from an id), first one not zero."""
    return str(10**9 + secrets.randbelow(9 * 10**9))


@registry.action("apply_family_card")
async def apply_family_card(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Store the application (categories and city, with consent) for staff to check."""
    chosen = _chosen(turn)
    city = turn.vars.get(CITY)
    if not chosen or not turn.consented:
        # Nothing to apply with (e.g. "Back" into this step after applying): the status.
        return ActionResult(goto="card")
    card = await family_card_of(turn)
    again = card is not None
    if card is None:
        for _ in range(5):  # a clash of ten random digits is rare; be sure anyway
            card = FamilyCard(family_id=turn.family.id, number=_new_number())
            try:
                async with turn.session.begin_nested():
                    turn.session.add(card)
                    await turn.session.flush()
            except IntegrityError:
                continue
            break
        else:
            raise RuntimeError("could not draw a free family card number")
    assert card is not None
    card.categories = chosen
    card.city = str(city) if city else ""
    card.status = "pending"
    card.applied_at = utcnow()
    card.decided_at = None
    card.decided_by = None
    # The answers now live in the application; the conversation keeps no copy.
    turn.conversation.vars = {k: v for k, v in turn.vars.items() if k not in (PICKED, CHOSEN, CITY)}
    turn.event("family_card", "applied")
    return ActionResult(texts=[turn.t(APPLIED_AGAIN if again else APPLIED)])


def card_qr(number: str, scale: int = 8) -> bytes:
    """The card number as a QR a shop's scanner reads back as the digits."""
    buffer = io.BytesIO()
    segno.make_qr(number, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def shown_number(number: str) -> str:
    """`1234567890` → `1234 5678 90`: read aloud at a counter."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _open_on(offer: Offer, today: date) -> bool:
    return not (offer.starts_on and today < offer.starts_on) and not (
        offer.ends_on and today > offer.ends_on
    )


async def eligible_offers(turn: Turn, card: FamilyCard) -> list[tuple[Offer, Partner]]:
    """Family-card offers open to this card's categories, the card's city first."""
    today = service.local_day(utcnow())
    rows = (
        await turn.session.execute(
            select(Offer, Partner)
            .join(Partner, Partner.id == Offer.partner_id)
            .where(Offer.programme == "family_card", Offer.active.is_(True))
            .where(Partner.active.is_(True))
            .order_by(Partner.name, Offer.title, Offer.id)
        )
    ).all()
    categories = set(card.categories or [])
    found = [
        (offer, partner)
        for offer, partner in rows
        if _open_on(offer, today) and (not offer.categories or categories & set(offer.categories))
    ]
    # sorted() is stable: within each group the name order stays.
    return sorted(found, key=lambda row: row[1].city != card.city)


def _offer_text(turn: Turn, offer: Offer, partner: Partner, held: bool) -> str:
    knowledge = turn.services.knowledge
    worth = []
    if offer.value_rub:
        worth.append(turn.t(OFFER_VALUE, value=offer.value_rub))
    if offer.discount_percent:
        worth.append(turn.t(OFFER_DISCOUNT, percent=offer.discount_percent))
    head = f"**{offer.title}**" + (f" — {', '.join(worth)}" if worth else "")
    if held:
        head += " " + turn.t(OFFER_HELD)
    where = partner.name
    if partner.city:
        where += f", {knowledge.city_name(partner.city, turn.language)}"
    addresses = "; ".join(str(a) for a in partner.addresses if a)
    if addresses:
        where += f": {addresses}"
    lines = [head]
    if offer.covers:
        lines.append(offer.covers)
    lines.append(f"📍 {where}")
    return "\n".join(lines)


async def _held_offers(turn: Turn) -> set[int]:
    """Offers the family holds an unused code of (claiming again shows that code)."""
    held = await turn.session.scalars(
        select(Voucher.offer_id)
        .where(Voucher.family_id == turn.family.id, Voucher.status == "issued")
        .where(Voucher.expires_at > utcnow())
    )
    return set(held)


@registry.action("show_family_card")
async def show_family_card(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """A verified card: its number and QR, then the offers it opens."""
    card = await family_card_of(turn)
    if card is None or card.status != "verified":
        return ActionResult(goto="card")
    names = ", ".join(
        turn.t(CATEGORY_LABELS[c]) for c in FAMILY_CATEGORIES if c in (card.categories or [])
    )
    text = turn.t(
        CARD_VERIFIED,
        number=shown_number(card.number),
        categories=turn.t(CARD_CATEGORIES, categories=names) if names else "",
    )
    turn.replies.append(Reply(text=text, node=turn.position, image=card_qr(card.number)))
    offers = (await eligible_offers(turn, card))[:MAX_OFFERS]
    held = await _held_offers(turn)
    menu = []
    for offer, partner in offers:
        label = turn.t(OFFER_CLAIM, title=f"{partner.name}: {offer.title}")
        if len(label) > LABEL_MAX:
            label = label[: LABEL_MAX - 1].rstrip() + "…"
        menu.append([str(offer.id), label])
    turn.set_var(OFFER_MENU, menu)
    if not offers:
        return ActionResult(texts=[turn.t(CARD_NO_OFFERS)])
    lines = [turn.t(OFFERS_TITLE)]
    lines += [_offer_text(turn, o, p, o.id in held) for o, p in offers]
    return ActionResult(texts=["\n\n".join(lines)])


@registry.provider("card_offers")
def card_offers(turn: Turn) -> list[Option]:
    """The offers the card screen listed last (checked again when one is claimed)."""
    menu = turn.vars.get(OFFER_MENU)
    if not isinstance(menu, list):
        return []
    return [
        Option(str(item[0]), str(item[1]))
        for item in menu
        if isinstance(item, list) and len(item) == 2
    ]


@registry.action("claim_card_offer")
async def claim_card_offer(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Issue the chosen family-card offer to the family: the voucher with its QR."""
    key = str(turn.vars.get(OFFER) or "")
    turn.conversation.vars = {k: v for k, v in turn.vars.items() if k != OFFER}
    card = await family_card_of(turn)
    if card is None or card.status != "verified":
        return ActionResult(goto="card")
    offers = {offer.id: (offer, partner) for offer, partner in await eligible_offers(turn, card)}
    chosen = offers.get(int(key)) if key.isdigit() else None
    if chosen is None:
        return _claim_failed(turn, turn.t(CLAIM_REASONS["closed"]))  # a stale or forged button
    offer, partner = chosen
    now = utcnow()
    held = await turn.session.scalar(
        select(Voucher)
        .where(Voucher.family_id == turn.family.id, Voucher.offer_id == offer.id)
        .where(Voucher.status == "issued", Voucher.expires_at > now)
        .order_by(Voucher.id.desc())
        .limit(1)
    )
    if held is not None:
        turn.say(turn.t(CLAIM_HELD))
        turn.replies.extend(_voucher(turn, held, offer, partner))
        return _after_claim(turn)
    try:
        voucher = await service.issue(
            turn.session, offer_id=offer.id, family_id=turn.family.id, now=now
        )
    except service.IssueError as exc:
        return _claim_failed(turn, turn.t(CLAIM_REASONS.get(exc.reason, CLAIM_FAILED)))
    turn.event("voucher_claimed", offer.programme)
    turn.replies.extend(_voucher(turn, voucher, offer, partner))
    return _after_claim(turn)


def _after_claim(turn: Turn) -> ActionResult:
    """The voucher is above; the card's other offers stay one tap away."""
    turn.say(turn.t(CLAIMED), turn.services.engine.current_rows(turn))
    return ActionResult(stop=True)


def _claim_failed(turn: Turn, message: str) -> ActionResult:
    """Said kindly, with the card's offers still under it: another one may do."""
    turn.say(f"{message}\n\n{turn.t(CLAIM_OTHERS)}", turn.services.engine.current_rows(turn))
    return ActionResult(stop=True)


# -- /forget --------------------------------------------------------------------------
async def active_voucher_count(turn: Turn) -> int:
    """Unused, unexpired vouchers: their codes outlive the family's data."""
    return int(
        await turn.session.scalar(
            select(func.count())
            .select_from(Voucher)
            .where(Voucher.family_id == turn.family.id, Voucher.status == "issued")
            .where(Voucher.expires_at > utcnow())
        )
        or 0
    )
