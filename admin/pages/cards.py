"""Family social cards: the centre's manager checks what a family declared in the
bot (large family, pregnancy, a child under 3, …) and confirms or declines the
card; the family is told either way, kindly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case as when
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from admin import audit
from admin.pages.partners import CATEGORY_NAMES, local_time
from admin.web import (
    ADMIN,
    Page,
    form,
    int_param,
    not_found,
    page,
    redirect,
    render,
    staff,
    state,
    text,
)
from bot.core.i18n import N_
from bot.core.services import Services
from bot.core.turn import Turn
from bot.core.types import Reply
from bot.storage.models import CARD_STATUSES, FamilyCard, utcnow

ADMINS = frozenset({ADMIN})
STATUS_NAMES = {"pending": "ждёт проверки", "verified": "подтверждена", "rejected": "отклонена"}
PENDING_FIRST = when((FamilyCard.status == "pending", 0), else_=1)
PER_PAGE = 50
NOTE_LIMIT = 1000

VERIFIED = N_(
    "✅ Ваша семейная карта №{number} подтверждена. Откройте «Мои сертификаты» в меню, "
    "чтобы увидеть предложения партнёров."
)
REJECTED = N_(
    "Спасибо, что подали заявку на семейную карту. К сожалению, сейчас мы не можем её "
    "подтвердить.\n\n{note}\n\nЕсли что-то изменилось или мы ошиблись, подайте заявку ещё раз "
    "или напишите консультанту центра — мы поможем разобраться."
)


async def tell_family(services: Services, card_id: int) -> bool:
    """Tell the family the decision on its card (after the decision is committed)."""
    async with services.db.session() as session:
        card = await session.get(FamilyCard, card_id)
        if card is None or card.status == "pending":
            return False
        template = VERIFIED if card.status == "verified" else REJECTED
        values = {"number": card.number, "note": card.note}
        family_id, outcome = card.family_id, card.status

    def compose(language: str) -> Sequence[Reply]:
        message = Turn.fill(services.translator.gettext(language, template), values)
        return [Reply(text=message, node=f"family_card:{outcome}")]

    return await services.notifier.to_family(family_id, compose)


def _told(delivered: bool) -> str:
    return (
        " Семья получила сообщение."
        if delivered
        else " Сообщение не доставлено: семья сейчас не на связи в мессенджере."
    )


async def cards_list(
    request: Request, status: int = 200, error: tuple[int, str, str] | None = None
) -> Response:
    """The applications, pending first; `error` = (card id, message, typed note)."""
    params = request.query_params
    shown = params.get("status", "")
    shown = shown if shown in CARD_STATUSES else ""
    page_no = max(int_param(params.get("page")) or 1, 1)
    query = select(FamilyCard)
    if shown:
        query = query.where(FamilyCard.status == shown)
    services = state(request).services
    async with services.db.session() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        cards = list(
            (
                await session.scalars(
                    query.order_by(PENDING_FIRST, FamilyCard.applied_at, FamilyCard.id)
                    .limit(PER_PAGE)
                    .offset((page_no - 1) * PER_PAGE)
                )
            ).all()
        )
        pending = int(
            await session.scalar(
                select(func.count()).select_from(FamilyCard).where(FamilyCard.status == "pending")
            )
            or 0
        )
    knowledge = services.knowledge
    context: dict[str, Any] = {
        "cards": cards,
        "shown": shown,
        "total": total,
        "pending": pending,
        "page": page_no,
        "pages": max((total + PER_PAGE - 1) // PER_PAGE, 1),
        "page_link": lambda n: f"/cards?status={shown}&page={n}",
        "statuses": CARD_STATUSES,
        "STATUS_NAMES": STATUS_NAMES,
        "CATEGORY_NAMES": CATEGORY_NAMES,
        "city_name": lambda key: knowledge.city_name(key, "ru") if key else "—",
        "local_time": local_time,
        "error": error,
    }
    return render(request, "cards_list.html", status=status, **context)


async def cards(request: Request) -> Response:
    return await cards_list(request)


async def _decide(request: Request, decision: str) -> Response:
    card_id: int = request.path_params["card_id"]
    note = text(await form(request), "note", NOTE_LIMIT + 1)
    if decision == "rejected" and not note:
        return await cards_list(
            request, 400, (card_id, "Напишите причину: семья увидит её в сообщении.", note)
        )
    if len(note) > NOTE_LIMIT:
        return await cards_list(
            request, 400, (card_id, f"Причина — не длиннее {NOTE_LIMIT} знаков.", note)
        )
    services = state(request).services
    who = staff(request)
    async with services.db.session() as session:
        card = await session.scalar(
            select(FamilyCard).where(FamilyCard.id == card_id).with_for_update()
        )
        if card is None:
            return not_found(request)
        if card.status == decision:
            return redirect(
                request, "/cards", f"Карта №{card.number} уже {STATUS_NAMES[decision]}."
            )
        # The family's categories and id stay out of the log: the decision is the change.
        before = {"status": card.status, "note": card.note}
        card.status = decision
        card.note = note if decision == "rejected" else ""
        card.decided_at = utcnow()
        card.decided_by = who.user.id
        await audit.record(
            session,
            who,
            "verify" if decision == "verified" else "reject",
            "family_card",
            card.id,
            before=before,
            after={"status": card.status, "note": card.note},
        )
        number = card.number
    delivered = await tell_family(services, card_id)
    done = "подтверждена" if decision == "verified" else "отклонена"
    return redirect(request, "/cards", f"Карта №{number} {done}.{_told(delivered)}")


async def card_verify(request: Request) -> Response:
    return await _decide(request, "verified")


async def card_reject(request: Request) -> Response:
    return await _decide(request, "rejected")


ROUTES: list[Page] = [
    page("/cards", cards, ADMINS),
    page("/cards/{card_id:int}/verify", card_verify, ADMINS, post=True),
    page("/cards/{card_id:int}/reject", card_reject, ADMINS, post=True),
]
