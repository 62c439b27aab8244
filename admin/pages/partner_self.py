"""The partner's own organisation, for its staff: details, offers and colleagues.

Read-only: the centre's manager changes partners and offers. The organisation
comes only from the logged-in account, so no address leads to another partner.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from admin.pages.partners import LABELS, local_time, partner_contents, short_date
from admin.web import PARTNER, Page, page, render, staff, state
from bot.storage.models import Offer, Partner, StaffUser


async def own_partner(request: Request) -> Response:
    who = staff(request)
    services = state(request).services
    partner = None
    offers: list[Offer] = []
    people: list[StaffUser] = []
    if who.user.partner_id is not None:
        async with services.db.session() as session:
            partner = await session.get(Partner, who.user.partner_id)
            if partner is not None:
                offers, people = await partner_contents(session, partner.id)
    return render(
        request,
        "partner_self.html",
        **LABELS,
        partner=partner,
        offers=offers,
        colleagues=[p for p in people if p.active],
        city=services.knowledge.city_name(partner.city, "ru") if partner and partner.city else "",
        local_time=local_time,
        short_date=short_date,
    )


ROUTES: list[Page] = [page("/partner", own_partner, frozenset({PARTNER}))]
