"""The first page after login: what needs this person's attention now."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from admin.web import EVERYONE, PARTNER, Page, page, render, staff, state
from bot.core.cases import OPEN_STATUSES
from bot.storage.models import Case, KnowledgeEntry, Offer, OrgRequest, Partner, utcnow

STALE_AFTER = timedelta(days=183)  # "not reviewed for more than 6 months"


async def home(request: Request) -> Response:
    who = staff(request)
    figures: dict[str, int] = {}
    partner = None
    offers: list[Offer] = []
    async with state(request).services.db.session() as session:
        if who.role == PARTNER:
            partner = await session.get(Partner, who.user.partner_id or 0)
            if partner is not None:
                offers = list(
                    (
                        await session.scalars(
                            select(Offer)
                            .where(Offer.partner_id == partner.id)
                            .order_by(Offer.programme, Offer.title)
                        )
                    ).all()
                )
        else:
            waiting = select(func.count()).select_from(Case).where(Case.status.in_(OPEN_STATUSES))
            if who.role == "consultant":
                waiting = waiting.where(Case.specialty.in_(who.user.specialties))
            figures["cases"] = int(await session.scalar(waiting) or 0)
            figures["urgent"] = int(
                await session.scalar(waiting.where(Case.priority == "urgent")) or 0
            )
            stale_before = (utcnow() - STALE_AFTER).date()
            figures["stale"] = int(
                await session.scalar(
                    select(func.count())
                    .select_from(KnowledgeEntry)
                    .where(KnowledgeEntry.reviewed < stale_before)
                )
                or 0
            )
            figures["requests"] = int(
                await session.scalar(
                    select(func.count()).select_from(OrgRequest).where(OrgRequest.status == "new")
                )
                or 0
            )
    return render(request, "home.html", figures=figures, partner=partner, offers=offers)


ROUTES: list[Page] = [page("/", home, EVERYONE)]
