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

from admin import audit
from admin.pages.partners import LABELS, local_time, partner_contents, short_date
from admin.web import PARTNER, Page, page, redirect, render, staff, state
from bot.storage.models import Offer, Partner, StaffUser
from bot.vouchers import staff_link

PARTNER_ONLY = frozenset({PARTNER})
ALREADY_LINKED = "Telegram уже привязан. Чтобы привязать другой, сначала отвяжите этот."
NO_PARTNER = (
    "Учётная запись не привязана к организации-партнёру: проверять коды в Telegram пока нельзя."
)
UNLINKED = "Telegram отвязан: бот больше не примет от него команду /check."
NOTHING_TO_UNLINK = "Telegram не был привязан."


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
            me = await session.get(StaffUser, who.user.id)
            linked = me is not None and me.telegram_user_id is not None
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
        link_minutes=int(staff_link.LIFETIME.total_seconds() // 60),
        **extra,
    )


async def partner_page(request: Request) -> Response:
    return await own_partner(request)


async def telegram_link(request: Request) -> Response:
    """A one-time code for `/link` in the bot: shown in this answer only, kept hashed."""
    who = staff(request)
    if who.user.partner_id is None:
        return redirect(request, "/partner", flash=NO_PARTNER)
    async with state(request).services.db.session() as session:
        user = await session.get(StaffUser, who.user.id)
        assert user is not None
        if user.telegram_user_id is not None:
            return redirect(request, "/partner", flash=ALREADY_LINKED)
        code, expires = staff_link.offer_code(user)
        # The code itself never goes to the log: with it anyone could link.
        await audit.record(
            session,
            who,
            "telegram_link",
            "staff_user",
            user.id,
            after={"code_issued": True, "expires": expires.isoformat()},
        )
    return await own_partner(request, link_code=code)


async def telegram_unlink(request: Request) -> Response:
    who = staff(request)
    async with state(request).services.db.session() as session:
        user = await session.get(StaffUser, who.user.id)
        assert user is not None
        if not staff_link.unlink(user):
            return redirect(request, "/partner", flash=NOTHING_TO_UNLINK)
        await audit.record(
            session,
            who,
            "telegram_unlink",
            "staff_user",
            user.id,
            before={"linked": True},
            after={"linked": False},
        )
    return redirect(request, "/partner", flash=UNLINKED)


ROUTES: list[Page] = [
    page("/partner", partner_page, PARTNER_ONLY, name="own_partner"),
    page("/partner/telegram", telegram_link, PARTNER_ONLY, post=True),
    page("/partner/telegram/unlink", telegram_unlink, PARTNER_ONLY, post=True),
]
