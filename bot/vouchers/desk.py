"""The shop's counter, wherever it stands: the partner page in the admin panel and
`/check CODE` in Telegram apply the same policy through this module — the same
limits on wrong codes, the same audit records, the same words for every result.

A shop learns only what `service.check` returns: never who holds a code or why.
Wrong codes (not found, mistyped) count against the staff account (and, on the
web, the address); past a limit the key is locked for a while, and while it is,
codes are not even looked up. Codes carry ~55 random bits, so guessing is
hopeless; the lock keeps it so and leaves a trace in the audit log.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.services import Services
from bot.storage import audit as audit_log
from bot.storage import throttle
from bot.storage.models import Voucher, utcnow
from bot.vouchers import service
from bot.vouchers.codes import display
from bot.vouchers.messages import tell

log = logging.getLogger(__name__)

ACCOUNT_LIMIT = throttle.Limit(
    failures=10, window=timedelta(minutes=10), lockout=timedelta(minutes=15)
)
ADDRESS_LIMIT = throttle.Limit(
    failures=30, window=timedelta(minutes=10), lockout=timedelta(minutes=30)
)
WRONG = frozenset({"not_found", "mistyped"})
TYPED_MAX = 64  # a code is 12 symbols; room for spaces, dashes and a scanner's prefix

TITLES = {
    "valid": "Действителен",
    "redeemed": "Уже использован",
    "expired": "Срок истёк",
    "revoked": "Аннулирован",
    "not_found": "Код не найден",
    "mistyped": "Похоже, в коде опечатка",
}
ICONS = {
    "valid": "✅",
    "redeemed": "⛔",
    "expired": "⌛",
    "revoked": "⛔",
    "not_found": "❓",
    "mistyped": "✏️",
}
JUST_REDEEMED = "Погашено"
REDEEM_BUTTON = "Погасить"
REDEEM_HINT = (
    "Нажмите, когда покупатель получает товар или услугу: после этого код больше не примут."
)
NO_PARTNER = (
    "Ваша учётная запись не привязана к организации-партнёру, поэтому проверять коды "
    "пока нельзя. Напишите руководителю семейного ресурсного центра."
)
EMPTY = "Введите код с сертификата: 12 букв и цифр, например 7KQM-2F9X-D4HB."


def account_key(user_id: int) -> str:
    return f"voucher:user:{user_id}"


def address_key(where: str) -> str:
    return f"voucher:addr:{where}"


@dataclass(frozen=True, slots=True)
class Key:
    """One counter a wrong code goes to; `scope` names it in the audit log."""

    key: str
    limit: throttle.Limit
    scope: str


def account(user_id: int) -> Key:
    return Key(account_key(user_id), ACCOUNT_LIMIT, "account")


@dataclass(frozen=True, slots=True)
class Clerk:
    """The member of partner staff at the counter (web session or linked Telegram)."""

    user_id: int
    login: str
    partner_id: int


@dataclass(frozen=True, slots=True)
class Outcome:
    result: service.Check | None = None
    locked_until: datetime | None = None


# -- words --------------------------------------------------------------------------
def minutes_left(until: datetime) -> int:
    return max(1, math.ceil((until - utcnow()).total_seconds() / 60))


def locked_message(until: datetime) -> str:
    minutes = minutes_left(until)
    return (
        f"Слишком много неверных кодов подряд. Проверка снова будет доступна через {minutes} мин."
    )


def moscow(moment: datetime | None, with_time: bool = False) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(service.LOCAL)
    return local.strftime("%d.%m.%Y %H:%M" if with_time else "%d.%m.%Y")


def rubles(value: int | None) -> str:
    return f"{value:,}".replace(",", "\u00a0") + "\u00a0₽" if value is not None else ""


def title(result: service.Check) -> str:
    return JUST_REDEEMED if result.just_redeemed else TITLES[result.status]


def icon(result: service.Check) -> str:
    return "✅" if result.just_redeemed else ICONS[result.status]


def detail(result: service.Check, typed: str) -> str:
    """The sentence under the result's title: what it means and what to do."""
    if result.just_redeemed:
        return (
            f"Сертификат погашен {moscow(result.redeemed_at, True)} (МСК). Выдайте покупателю "
            "то, что он покрывает. Повторно этот код уже не примут."
        )
    status = result.status
    if status == "valid":
        return ""
    if status == "redeemed":
        return (
            f"Этот сертификат уже погасили {moscow(result.redeemed_at, True)} (МСК). "
            "Второй раз принять его нельзя."
        )
    if status == "expired":
        return (
            f"Сертификат действовал до {moscow(result.expires_at)} и больше не принимается. "
            "Владельцу стоит обратиться в семейный ресурсный центр."
        )
    if status == "revoked":
        return (
            "Центр отменил этот сертификат, он больше не действует. Владельцу стоит "
            "обратиться в семейный ресурсный центр."
        )
    if status == "mistyped":
        return (
            f"Код «{typed}» не похож на настоящий: в коде сертификата 12 букв и цифр, например "
            "7KQM-2F9X-D4HB. Скорее всего, один из знаков введён неверно — сверьте каждый и "
            "проверьте ещё раз."
        )
    return (
        f"Кода «{typed}» нет среди сертификатов вашей организации. Проверьте, что он введён "
        "полностью и без ошибок. Сертификат другого магазина здесь принять нельзя."
    )


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    value: str
    kind: str = ""  # "code" | "covers" | "": how a page may style it


def facts(result: service.Check) -> list[Fact]:
    """What the shop may know about a found code (nothing for an unknown one)."""
    if not result.found:
        return []
    shown = [Fact("Код", display(result.code), "code"), Fact("Предложение", result.offer_title)]
    if result.covers:
        shown.append(Fact("Что покрывает", result.covers, "covers"))
    if result.value_rub is not None:
        shown.append(Fact("Номинал", rubles(result.value_rub)))
    if result.discount_percent:
        shown.append(Fact("Скидка", f"{result.discount_percent}\u00a0%"))
    if result.status == "valid" and not result.just_redeemed:
        shown.append(Fact("Действует до", moscow(result.expires_at)))
    return shown


# -- checking and redeeming ---------------------------------------------------------
async def _audit(
    session: AsyncSession,
    clerk: Clerk,
    action: str,
    entity: str,
    entity_id: object,
    after: dict[str, Any],
) -> None:
    """An audit record for the clerk (the page's and Telegram's checks alike)."""
    audit_log.add(
        session,
        None,
        action,
        entity,
        entity_id,
        after=after,
        login=clerk.login,
        user_id=clerk.user_id,
    )


async def _count_failure(
    session: AsyncSession, clerk: Clerk, keys: Sequence[Key]
) -> datetime | None:
    """Count one wrong code on every key; audit each lock it starts."""
    ends: list[datetime] = []
    for key in keys:
        until = await throttle.fail(session, key.key, key.limit)
        if until is not None:
            # An address stays out of the log; the account and scope say enough.
            await _audit(
                session,
                clerk,
                "lockout",
                "voucher_check",
                clerk.user_id,
                {"scope": key.scope, "until": until.isoformat()},
            )
            ends.append(until)
    return max(ends, default=None)


async def look_up(
    services: Services, clerk: Clerk, typed: str, keys: Sequence[Key], *, redeem: bool
) -> Outcome:
    """Check (or redeem) one code within the limits; tell the family after a redemption."""
    voucher_id: int | None = None
    family_id: int | None = None
    async with services.db.session() as session:
        locked = await throttle.locked_until(session, [key.key for key in keys])
        if locked is not None:
            return Outcome(locked_until=locked)
        if redeem:
            result, family_id = await service.redeem(
                session, clerk.partner_id, typed, clerk.user_id
            )
        else:
            result = await service.check(session, clerk.partner_id, typed)
        if result.just_redeemed:
            voucher_id = await session.scalar(
                select(Voucher.id).where(
                    Voucher.code == result.code, Voucher.partner_id == clerk.partner_id
                )
            )
            await _audit(session, clerk, "redeem", "voucher", voucher_id, {"status": "redeemed"})
        lock = await _count_failure(session, clerk, keys) if result.status in WRONG else None
    if lock is not None:
        log.warning("voucher checks locked after repeated wrong codes (see the audit log)")
        return Outcome(locked_until=lock)
    if voucher_id is not None and family_id is not None:
        try:
            await tell(services, voucher_id, "redeemed")
        except Exception:  # the redemption stands; a lost message must not undo it
            log.exception("could not tell the family about a redemption")
    return Outcome(result=result)
