"""What every messenger adapter (Telegram, VK) does with a turn: serve it
through the front door, then deliver its outcome.

Replies go through the outbox (in order, within the platform's limits). Safe
exit first deletes what the chat shows, including a message still on its way
(what waited to be sent was withdrawn in the turn itself, for every messenger
of the family). If the database cannot take the replies they are sent
directly: an answer — above all a crisis answer — must not be lost because
the queue is down.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.frontdoor import FrontDoor
from bot.core.types import Channel, EffectKind, Incoming, Outcome, Reply
from bot.outbound.outbox import Outbox


class TurnDelivery:
    """Mixed into an adapter, which supplies the two platform-specific steps."""

    channel: Channel
    frontdoor: FrontDoor
    outbox: Outbox

    async def serve(self, incoming: Incoming) -> None:
        async def deliver(outcome: Outcome) -> None:
            await self.deliver(incoming, outcome)

        await self.frontdoor.serve(incoming, deliver)

    async def deliver(self, incoming: Incoming, outcome: Outcome) -> None:
        channel, chat = self.channel.value, incoming.chat_id
        for effect in outcome.effects:
            if effect.kind is EffectKind.SAFE_EXIT:
                await self.outbox.settle(channel, chat)
                recent = await self.outbox.recent_ids(channel, incoming.user_id)
                ids = list(dict.fromkeys([*effect.message_ids, *recent]))
                await self._wipe(incoming, outcome, ids)
        if not await self.outbox.send(channel, chat, outcome.replies, user_id=incoming.user_id):
            await self._send_directly(incoming, outcome.replies)

    async def _wipe(self, incoming: Incoming, outcome: Outcome, message_ids: Sequence[str]) -> None:
        """Delete these messages from the chat (safe exit)."""
        raise NotImplementedError

    async def _send_directly(self, incoming: Incoming, replies: Sequence[Reply]) -> None:
        """Send past the outbox (the database is down)."""
        raise NotImplementedError
