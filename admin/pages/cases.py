"""Cases waiting for a person, most urgent first (consultants see their specialties).

Read-only here: taking, answering and closing a case come with the live
consultant side.
"""

from __future__ import annotations

from sqlalchemy import case as when
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from admin.web import ADMIN, CONSULTANT, Page, page, render, staff, state
from bot.core.cases import OPEN_STATUSES, card
from bot.storage.models import Case, utcnow

PRIORITY_ORDER = when((Case.priority == "urgent", 0), (Case.priority == "high", 1), else_=2)
LIMIT = 200


async def cases(request: Request) -> Response:
    who = staff(request)
    query = (
        select(Case)
        .where(Case.status.in_(OPEN_STATUSES))
        .order_by(PRIORITY_ORDER, Case.created_at)
        .limit(LIMIT)
    )
    if who.role == CONSULTANT:
        query = query.where(Case.specialty.in_(who.user.specialties))
    async with state(request).services.db.session() as session:
        found = list((await session.scalars(query)).all())
    now = utcnow()
    rows = [
        {"case": c, "card": card(c), "waiting_hours": (now - c.created_at).total_seconds() / 3600}
        for c in found
    ]
    return render(request, "cases.html", rows=rows, limit=LIMIT)


ROUTES: list[Page] = [page("/cases", cases, frozenset({ADMIN, CONSULTANT}))]
