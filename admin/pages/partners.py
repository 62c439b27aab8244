"""Partner organisations and their offers (the tables vouchers are issued from).

Only the centre's manager (admin) edits them; partner staff see their own
organisation read-only on /partner (partner_self.py). The Russian labels for
kinds, programmes and family categories live here and are shared with the
other pages of this area.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from admin import audit
from admin.web import (
    ADMIN,
    Page,
    form,
    not_found,
    page,
    redirect,
    render,
    staff,
    state,
    text,
    texts,
)
from bot.storage.models import (
    FAMILY_CATEGORIES,
    PARTNER_KINDS,
    PROGRAMMES,
    Offer,
    Partner,
    StaffUser,
)

ADMINS = frozenset({ADMIN})

PARTNER_KIND_NAMES = {
    "children_shop": "Детский магазин",
    "clothing_shop": "Магазин одежды",
    "salon": "Салон красоты, косметология, ателье",
    "business": "Компания (скидки по семейной карте)",
    "ngo": "Некоммерческая организация",
    "other": "Другое",
}
PROGRAMME_NAMES = {
    "life_certificate": "Сертификат жизни",
    "new_life": "Переодеваемся в новую жизнь",
    "family_card": "Семейная социальная карта",
}
PROGRAMME_HINTS = {
    "life_certificate": "товары для новорождённого: раз в месяц, через психологов роддомов "
    "и женских консультаций",
    "new_life": "одежда и услуги для женщин после насилия",
    "family_card": "скидки и льготы для семей с детьми",
}
CATEGORY_NAMES = {
    "large_family": "многодетная семья",
    "pregnancy": "беременность",
    "child_under_3": "ребёнок до 3 лет",
    "child_disability": "ребёнок с инвалидностью или ОВЗ",
    "low_income": "малоимущая семья",
    "single_parent": "одинокий родитель",
}
LABELS: dict[str, Any] = {
    "PARTNER_KIND_NAMES": PARTNER_KIND_NAMES,
    "PROGRAMME_NAMES": PROGRAMME_NAMES,
    "PROGRAMME_HINTS": PROGRAMME_HINTS,
    "CATEGORY_NAMES": CATEGORY_NAMES,
}
# The region lives on Moscow time; the database keeps UTC.
LOCAL_ZONE = ZoneInfo("Europe/Moscow")

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"[0-9+()\-\s.,доб]+")
MAX_ADDRESSES = 30


def local_time(moment: datetime | None) -> str:
    """A UTC time as the region's staff read it."""
    return moment.astimezone(LOCAL_ZONE).strftime("%d.%m.%Y %H:%M") if moment else "—"


def short_date(day: date | None) -> str:
    return day.strftime("%d.%m.%Y") if day else ""


def city_choices(request: Request) -> list[tuple[str, str]]:
    knowledge = state(request).services.knowledge
    return [(key, knowledge.city_name(key, "ru")) for key in knowledge.cities]


def city_key(request: Request, given: str) -> str:
    """A city id from an id or a Russian name (requests from the bot carry typed names)."""
    given = given.strip()
    choices = city_choices(request)
    for key, name in choices:
        if given == key or given.casefold() == name.casefold():
            return key
    return ""


def _context(request: Request, **extra: Any) -> dict[str, Any]:
    return {
        **LABELS,
        "cities": city_choices(request),
        "city_name": lambda key: (
            state(request).services.knowledge.city_name(key, "ru") if key else "—"
        ),
        "local_time": local_time,
        "short_date": short_date,
        **extra,
    }


# -- partners: reading and checking the form ------------------------------------------
PARTNER_FIELDS = ("name", "kind", "city", "phone", "email", "website", "contact_person", "notes")


def _partner_values(partner: Partner | None) -> dict[str, Any]:
    if partner is None:
        return {k: "" for k in PARTNER_FIELDS} | {"addresses": "", "active": True}
    return {k: getattr(partner, k) or "" for k in PARTNER_FIELDS} | {
        "addresses": "\n".join(str(a) for a in partner.addresses),
        "active": partner.active,
    }


def read_partner(
    request: Request, data: FormData
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(values as entered, errors by field, clean column values)."""
    values: dict[str, Any] = {k: text(data, k, 10_000) for k in PARTNER_FIELDS}
    values["addresses"] = text(data, "addresses", 20_000)
    values["active"] = data.get("active") == "1"
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Укажите название организации."
    elif len(values["name"]) > 200:
        errors["name"] = "Название длиннее 200 символов — сократите его."
    if values["kind"] not in PARTNER_KINDS:
        errors["kind"] = "Выберите вид организации из списка."
    if values["city"] and values["city"] not in dict(city_choices(request)):
        errors["city"] = "Выберите город из списка."
    addresses = [line.strip() for line in values["addresses"].splitlines() if line.strip()]
    if len(addresses) > MAX_ADDRESSES:
        errors["addresses"] = f"Не больше {MAX_ADDRESSES} адресов."
    elif any(len(a) > 300 for a in addresses):
        errors["addresses"] = "Каждый адрес — не длиннее 300 символов, по одному в строке."
    phone = values["phone"]
    if phone and (
        len(phone) > 64 or not PHONE.fullmatch(phone) or sum(c.isdigit() for c in phone) < 5
    ):
        errors["phone"] = (
            "Телефон: цифры, пробелы, +, скобки и дефисы, например +7 (8722) 55-55-55."
        )
    if values["email"] and (len(values["email"]) > 200 or not EMAIL.fullmatch(values["email"])):
        errors["email"] = "Электронная почта должна выглядеть как name@example.ru."
    website = values["website"]
    if website and not website.startswith(("http://", "https://")):
        website = f"https://{website}"
    if website and (len(website) > 300 or " " in website or "." not in website):
        errors["website"] = "Сайт: адрес вида https://example.ru, не длиннее 300 символов."
    if len(values["contact_person"]) > 200:
        errors["contact_person"] = "Контактное лицо — не длиннее 200 символов."
    if len(values["notes"]) > 5000:
        errors["notes"] = "Заметки — не длиннее 5000 символов."
    clean = {k: values[k] for k in PARTNER_FIELDS} | {
        "website": website,
        "addresses": addresses,
        "active": values["active"],
    }
    return values, errors, clean


def _partner_form(
    request: Request,
    partner: Partner | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "partners_form.html",
        status=status,
        **_context(request, partner=partner, values=values, errors=errors or {}),
    )


# -- partners: pages ------------------------------------------------------------------
async def partners_list(request: Request) -> Response:
    params = request.query_params
    kind, city, active = params.get("kind", ""), params.get("city", ""), params.get("active", "")
    offers = select(Offer.partner_id, func.count().label("n")).group_by(Offer.partner_id).subquery()
    people = (
        select(StaffUser.partner_id, func.count().label("n"))
        .where(StaffUser.partner_id.is_not(None))
        .group_by(StaffUser.partner_id)
        .subquery()
    )
    query = (
        select(Partner, func.coalesce(offers.c.n, 0), func.coalesce(people.c.n, 0))
        .outerjoin(offers, offers.c.partner_id == Partner.id)
        .outerjoin(people, people.c.partner_id == Partner.id)
        .order_by(Partner.active.desc(), Partner.name)
    )
    if kind in PARTNER_KINDS:
        query = query.where(Partner.kind == kind)
    if city:
        query = query.where(Partner.city == city)
    if active in ("1", "0"):
        query = query.where(Partner.active.is_(active == "1"))
    async with state(request).services.db.session() as session:
        rows = [
            (p, int(n_offers), int(n_staff))
            for p, n_offers, n_staff in await session.execute(query)
        ]
    return render(
        request,
        "partners_list.html",
        **_context(request, rows=rows, filters={"kind": kind, "city": city, "active": active}),
    )


async def partner_new_form(request: Request) -> Response:
    """The empty form; a request from an organisation may prefill it (?name=&city=)."""
    params = request.query_params
    values = _partner_values(None)
    values["name"] = params.get("name", "")[:200]
    values["city"] = city_key(request, params.get("city", ""))
    values["kind"] = params.get("kind", "") if params.get("kind") in PARTNER_KINDS else ""
    values["contact_person"] = params.get("contact_person", "")[:200]
    return _partner_form(request, None, values)


async def partner_create(request: Request) -> Response:
    values, errors, clean = read_partner(request, await form(request))
    if errors:
        return _partner_form(request, None, values, errors, 400)
    async with state(request).services.db.session() as session:
        partner = Partner(**clean)
        await audit.create(session, staff(request), "partner", partner)
    return redirect(request, f"/partners/{partner.id}", "Партнёр добавлен.")


async def partner_edit_form(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        partner = await session.get(Partner, request.path_params["partner_id"])
    if partner is None:
        return not_found(request)
    return _partner_form(request, partner, _partner_values(partner))


async def partner_update(request: Request) -> Response:
    data = await form(request)
    async with state(request).services.db.session() as session:
        partner = await session.get(Partner, request.path_params["partner_id"])
        if partner is None:
            return not_found(request)
        values, errors, clean = read_partner(request, data)
        if errors:
            return _partner_form(request, partner, values, errors, 400)
        await audit.update(session, staff(request), "update", "partner", partner, clean)
    return redirect(request, f"/partners/{partner.id}", "Изменения сохранены.")


async def partner_detail(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        partner = await session.get(Partner, request.path_params["partner_id"])
        if partner is None:
            return not_found(request)
        offers, people = await partner_contents(session, partner.id)
    return render(
        request,
        "partners_detail.html",
        **_context(request, partner=partner, offers=offers, people=people),
    )


async def partner_contents(
    session: AsyncSession, partner_id: int
) -> tuple[list[Offer], list[StaffUser]]:
    """A partner's offers and staff accounts (also shown to the partner's own staff)."""
    offers = list(
        (
            await session.scalars(
                select(Offer)
                .where(Offer.partner_id == partner_id)
                .order_by(Offer.active.desc(), Offer.programme, Offer.title)
            )
        ).all()
    )
    people = list(
        (
            await session.scalars(
                select(StaffUser)
                .where(StaffUser.partner_id == partner_id)
                .order_by(StaffUser.login)
            )
        ).all()
    )
    return offers, people


async def partner_set_active(request: Request) -> Response:
    """Deactivate or activate: the wanted state is posted, so a double click changes nothing."""
    wanted = (await form(request)).get("active") == "1"
    async with state(request).services.db.session() as session:
        partner = await session.get(Partner, request.path_params["partner_id"])
        if partner is None:
            return not_found(request)
        action = "activate" if wanted else "deactivate"
        await audit.update(session, staff(request), action, "partner", partner, {"active": wanted})
    message = (
        "Партнёр снова активен."
        if wanted
        else "Партнёр отключён: по его предложениям больше не выдаются сертификаты."
    )
    return redirect(request, f"/partners/{partner.id}", message)


# -- offers ---------------------------------------------------------------------------
OFFER_TEXT_FIELDS = ("programme", "title", "covers")
OFFER_NUMBER_FIELDS = ("value_rub", "discount_percent", "monthly_quota", "valid_days")


def _offer_values(offer: Offer | None) -> dict[str, Any]:
    if offer is None:
        return {k: "" for k in (*OFFER_TEXT_FIELDS, *OFFER_NUMBER_FIELDS)} | {
            "valid_days": "30",
            "starts_on": "",
            "ends_on": "",
            "categories": [],
            "active": True,
        }
    return (
        {k: getattr(offer, k) for k in OFFER_TEXT_FIELDS}
        | {
            k: "" if getattr(offer, k) is None else str(getattr(offer, k))
            for k in OFFER_NUMBER_FIELDS
        }
        | {
            "starts_on": offer.starts_on.isoformat() if offer.starts_on else "",
            "ends_on": offer.ends_on.isoformat() if offer.ends_on else "",
            "categories": list(offer.categories),
            "active": offer.active,
        }
    )


def _number(raw: str, low: int, high: int) -> int | None:
    """A whole number in [low, high], or None when it is not one (spaces allowed: 3 000)."""
    digits = raw.replace(" ", "").replace("\u00a0", "")
    if not re.fullmatch(r"\d{1,9}", digits):
        return None
    value = int(digits)
    return value if low <= value <= high else None


def _day(raw: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    return None


def read_offer(data: FormData) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(values as entered, errors by field, clean column values)."""
    values: dict[str, Any] = {k: text(data, k, 10_000) for k in OFFER_TEXT_FIELDS}
    values |= {k: text(data, k, 40) for k in (*OFFER_NUMBER_FIELDS, "starts_on", "ends_on")}
    values["categories"] = texts(data, "categories")
    values["active"] = data.get("active") == "1"
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {"active": values["active"]}
    if values["programme"] not in PROGRAMMES:
        errors["programme"] = "Выберите программу."
    if not values["title"]:
        errors["title"] = "Укажите название предложения — его увидит семья."
    elif len(values["title"]) > 200:
        errors["title"] = "Название длиннее 200 символов — сократите его."
    if not values["covers"]:
        errors["covers"] = "Опишите, что получает семья."
    elif len(values["covers"]) > 3000:
        errors["covers"] = "Описание — не длиннее 3000 символов."
    limits = {
        "value_rub": (0, 10_000_000, "Номинал — целое число рублей, 0 или больше."),
        "discount_percent": (1, 100, "Скидка — целое число процентов от 1 до 100."),
        "monthly_quota": (
            1,
            100_000,
            "Лимит в месяц — целое число от 1; оставьте пустым, если без ограничения.",
        ),
        "valid_days": (1, 365, "Срок действия сертификата — от 1 до 365 дней."),
    }
    for key, (low, high, message) in limits.items():
        raw = values[key]
        if not raw:
            if key == "valid_days":
                errors[key] = message
            clean[key] = None
            continue
        clean[key] = _number(raw, low, high)
        if clean[key] is None:
            errors[key] = message
    for key in ("starts_on", "ends_on"):
        clean[key] = _day(values[key]) if values[key] else None
        if values[key] and clean[key] is None:
            errors[key] = "Дата в виде ДД.ММ.ГГГГ."
    if clean["starts_on"] and clean["ends_on"] and clean["ends_on"] < clean["starts_on"]:
        errors["ends_on"] = "Дата окончания не может быть раньше даты начала."
    unknown = set(values["categories"]) - set(FAMILY_CATEGORIES)
    if unknown:
        errors["categories"] = "Выберите категории семей из списка."
    clean |= {k: values[k] for k in OFFER_TEXT_FIELDS}
    # Kept in the list's order, so a resave without changes is not a change.
    clean["categories"] = [c for c in FAMILY_CATEGORIES if c in values["categories"]]
    return values, errors, clean


def _offer_form(
    request: Request,
    partner: Partner,
    offer: Offer | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "offer_form.html",
        status=status,
        **_context(
            request,
            partner=partner,
            offer=offer,
            values=values,
            errors=errors or {},
            programmes=PROGRAMMES,
            categories=FAMILY_CATEGORIES,
        ),
    )


async def offer_new_form(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        partner = await session.get(Partner, request.path_params["partner_id"])
    if partner is None:
        return not_found(request)
    return _offer_form(request, partner, None, _offer_values(None))


async def offer_create(request: Request) -> Response:
    data = await form(request)
    async with state(request).services.db.session() as session:
        partner = await session.get(Partner, request.path_params["partner_id"])
        if partner is None:
            return not_found(request)
        values, errors, clean = read_offer(data)
        if errors:
            return _offer_form(request, partner, None, values, errors, 400)
        offer = Offer(partner_id=partner.id, **clean)
        await audit.create(session, staff(request), "offer", offer)
    return redirect(request, f"/partners/{partner.id}", "Предложение добавлено.")


async def _offer_and_partner(
    session: AsyncSession, request: Request
) -> tuple[Offer, Partner] | None:
    offer = await session.get(Offer, request.path_params["offer_id"])
    if offer is None:
        return None
    partner = await session.get(Partner, offer.partner_id)
    assert partner is not None  # the foreign key holds
    return offer, partner


async def offer_edit_form(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        found = await _offer_and_partner(session, request)
    if found is None:
        return not_found(request)
    offer, partner = found
    return _offer_form(request, partner, offer, _offer_values(offer))


async def offer_update(request: Request) -> Response:
    data = await form(request)
    async with state(request).services.db.session() as session:
        found = await _offer_and_partner(session, request)
        if found is None:
            return not_found(request)
        offer, partner = found
        values, errors, clean = read_offer(data)
        if errors:
            return _offer_form(request, partner, offer, values, errors, 400)
        await audit.update(session, staff(request), "update", "offer", offer, clean)
    return redirect(request, f"/partners/{partner.id}", "Предложение сохранено.")


async def offer_toggle(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        offer = await session.get(Offer, request.path_params["offer_id"])
        if offer is None:
            return not_found(request)
        action = "suspend" if offer.active else "activate"
        await audit.update(
            session, staff(request), action, "offer", offer, {"active": not offer.active}
        )
    message = "Предложение снова действует." if offer.active else "Предложение приостановлено."
    return redirect(request, f"/partners/{offer.partner_id}", message)


async def offer_delete(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        offer = await session.get(Offer, request.path_params["offer_id"])
        if offer is None:
            return not_found(request)
        partner_id, before = offer.partner_id, audit.snapshot(offer)
        try:
            # A savepoint: if issued vouchers still point at the offer, the rest stays usable.
            async with session.begin_nested():
                await session.delete(offer)
                await session.flush()
        except IntegrityError:
            return redirect(
                request,
                f"/partners/{partner_id}",
                "Удалить нельзя: по предложению уже выдавались сертификаты. Приостановите его.",
            )
        await audit.record(session, staff(request), "delete", "offer", before["id"], before=before)
    return redirect(request, f"/partners/{partner_id}", "Предложение удалено.")


ROUTES: list[Page] = [
    page("/partners", partners_list, ADMINS),
    page("/partners/new", partner_new_form, ADMINS),
    page("/partners/new", partner_create, ADMINS, post=True),
    page("/partners/{partner_id:int}", partner_detail, ADMINS),
    page("/partners/{partner_id:int}/edit", partner_edit_form, ADMINS),
    page("/partners/{partner_id:int}/edit", partner_update, ADMINS, post=True),
    page("/partners/{partner_id:int}/active", partner_set_active, ADMINS, post=True),
    page("/partners/{partner_id:int}/offers/new", offer_new_form, ADMINS),
    page("/partners/{partner_id:int}/offers/new", offer_create, ADMINS, post=True),
    page("/offers/{offer_id:int}/edit", offer_edit_form, ADMINS),
    page("/offers/{offer_id:int}/edit", offer_update, ADMINS, post=True),
    page("/offers/{offer_id:int}/toggle", offer_toggle, ADMINS, post=True),
    page("/offers/{offer_id:int}/delete", offer_delete, ADMINS, post=True),
]
