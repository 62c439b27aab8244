"""Messages the service sends by itself, outside a family's turn: a voucher
issued or redeemed, a reminder before it expires.

Each channel registers a sender; a message goes to the family's identities in
the messengers that are connected (a blocked chat is skipped). A family that
pressed "safe exit" gets nothing it did not ask for. Texts are made
per family language by the caller's `compose`. The persistent outbound queue
(platform limits, retries across restarts) replaces the direct send later;
callers keep this interface.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from sqlalchemy import select

from bot.core.types import Reply
from bot.storage.db import Database
from bot.storage.models import Family, Identity

log = logging.getLogger(__name__)

Compose = Callable[[str], Sequence[Reply]]  # language → the messages


class Sender(Protocol):
    async def __call__(self, chat_id: str, replies: Sequence[Reply]) -> bool:
        """Deliver in order; True when every message was accepted."""
        ...


class Notifier:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.senders: dict[str, Sender] = {}

    def register(self, channel: str, sender: Sender) -> None:
        self.senders[channel] = sender

    async def to_family(self, family_id: int, compose: Compose) -> bool:
        """Send to a family in its language; True if at least one messenger took it."""
        async with self.db.session() as session:
            family = await session.get(Family, family_id)
            if family is None:
                return False
            if family.quiet_at is not None:
                # The family pressed "safe exit": a message out of the blue could
                # give it away. It finds everything by asking (e.g. «Мои сертификаты»).
                log.info("a notification was held back: the family asked for quiet")
                return False
            identities = (
                await session.scalars(
                    select(Identity)
                    .where(Identity.family_id == family_id, Identity.blocked_at.is_(None))
                    .order_by(Identity.id.desc())
                )
            ).all()
            language = family.language
        replies = list(compose(language))
        delivered = False
        for identity in identities:
            sender = self.senders.get(identity.channel)
            if sender is None:
                continue
            try:
                delivered = await sender(identity.chat_id, replies) or delivered
            except Exception:  # one messenger failing must not stop the others
                log.exception("notification via %s failed", identity.channel)
        if not delivered:
            log.info("a notification found no connected messenger for the family")
        return delivered


Notify = Callable[[int, Compose], Awaitable[bool]]
