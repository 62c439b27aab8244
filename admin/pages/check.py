"""The partner's code check: type or scan a voucher code, see whether it is good
and what it covers, redeem it with one tap — and the same as a small JSON API
for scanners and apps (same session, CSRF token in the X-CSRF-Token header).

The policy — what a shop may see, the limits on wrong codes, the audit records,
the words — lives in `bot.vouchers.desk`, shared with `/check` in Telegram. Here
only the web's part: a wrong code also counts against the address it came from.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from admin.auth import address_key
from admin.web import PARTNER, Page, client_address, form, page, render, staff, state, text
from bot.storage.models import Offer, Voucher, utcnow
from bot.vouchers import desk, service
from bot.vouchers.codes import display
from bot.vouchers.desk import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    EMPTY,
    JUST_REDEEMED,
    NO_PARTNER,
    TITLES,
    TYPED_MAX,
    Outcome,
    locked_message,
    moscow,
    rubles,
)

PARTNER_ONLY = frozenset({PARTNER})
RECENT = 20
BAD_JSON = 'Ожидается JSON вида {"code": "7KQM-2F9X-D4HB"}.'


def _limits(request: Request) -> list[desk.Key]:
    """The counters a wrong code goes to: this account, and this address."""
    who = staff(request)
    where = address_key(client_address(request))
    # ADDRESS_LIMIT is read from this module, so a test may narrow it here.
    return [
        desk.Key(desk.account_key(who.user.id), ACCOUNT_LIMIT, "account"),
        desk.Key(desk.address_key(where), ADDRESS_LIMIT, "address"),
    ]


async def look_up(request: Request, partner_id: int, typed: str, *, redeem: bool) -> Outcome:
    """Check (or redeem) one code within the limits; tell the family after a redemption."""
    user = staff(request).user
    clerk = desk.Clerk(user_id=user.id, login=user.login, partner_id=partner_id)
    return await desk.look_up(
        state(request).services, clerk, typed, _limits(request), redeem=redeem
    )


# -- the page -------------------------------------------------------------------------
async def recent(partner_id: int, request: Request) -> list[dict[str, str]]:
    """The last redemptions at this shop: when, what, the code's last symbols."""
    async with state(request).services.db.session() as session:
        rows = (
            await session.execute(
                select(
                    Voucher.code,
                    Voucher.redeemed_at,
                    Offer.title,
                    Offer.value_rub,
                    Offer.discount_percent,
                )
                .join(Offer, Offer.id == Voucher.offer_id)
                .where(Voucher.partner_id == partner_id, Voucher.status == "redeemed")
                .order_by(Voucher.redeemed_at.desc(), Voucher.id.desc())
                .limit(RECENT)
            )
        ).all()
    return [
        {
            "when": moscow(redeemed_at, with_time=True),
            "title": title,
            "value": rubles(value) or (f"скидка {discount}\u00a0%" if discount else "—"),
            "tail": code[-4:],
        }
        for code, redeemed_at, title, value, discount in rows
    ]


async def _show(
    request: Request,
    *,
    status: int = 200,
    result: service.Check | None = None,
    typed: str = "",
    error: str = "",
) -> Response:
    partner_id = staff(request).user.partner_id
    if partner_id is None:
        return render(request, "check.html", status=status, no_partner=NO_PARTNER)
    return render(
        request,
        "check.html",
        status=status,
        result=result,
        title_of=TITLES,
        just_redeemed=JUST_REDEEMED,
        detail=desk.detail,
        facts=desk.facts,
        redeem_button=desk.REDEEM_BUTTON,
        redeem_hint=desk.REDEEM_HINT,
        typed=typed,
        # A wrong code stays in the box to be corrected; after a found one it is cleared.
        kept=typed if result is None or not result.found else "",
        error=error,
        recent=await recent(partner_id, request),
        moscow=moscow,
        rubles=rubles,
        display=display,
    )


async def check_page(request: Request) -> Response:
    return await _show(request)


async def _posted(request: Request, *, redeem: bool) -> Response:
    partner_id = staff(request).user.partner_id
    if partner_id is None:
        return await _show(request, status=409)
    typed = text(await form(request), "code", TYPED_MAX)
    if not typed:
        return await _show(request, status=400, error=EMPTY)
    outcome = await look_up(request, partner_id, typed, redeem=redeem)
    if outcome.locked_until is not None:
        return await _show(
            request, status=429, typed=typed, error=locked_message(outcome.locked_until)
        )
    return await _show(request, result=outcome.result, typed=typed)


async def check_code(request: Request) -> Response:
    return await _posted(request, redeem=False)


async def redeem_code(request: Request) -> Response:
    return await _posted(request, redeem=True)


# -- the JSON API ---------------------------------------------------------------------
def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def as_json(result: service.Check) -> dict[str, Any]:
    """What a scanner or app is told: the same facts as the page, nothing about the holder."""
    return {
        "status": result.status,
        "message": desk.title(result),
        "offer": result.offer_title or None,
        "covers": result.covers or None,
        "value_rub": result.value_rub,
        "discount_percent": result.discount_percent,
        "expires_at": _iso(result.expires_at),
        "redeemed_at": _iso(result.redeemed_at),
        "redeemed": result.just_redeemed,
    }


def _api_error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"status": kind, "message": message}, status_code=status)


async def _api(request: Request, *, redeem: bool) -> Response:
    partner_id = staff(request).user.partner_id
    if partner_id is None:
        return _api_error(409, "no_partner", NO_PARTNER)
    # Only JSON: a form body was already read by the CSRF check and is gone.
    if not request.headers.get("content-type", "").startswith("application/json"):
        return _api_error(400, "bad_request", BAD_JSON)
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _api_error(400, "bad_request", BAD_JSON)
    typed = body.get("code") if isinstance(body, dict) else None
    if not isinstance(typed, str) or not typed.strip():
        return _api_error(400, "bad_request", EMPTY)
    outcome = await look_up(request, partner_id, typed.strip()[:TYPED_MAX], redeem=redeem)
    if outcome.locked_until is not None:
        seconds = max(1, math.ceil((outcome.locked_until - utcnow()).total_seconds()))
        response = _api_error(429, "locked", locked_message(outcome.locked_until))
        response.headers["retry-after"] = str(seconds)
        return response
    assert outcome.result is not None
    return JSONResponse(as_json(outcome.result))


async def api_check(request: Request) -> Response:
    return await _api(request, redeem=False)


async def api_redeem(request: Request) -> Response:
    return await _api(request, redeem=True)


ROUTES: list[Page] = [
    page("/check", check_page, PARTNER_ONLY),
    page("/check", check_code, PARTNER_ONLY, post=True),
    page("/check/redeem", redeem_code, PARTNER_ONLY, post=True),
    page("/api/check", api_check, PARTNER_ONLY, post=True),
    page("/api/redeem", api_redeem, PARTNER_ONLY, post=True),
]
