"""The partner's own organisation, for its staff: details, offers and colleagues.

Read-only: the centre's manager changes partners and offers. The organisation
comes only from the logged-in account, so no address leads to another partner.
One thing staff manage themselves: linking their Telegram, to check codes with
`/check CODE` in the bot (see bot/vouchers/staff_link.py).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from admin import telegram_link as linking
from admin.pages.partners import LABELS, local_time, partner_contents, short_date
from admin.web import PARTNER, Page, page, redirect, render, staff, state
from bot.storage.models import Offer, Partner, StaffUser

PARTNER_ONLY = frozenset({PARTNER})
NO_PARTNER = (
    "Учётная запись не привязана к организации-партнёру: проверять коды в Telegram пока нельзя."
)
UNLINKED = "Telegram отвязан: бот больше не примет от него команду /check."


async def own_partner(request: Request, status: int = 200, **extra: Any) -> Response:
    who = staff(request)
    services = state(request).services
    partner = None
    offers: list[Offer] = []
    people: list[StaffUser] = []
    linked = False
    if who.user.partner_id is not None:
        async with services.db.session() as session:
            partner = await session.get(Partner, who.user.partner_id)
            if partner is not None:
                offers, people = await partner_contents(session, partner.id)
            linked = await linking.is_linked(session, who.user.id)
    return render(
        request,
        "partner_self.html",
        status=status,
        **LABELS,
        partner=partner,
        offers=offers,
        colleagues=[p for p in people if p.active],
        city=services.knowledge.city_name(partner.city, "ru") if partner and partner.city else "",
        local_time=local_time,
        short_date=short_date,
        telegram_linked=linked,
        link_minutes=linking.LINK_MINUTES,
        **extra,
    )


async def partner_page(request: Request) -> Response:
    return await own_partner(request)


async def telegram_link(request: Request) -> Response:
    """A one-time code for `/link` in the bot: shown in this answer only, kept hashed."""
    if staff(request).user.partner_id is None:
        return redirect(request, "/partner", flash=NO_PARTNER)
    code = await linking.issue_code(request)
    if code is None:
        return redirect(request, "/partner", flash=linking.ALREADY_LINKED)
    return await own_partner(request, link_code=code)


async def telegram_unlink(request: Request) -> Response:
    if not await linking.unlink(request):
        return redirect(request, "/partner", flash=linking.NOTHING_TO_UNLINK)
    return redirect(request, "/partner", flash=UNLINKED)


ROUTES: list[Page] = [
    page("/partner", partner_page, PARTNER_ONLY, name="own_partner"),
    page("/partner/telegram", telegram_link, PARTNER_ONLY, post=True),
    page("/partner/telegram/unlink", telegram_unlink, PARTNER_ONLY, post=True),
]
