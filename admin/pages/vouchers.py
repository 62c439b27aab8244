"""Vouchers on the staff side: who may issue what, the offers to choose from with
this month's pools, the list of issued vouchers, revoking and re-issuing.

Issuing itself happens from a case (cases.py); the rules of quotas and limits
are bot/vouchers/service.py's. Staff see only a code's last symbols here: the
full code is the family's, shown to staff only when the family could not be
reached and it has to be handed over in person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy import case as when
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from admin import audit
from admin.pages.partners import PROGRAMME_NAMES, local_time
from admin.web import (
    ADMIN,
    CONSULTANT,
    Page,
    forbidden,
    int_param,
    not_found,
    page,
    redirect,
    render,
    staff,
    state,
)
from bot.core.services import Services
from bot.knowledge.base import KnowledgeBase
from bot.storage.models import (
    VOUCHER_STATUSES,
    Case,
    Family,
    Offer,
    Partner,
    StaffUser,
    Voucher,
    utcnow,
)
from bot.vouchers import service
from bot.vouchers.codes import display
from bot.vouchers.messages import tell

ROLES = frozenset({ADMIN, CONSULTANT})
# Programmes staff hand to a family, and which consultants may: a psychologist
# gives a Certificate of Life to a woman who chose to keep her pregnancy;
# clothing and services after violence come through crisis, psychological or
# social work. The regional manager (admin) may issue both. Family-card
# offers are claimed by families themselves.
ISSUERS: dict[str, frozenset[str]] = {
    "life_certificate": frozenset({"psychologist"}),
    "new_life": frozenset({"crisis", "psychologist", "social"}),
}
STATUS_NAMES = {
    "issued": "действует",
    "redeemed": "использован",
    "expired": "истёк",
    "revoked": "отозван",
}
PER_PAGE = 50
MONTH_NAMES = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip
SAFE_EXIT = "safe_exit"


def may_issue(user: StaffUser, programme: str) -> bool:
    """Whether this staff member may issue vouchers of `programme` (the one rule)."""
    if not user.active or programme not in ISSUERS:
        return False
    if user.role == ADMIN:
        return True
    if user.role == CONSULTANT:
        return bool(ISSUERS[programme] & set(user.specialties))
    return False


def issuable(user: StaffUser) -> list[str]:
    """The programmes this person may issue, in a fixed order."""
    return [p for p in ISSUERS if may_issue(user, p)]


def case_in_scope(user: StaffUser, case: Case) -> bool:
    """A consultant works on cases of their specialties; the manager on all."""
    return user.role == ADMIN or (user.role == CONSULTANT and case.specialty in user.specialties)


def may_manage(user: StaffUser, voucher: Voucher, case: Case | None) -> bool:
    """Revoking and re-issuing: the manager, or a consultant who may issue the
    programme and issued the voucher or works on its case."""
    if user.role == ADMIN and user.active:
        return True
    if not may_issue(user, voucher.programme):
        return False
    return voucher.issued_by == user.id or (case is not None and case_in_scope(user, case))


def month_title(month: str) -> str:
    """ "2026-11" → "ноябрь 2026"."""
    return f"{MONTH_NAMES[int(month[5:]) - 1]} {month[:4]}"


def tail(code: str) -> str:
    """Only the last symbols of a code: enough to tell vouchers apart on the phone."""
    return "…" + code[-4:]


# -- pools ---------------------------------------------------------------------------
async def used_this_month(
    session: AsyncSession, month: str, offer_ids: list[int] | None = None
) -> dict[int, int]:
    """Vouchers counted against each offer's quota this month, in one GROUP BY."""
    query = (
        select(Voucher.offer_id, func.count())
        .where(Voucher.month == month, Voucher.status.in_(service.COUNTED))
        .group_by(Voucher.offer_id)
    )
    if offer_ids is not None:
        query = query.where(Voucher.offer_id.in_(offer_ids))
    return {offer_id: int(count) for offer_id, count in (await session.execute(query)).all()}


@dataclass(frozen=True, slots=True)
class Pool:
    offer: Offer
    partner: Partner
    used: int

    @property
    def remaining(self) -> int | None:
        quota = self.offer.monthly_quota
        return None if quota is None else max(quota - self.used, 0)

    @property
    def exhausted(self) -> bool:
        return self.remaining == 0

    @property
    def text(self) -> str:
        quota = self.offer.monthly_quota
        if quota is None:
            return f"без ограничения, выдано {self.used}"
        return f"осталось {self.remaining} из {quota}"


def _open_on(today: date) -> ColumnElement[bool]:
    return and_(
        Offer.active.is_(True),
        Partner.active.is_(True),
        or_(Offer.starts_on.is_(None), Offer.starts_on <= today),
        or_(Offer.ends_on.is_(None), Offer.ends_on >= today),
    )


async def pools(
    session: AsyncSession,
    now: datetime,
    programmes: list[str] | None = None,
    open_only: bool = True,
) -> list[Pool]:
    """Offers with this month's use of their quota: two queries, whatever the count."""
    query = (
        select(Offer, Partner)
        .join(Partner, Partner.id == Offer.partner_id)
        .order_by(Partner.name, Offer.programme, Offer.title, Offer.id)
    )
    if open_only:
        query = query.where(_open_on(service.local_day(now)))
    if programmes is not None:
        query = query.where(Offer.programme.in_(programmes))
    rows = (await session.execute(query)).all()
    used = await used_this_month(session, service.quota_month(now))
    return [Pool(offer, partner, used.get(offer.id, 0)) for offer, partner in rows]


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of the issue form."""

    offer_id: int
    programme: str
    label: str
    disabled: bool


async def issue_choices(
    session: AsyncSession, user: StaffUser, knowledge: KnowledgeBase, now: datetime
) -> list[Choice]:
    """The open offers this person may issue, each with its partner, city and pool."""
    programmes = issuable(user)
    if not programmes:
        return []
    choices = []
    for pool in await pools(session, now, programmes):
        city = knowledge.city_name(pool.partner.city, "ru") if pool.partner.city else ""
        where = f"{pool.partner.name}, {city}" if city else pool.partner.name
        state_text = "в этом месяце закончились" if pool.exhausted else pool.text
        choices.append(
            Choice(
                pool.offer.id,
                pool.offer.programme,
                f"{where} — {pool.offer.title} ({state_text})",
                pool.exhausted,
            )
        )
    return choices


# -- issuing from a case -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Issued:
    voucher_id: int
    code: str
    quiet: bool  # the family wiped its chat: we must not write first


def issued_flash(issued: Issued, delivered: bool) -> str:
    if delivered:
        return "Сертификат выдан, семья получила его в мессенджере."
    code = display(issued.code)
    if issued.quiet:
        return (
            "Сертификат выдан. Сообщение семье не отправлено: семья нажимала «Быстрый выход», "
            f"писать ей первыми нельзя. Передайте код лично: {code}"
        )
    return (
        "Сертификат выдан, но сообщение не доставлено: семья не на связи — "
        f"код можно передать лично: {code}"
    )


async def deliver(services: Services, issued: Issued) -> bool:
    """Send the family its voucher (after the commit), unless it must stay quiet."""
    if issued.quiet:
        return False
    return await tell(services, issued.voucher_id, "issued")


async def issue_for_case(
    session: AsyncSession, request: Request, case: Case, offer: Offer
) -> Issued:
    """Issue and audit, in the caller's transaction; raises service.IssueError."""
    who = staff(request)
    voucher = await service.issue(
        session,
        offer_id=offer.id,
        family_id=case.family_id,
        case_id=case.id,
        issued_by=who.user.id,
    )
    await audit.record(
        session,
        who,
        "issue",
        "voucher",
        voucher.id,
        after={
            "offer_id": offer.id,
            "programme": voucher.programme,
            "expires_at": voucher.expires_at.isoformat(),
        },
    )
    family = await session.get(Family, case.family_id)
    quiet = SAFE_EXIT in case.signals or (family is not None and family.quiet_at is not None)
    return Issued(voucher.id, voucher.code, quiet)


# -- the list ------------------------------------------------------------------------
def effective_status(now: datetime) -> ColumnElement[str]:
    """A voucher past its date is expired even before the nightly sweep marks it."""
    return when(
        (and_(Voucher.status == "issued", Voucher.expires_at <= now), "expired"),
        else_=Voucher.status,
    )


def scope(query: Any, user: StaffUser) -> Any:
    """A consultant sees vouchers they issued and those of cases of their specialties."""
    if user.role == ADMIN:
        return query
    own_cases = select(Case.id).where(Case.specialty.in_(user.specialties))
    return query.where(or_(Voucher.issued_by == user.id, Voucher.case_id.in_(own_cases)))


def _filters(request: Request) -> dict[str, Any]:
    params = request.query_params
    programme = params.get("programme", "")
    status = params.get("status", "")
    month = params.get("month", "")
    valid_month = len(month) == 7 and month[4] == "-" and month.replace("-", "").isdigit()
    return {
        "programme": programme if programme in PROGRAMME_NAMES else "",
        "partner": int_param(params.get("partner")),
        "status": status if status in VOUCHER_STATUSES else "",
        "month": month if valid_month else "",
    }


async def vouchers_list(request: Request) -> Response:
    who = staff(request)
    filters = _filters(request)
    page_no = max(int_param(request.query_params.get("page")) or 1, 1)
    now = utcnow()
    status = effective_status(now)
    query = scope(
        select(Voucher, Offer, Partner, status.label("shown"))
        .join(Offer, Offer.id == Voucher.offer_id)
        .join(Partner, Partner.id == Voucher.partner_id),
        who.user,
    )
    if filters["programme"]:
        query = query.where(Voucher.programme == filters["programme"])
    if filters["partner"]:
        query = query.where(Voucher.partner_id == filters["partner"])
    if filters["status"]:
        query = query.where(status == filters["status"])
    if filters["month"]:
        query = query.where(Voucher.month == filters["month"])
    async with state(request).services.db.session() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = (
            await session.execute(
                query.order_by(Voucher.issued_at.desc(), Voucher.id.desc())
                .limit(PER_PAGE)
                .offset((page_no - 1) * PER_PAGE)
            )
        ).all()
        case_ids = {v.case_id for v, *_ in rows if v.case_id is not None}
        cases = {
            c.id: c
            for c in (await session.scalars(select(Case).where(Case.id.in_(case_ids)))).all()
        }
        partners = list((await session.scalars(select(Partner).order_by(Partner.name))).all())
        month_pools = await pools(session, now, open_only=True)
    items = [
        {
            "voucher": voucher,
            "offer": offer,
            "partner": partner,
            "status": shown,
            "tail": tail(voucher.code),
            "manage": may_manage(who.user, voucher, cases.get(voucher.case_id or 0)),
            "can_reissue": shown in ("issued", "expired") and voucher.family_id is not None,
        }
        for voucher, offer, partner, shown in rows
    ]
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    base = {k: v for k, v in filters.items() if v}

    def page_link(number: int) -> str:
        return "/vouchers?" + urlencode({**base, "page": number})

    return render(
        request,
        "vouchers_list.html",
        items=items,
        filters=filters,
        partners=partners,
        pools=month_pools,
        month=month_title(service.quota_month(now)),
        total=total,
        page=page_no,
        pages=pages,
        page_link=page_link,
        PROGRAMME_NAMES=PROGRAMME_NAMES,
        STATUS_NAMES=STATUS_NAMES,
        statuses=VOUCHER_STATUSES,
        local_time=local_time,
    )


async def _voucher_for(
    request: Request, session: AsyncSession
) -> tuple[Voucher | None, Response | None]:
    voucher = await session.scalar(
        select(Voucher).where(Voucher.id == request.path_params["voucher_id"]).with_for_update()
    )
    if voucher is None:
        return None, not_found(request)
    case = await session.get(Case, voucher.case_id) if voucher.case_id else None
    if not may_manage(staff(request).user, voucher, case):
        return None, forbidden(request)
    return voucher, None


async def voucher_revoke(request: Request) -> Response:
    services = state(request).services
    async with services.db.session() as session:
        voucher, refusal = await _voucher_for(request, session)
        if voucher is None:
            assert refusal is not None
            return refusal
        before = {"status": voucher.status}
        if not await service.revoke(session, voucher):
            return redirect(
                request,
                "/vouchers",
                "Отозвать можно только действующий сертификат: этот уже "
                f"{STATUS_NAMES.get(voucher.status, voucher.status)}.",
            )
        await audit.record(
            session,
            staff(request),
            "revoke",
            "voucher",
            voucher.id,
            before=before,
            after={"status": voucher.status},
        )
    return redirect(request, "/vouchers", f"Сертификат {tail(voucher.code)} отозван.")


class Refused(Exception):
    """A reason to undo the transaction and tell staff why (raised inside `session()`)."""


async def voucher_reissue(request: Request) -> Response:
    services = state(request).services
    who = staff(request)
    try:
        async with services.db.session() as session:
            voucher, refusal = await _voucher_for(request, session)
            if voucher is None:
                assert refusal is not None
                return refusal
            if voucher.status not in ("issued", "expired"):
                # A revoked voucher already gave its place back to the pool: a new
                # one is issued from the case, within the quota.
                raise Refused(
                    "Заменить можно только действующий или истёкший сертификат. "
                    "Новый сертификат выдайте из обращения."
                )
            case = await session.get(Case, voucher.case_id) if voucher.case_id else None
            before = {"status": voucher.status}
            try:
                fresh = await service.reissue(session, voucher, who.user.id)
            except service.IssueError as error:
                raise Refused(str(error)) from error  # the revocation is undone too
            await audit.record(
                session,
                who,
                "revoke",
                "voucher",
                voucher.id,
                before=before,
                after={"status": "revoked"},
            )
            await audit.record(
                session,
                who,
                "reissue",
                "voucher",
                fresh.id,
                after={
                    "offer_id": fresh.offer_id,
                    "programme": fresh.programme,
                    "expires_at": fresh.expires_at.isoformat(),
                    "replaces_id": voucher.id,
                },
            )
            family = await session.get(Family, fresh.family_id) if fresh.family_id else None
            quiet = (case is not None and SAFE_EXIT in case.signals) or (
                family is not None and family.quiet_at is not None
            )
            issued = Issued(fresh.id, fresh.code, quiet)
            old_tail = tail(voucher.code)
    except Refused as refused:
        return redirect(request, "/vouchers", str(refused))
    delivered = await deliver(services, issued)
    message = issued_flash(issued, delivered).replace("Сертификат выдан", "Новый код выдан", 1)
    return redirect(request, "/vouchers", f"Старый код {old_tail} больше не действует. {message}")


ROUTES: list[Page] = [
    page("/vouchers", vouchers_list, ROLES),
    page("/vouchers/{voucher_id:int}/revoke", voucher_revoke, ROLES, post=True),
    page("/vouchers/{voucher_id:int}/reissue", voucher_reissue, ROLES, post=True),
]
