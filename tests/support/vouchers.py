"""Voucher rows as the staff side leaves them, for partner-side tests."""

from __future__ import annotations

from datetime import timedelta

from bot.core.services import Services
from bot.storage.models import Offer, Voucher, utcnow
from bot.vouchers.codes import new_code


async def make_voucher(
    services: Services,
    offer_id: int,
    *,
    family_id: int | None,
    case_id: int | None,
    issued_by: int | None,
    status: str = "issued",
    expires_in: timedelta = timedelta(days=20),
) -> str:
    """Insert one voucher of `offer_id` (issued ten days ago); returns its code."""
    now = utcnow()
    async with services.db.session() as session:
        offer = await session.get(Offer, offer_id)
        assert offer is not None
        row = Voucher(
            code=new_code(),
            offer_id=offer.id,
            partner_id=offer.partner_id,
            programme=offer.programme,
            family_id=family_id,
            case_id=case_id,
            issued_by=issued_by,
            status=status,
            month=now.strftime("%Y-%m"),
            issued_at=now - timedelta(days=10),
            expires_at=now + expires_in,
            redeemed_at=now - timedelta(days=1) if status == "redeemed" else None,
            revoked_at=now if status == "revoked" else None,
        )
        session.add(row)
        return row.code
