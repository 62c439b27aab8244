"""Issuing, checking and redeeming vouchers — the rules, in one place, on our own
tables (so a job that did not run is caught up by the next one).

- A monthly quota per offer counts the vouchers issued in that month (Moscow
  time) that were not revoked: no counter to reset, nothing lost if a job is late.
- A family gets at most one voucher per offer a month, and holds at most one
  unused voucher per offer.
- Redemption is one conditional UPDATE (`… WHERE status = 'issued' AND not
  expired`): the database lets exactly one of any number of simultaneous
  attempts through, on SQLite and on PostgreSQL alike.
- A partner only ever learns about codes of its own offers; a code of another
  shop is "not found", word for word like a code that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Offer, Partner, Voucher, utcnow
from bot.vouchers.codes import CodeError, new_code, normalise

# The region's clock (Dagestan is on Moscow time): quota months and shop days.
LOCAL = ZoneInfo("Europe/Moscow")
COUNTED = ("issued", "redeemed", "expired")  # a revoked voucher gives its place back
REMIND_BEFORE = timedelta(days=3)


class IssueError(Exception):
    """Why a voucher could not be issued, in words staff can act on; `reason`
    lets the family's side say it in its own words and language."""

    def __init__(self, message: str, reason: str = "other") -> None:
        super().__init__(message)
        self.reason = reason  # quota | this_month | unused | closed | other


def quota_month(moment: datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m")


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL).date()


async def issued_this_month(session: AsyncSession, offer_id: int, month: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Voucher)
            .where(Voucher.offer_id == offer_id, Voucher.month == month)
            .where(Voucher.status.in_(COUNTED))
        )
        or 0
    )


def _offer_open(offer: Offer, partner: Partner, today: date) -> str | None:
    if not partner.active:
        return "Партнёр отключён: по его предложениям сейчас не выдают сертификаты."
    if not offer.active:
        return "Предложение приостановлено."
    if offer.starts_on and today < offer.starts_on:
        return f"Предложение начнёт действовать {offer.starts_on:%d.%m.%Y}."
    if offer.ends_on and today > offer.ends_on:
        return f"Предложение закончилось {offer.ends_on:%d.%m.%Y}."
    return None


async def issue(
    session: AsyncSession,
    *,
    offer_id: int,
    family_id: int,
    case_id: int | None = None,
    issued_by: int | None = None,
    replaces: Voucher | None = None,
    now: datetime | None = None,
) -> Voucher:
    """Issue one voucher from `offer_id` to a family, within the offer's rules."""
    now = now or utcnow()
    # Lock the offer row: two staff issuing the last voucher of a month at once
    # queue here (SQLite serialises writers anyway).
    offer = await session.scalar(select(Offer).where(Offer.id == offer_id).with_for_update())
    if offer is None:
        raise IssueError("Такого предложения нет.")
    partner = await session.get(Partner, offer.partner_id)
    assert partner is not None
    closed = _offer_open(offer, partner, local_day(now))
    if closed:
        raise IssueError(closed, "closed")
    month = quota_month(now)
    if offer.monthly_quota is not None and replaces is None:
        used = await issued_this_month(session, offer.id, month)
        if used >= offer.monthly_quota:
            raise IssueError(
                f"В этом месяце сертификаты «{offer.title}» закончились "
                f"({used} из {offer.monthly_quota}). Выберите другой магазин или "
                "дождитесь следующего месяца.",
                "quota",
            )
    unused = await session.scalar(
        select(Voucher.id)
        .where(Voucher.offer_id == offer.id, Voucher.family_id == family_id)
        .where(Voucher.status == "issued", Voucher.expires_at > now)
        .where(Voucher.id != (replaces.id if replaces else -1))
        .limit(1)
    )
    if unused is not None:
        raise IssueError(
            "У семьи уже есть неиспользованный сертификат по этому предложению.", "unused"
        )
    # One voucher per family, offer and month: a family cannot drain a pool by
    # claiming again as soon as a code is used (a replacement takes the old one's place).
    this_month = await session.scalar(
        select(Voucher.id)
        .where(Voucher.offer_id == offer.id, Voucher.family_id == family_id)
        .where(Voucher.month == month, Voucher.status.in_(COUNTED))
        .where(Voucher.id != (replaces.id if replaces else -1))
        .limit(1)
    )
    if this_month is not None:
        raise IssueError(
            "Семья уже получала сертификат по этому предложению в этом месяце. "
            "Следующий можно будет выдать в новом месяце.",
            "this_month",
        )
    for _ in range(5):  # a collision of ~55-bit codes is astronomically rare; be sure anyway
        voucher = Voucher(
            code=new_code(),
            offer_id=offer.id,
            partner_id=offer.partner_id,
            programme=offer.programme,
            family_id=family_id,
            case_id=case_id,
            issued_by=issued_by,
            status="issued",
            month=replaces.month if replaces else month,
            issued_at=now,
            expires_at=now + timedelta(days=offer.valid_days),
            replaces_id=replaces.id if replaces else None,
        )
        try:
            async with session.begin_nested():
                session.add(voucher)
                await session.flush()
        except IntegrityError:
            continue
        return voucher
    raise IssueError("Не удалось создать код. Попробуйте ещё раз.")


async def revoke(session: AsyncSession, voucher: Voucher, now: datetime | None = None) -> bool:
    """Cancel an unused voucher (a mistake, a lost phone); its quota place comes back."""
    if voucher.status != "issued":
        return False
    voucher.status = "revoked"
    voucher.revoked_at = now or utcnow()
    return True


async def reissue(
    session: AsyncSession, voucher: Voucher, issued_by: int | None, now: datetime | None = None
) -> Voucher:
    """Replace an unused voucher with a new code (the old one stops working at once).

    A voucher still holding its quota place (valid or expired) hands it to the
    new code, in the same month; one already revoked gave its place back, so
    the new code must find room in this month's quota like any other.
    """
    now = now or utcnow()
    if voucher.family_id is None:
        raise IssueError("Семья удалила свои данные: выдать ей новый код некуда.")
    if voucher.status == "redeemed":
        raise IssueError("Сертификат уже использован: заменить его нельзя.")
    holds_place = voucher.status in ("issued", "expired")
    if voucher.status != "revoked":
        voucher.status = "revoked"
        voucher.revoked_at = now
    new = await issue(
        session,
        offer_id=voucher.offer_id,
        family_id=voucher.family_id,
        case_id=voucher.case_id,
        issued_by=issued_by,
        replaces=voucher if holds_place else None,
        now=now,
    )
    new.replaces_id = voucher.id
    return new


# -- the shop's side -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Check:
    """What a shop may know about a code: never who holds it, or why."""

    status: str  # valid | redeemed | expired | revoked | not_found | mistyped
    code: str = ""
    offer_title: str = ""
    covers: str = ""
    value_rub: int | None = None
    discount_percent: int | None = None
    expires_at: datetime | None = None
    redeemed_at: datetime | None = None
    just_redeemed: bool = False  # this very request redeemed it

    @property
    def found(self) -> bool:
        return self.status not in ("not_found", "mistyped")


async def check(
    session: AsyncSession, partner_id: int, typed: str, now: datetime | None = None
) -> Check:
    """Look a typed or scanned code up for one partner's shop."""
    now = now or utcnow()
    try:
        code = normalise(typed)
    except CodeError:
        return Check("mistyped")
    row = (
        await session.execute(
            select(Voucher, Offer)
            .join(Offer, Offer.id == Voucher.offer_id)
            .where(Voucher.code == code, Voucher.partner_id == partner_id)
            .execution_options(populate_existing=True)  # fresh even after an UPDATE
        )
    ).one_or_none()
    if row is None:
        return Check("not_found")
    voucher, offer = row
    status = voucher.status
    if status == "issued":
        status = "valid" if voucher.expires_at > now else "expired"
    return Check(
        status=status,
        code=code,
        offer_title=offer.title,
        covers=offer.covers,
        value_rub=offer.value_rub,
        discount_percent=offer.discount_percent,
        expires_at=voucher.expires_at,
        redeemed_at=voucher.redeemed_at,
    )


async def redeem(
    session: AsyncSession,
    partner_id: int,
    typed: str,
    staff_id: int | None,
    now: datetime | None = None,
) -> tuple[Check, int | None]:
    """Redeem once. Returns what the shop sees, and the holder's family id for the
    "your certificate was used" message (None unless this call redeemed it)."""
    now = now or utcnow()
    try:
        code = normalise(typed)
    except CodeError:
        return Check("mistyped"), None
    result = await session.execute(
        update(Voucher)
        .where(Voucher.code == code, Voucher.partner_id == partner_id)
        .where(Voucher.status == "issued", Voucher.expires_at > now)
        .values(status="redeemed", redeemed_at=now, redeemed_by=staff_id)
        .returning(Voucher.family_id)
    )
    redeemed = result.first()
    found = await check(session, partner_id, code, now)
    if redeemed is None:
        return found, None
    return (
        Check(
            status="redeemed",
            code=found.code,
            offer_title=found.offer_title,
            covers=found.covers,
            value_rub=found.value_rub,
            discount_percent=found.discount_percent,
            expires_at=found.expires_at,
            redeemed_at=now,
            just_redeemed=True,
        ),
        redeemed[0],
    )


# -- sweeps --------------------------------------------------------------------------
async def expire_due(session: AsyncSession, now: datetime | None = None) -> list[Voucher]:
    """Mark vouchers past their date expired; returns them (to tell their families)."""
    now = now or utcnow()
    due = list(
        (
            await session.scalars(
                select(Voucher)
                .where(Voucher.status == "issued", Voucher.expires_at <= now)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    for voucher in due:
        voucher.status = "expired"
    return due


async def reminders_due(session: AsyncSession, now: datetime | None = None) -> list[Voucher]:
    """Unused vouchers that expire soon and whose family was not reminded yet."""
    now = now or utcnow()
    due = list(
        (
            await session.scalars(
                select(Voucher)
                .where(Voucher.status == "issued", Voucher.reminded_at.is_(None))
                .where(Voucher.expires_at > now, Voucher.expires_at <= now + REMIND_BEFORE)
                # A short-lived voucher was just handed over with its date: no reminder.
                .where(Voucher.issued_at <= now - timedelta(days=1))
                .where(Voucher.family_id.is_not(None))
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    for voucher in due:
        voucher.reminded_at = now
    return due
