"""Cases waiting for a person, most urgent first (consultants see their specialties),
and issuing a voucher (Certificate of Life, clothing and services) to a case's family.

Taking, answering and closing a case come with the live consultant side.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case as when
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from admin.pages import vouchers
from admin.pages.partners import PROGRAMME_NAMES
from admin.web import (
    ADMIN,
    CONSULTANT,
    Page,
    forbidden,
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
from bot.core.cases import OPEN_STATUSES, card
from bot.storage.models import Case, Family, Offer, utcnow
from bot.vouchers.service import IssueError

ROLES = frozenset({ADMIN, CONSULTANT})
PRIORITY_ORDER = when((Case.priority == "urgent", 0), (Case.priority == "high", 1), else_=2)
LIMIT = 200


async def show(
    request: Request, status: int = 200, problem: tuple[int, str] | None = None
) -> Response:
    """The queue; `problem` = (case id, why issuing failed) to show on that case."""
    who = staff(request)
    query = (
        select(Case, Family.id)
        .outerjoin(Family, Family.id == Case.family_id)
        .where(Case.status.in_(OPEN_STATUSES))
        .order_by(PRIORITY_ORDER, Case.created_at)
        .limit(LIMIT)
    )
    if who.role == CONSULTANT:
        query = query.where(Case.specialty.in_(who.user.specialties))
    services = state(request).services
    now = utcnow()
    async with services.db.session() as session:
        found = list((await session.execute(query)).all())
        choices = await vouchers.issue_choices(session, who.user, services.knowledge, now)
    rows = [
        {
            "case": c,
            "card": card(c),
            "waiting_hours": (now - c.created_at).total_seconds() / 3600,
            "may_issue": bool(choices) and family_id is not None,
            "quiet": vouchers.SAFE_EXIT in c.signals,
            "problem": problem[1] if problem and problem[0] == c.id else "",
        }
        for c, family_id in found
    ]
    groups: dict[str, list[vouchers.Choice]] = {}
    for choice in choices:
        groups.setdefault(choice.programme, []).append(choice)
    context: dict[str, Any] = {
        "rows": rows,
        "limit": LIMIT,
        "choice_groups": groups,
        "PROGRAMME_NAMES": PROGRAMME_NAMES,
    }
    return render(request, "cases.html", status=status, **context)


async def cases(request: Request) -> Response:
    return await show(request)


async def case_issue(request: Request) -> Response:
    """Issue a voucher of the chosen offer to the case's family and send it to them."""
    who = staff(request)
    case_id: int = request.path_params["case_id"]
    offer_id = int_param(text(await form(request), "offer_id", 12))
    services = state(request).services
    try:
        async with services.db.session() as session:
            case = await session.get(Case, case_id)
            if case is None or await session.get(Family, case.family_id) is None:
                return not_found(request)
            if case.status not in OPEN_STATUSES:
                raise IssueError("Обращение уже закрыто: выдавать по нему сертификат нельзя.")
            if not vouchers.case_in_scope(who.user, case):
                return forbidden(request)
            if not vouchers.issuable(who.user):
                return forbidden(request)
            offer = await session.get(Offer, offer_id) if offer_id else None
            if offer is None:
                raise IssueError("Выберите предложение из списка.")
            if not vouchers.may_issue(who.user, offer.programme):
                return forbidden(request)
            issued = await vouchers.issue_for_case(session, request, case, offer)
    except IssueError as error:
        return await show(request, 400, (case_id, str(error)))
    delivered = await vouchers.deliver(services, issued)
    return redirect(request, "/cases", vouchers.issued_flash(issued, delivered))


ROUTES: list[Page] = [
    page("/cases", cases, ROLES),
    page("/cases/{case_id:int}/vouchers", case_issue, ROLES, post=True),
]
