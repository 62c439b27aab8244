"""Messages the service sends by itself, outside a family's turn: a voucher
issued or redeemed, a reminder before it expires, a family card decided.

A message goes to the one messenger the family last wrote from (a family may
have linked Telegram and VK; a blocked chat is skipped) through the outbox, so
platform limits, retries and restarts are handled there. A family that pressed
"safe exit" gets nothing it did not ask for. Texts are made in the family's
language by the caller's `compose`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.types import Reply
from bot.outbound.outbox import Outbox, Priority, reply_payload
from bot.storage.db import Database
from bot.storage.models import Family, Identity

log = logging.getLogger(__name__)

Compose = Callable[[str], Sequence[Reply]]  # language → the messages


async def preferred_identity(
    session: AsyncSession, family_id: int, channels: Collection[str] | None = None
) -> Identity | None:
    """Where the family can be reached now: the messenger it last wrote from
    (among `channels`, the messengers connected now, when given)."""
    query = select(Identity).where(Identity.family_id == family_id, Identity.blocked_at.is_(None))
    if channels is not None:
        query = query.where(Identity.channel.in_(list(channels)))
    return await session.scalar(
        query.order_by(Identity.last_seen_at.desc(), Identity.id.desc()).limit(1)
    )


class Notifier:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def to_family(
        self, family_id: int, compose: Compose, *, priority: int = Priority.NOTICE
    ) -> bool:
        """Queue messages to a family in its language; True if it can be reached."""
        async with self.db.session() as session:
            family = await session.get(Family, family_id)
            if family is None:
                return False
            if family.quiet_at is not None:
                # The family pressed "safe exit": a message out of the blue could
                # give it away. It finds everything by asking (e.g. «Мои сертификаты»).
                log.info("a notification was held back: the family asked for quiet")
                return False
            identity = await preferred_identity(session, family_id, self.outbox.couriers)
            if identity is None:
                log.info("a notification found no messenger to reach the family")
                return False
            for reply in compose(family.language):
                self.outbox.enqueue(
                    session,
                    channel=identity.channel,
                    chat_id=identity.chat_id,
                    kind="reply",
                    payload=reply_payload(reply, identity_id=identity.id),
                    priority=priority,
                )
        return True
