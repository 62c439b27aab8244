"""A turn's outcome on its way out of a messenger adapter (Telegram, VK).

Replies go through the outbox (in order, within the platform's limits). Safe
exit first deletes what the chat shows (what still waited to be sent was
withdrawn in the turn itself, for every messenger of the family). If the database cannot take the
replies, they are sent directly: an answer — above all a crisis answer — must
not be lost because the queue is down.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.core.types import Channel, EffectKind, Incoming, Outcome, Reply
from bot.outbound.outbox import Outbox

Wipe = Callable[[Sequence[str]], Awaitable[None]]
Direct = Callable[[Sequence[Reply]], Awaitable[None]]


async def deliver_turn(
    outbox: Outbox,
    channel: Channel,
    incoming: Incoming,
    outcome: Outcome,
    *,
    wipe: Wipe,
    direct: Direct,
) -> None:
    for effect in outcome.effects:
        if effect.kind is EffectKind.SAFE_EXIT:
            # A message still on its way when the button was pressed goes too.
            await outbox.settle(channel.value, incoming.chat_id)
            recent = await outbox.recent_ids(channel.value, incoming.user_id)
            await wipe(list(dict.fromkeys([*effect.message_ids, *recent])))
    queued = await outbox.send(
        channel.value, incoming.chat_id, outcome.replies, user_id=incoming.user_id
    )
    if not queued:
        await direct(outcome.replies)
