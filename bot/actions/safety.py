"""Safety: the "safe exit" that wipes the chat, and returning after a crisis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.actions.linking import channels_text
from bot.actions.registry import ActionResult, registry
from bot.core import cases
from bot.core.i18n import N_
from bot.core.turn import Turn
from bot.core.types import Effect, EffectKind
from bot.outbound.outbox import Priority
from bot.storage.models import MESSAGE_IDS_KEPT, ChatMessage, Identity

# The only words after a safe exit, and only for a profile linked in another
# messenger: that chat cannot be wiped from here. Short and neutral: someone
# else may read it.
SAFE_EXIT_ELSEWHERE = N_("Переписку в другом подключённом чате ({channels}) удалите вручную.")


@registry.action("safe_exit")
async def safe_exit(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Delete this chat's recent messages (both sides) and say nothing more
    (but for one line when the profile is linked in another messenger).

    The channel adapter does the deleting (Telegram: deleteMessages, then it
    forgets the ids it deleted; web: the page clears itself and leaves for a
    neutral site). The position returns to the menu so the next person to open
    the chat sees nothing of the journey. Nothing that still waits in the
    outbox for any of the family's chats is sent (this turn's own reply is
    queued after the turn).
    """
    ids = tuple(
        (
            await turn.session.scalars(
                select(ChatMessage.message_id)
                .where(ChatMessage.identity_id == turn.identity.id)
                .where(ChatMessage.sent_at >= datetime.now(UTC) - MESSAGE_IDS_KEPT)
            )
        ).all()
    )
    # The ids stay recorded until the channel confirms each deletion, so pressing
    # the button again retries whatever a passing fault left behind.
    await cases.note_safe_exit(turn)
    turn.family.quiet_at = turn.family.quiet_at or datetime.now(UTC)
    turn.conversation.journey, turn.conversation.node = "menu", "start"
    turn.conversation.stack = []
    turn.conversation.resume = None
    chats = (
        await turn.session.execute(
            select(Identity.id, Identity.channel, Identity.chat_id)
            .where(Identity.family_id == turn.family.id)
            .order_by(Identity.id)
        )
    ).all()
    lanes = [f"{channel}:{chat_id}" for _, channel, chat_id in chats]
    await turn.services.outbox.withdraw(turn.session, lanes, lowest=Priority.URGENT)
    turn.effects.append(Effect(EffectKind.SAFE_EXIT, turn.services.settings.web_exit_url, ids))
    turn.event("safe_exit")
    elsewhere: list[str] = []
    for identity_id, channel, _ in chats:
        if identity_id != turn.identity.id and channel not in (turn.identity.channel, *elsewhere):
            elsewhere.append(channel)
    if elsewhere:
        turn.say(turn.t(SAFE_EXIT_ELSEWHERE, channels=channels_text(turn, elsewhere)))
    return ActionResult(stop=True)


@registry.action("resume")
async def resume(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Go back to where the family was before a crisis message interrupted them."""
    target = turn.conversation.resume or "menu:start"
    turn.conversation.resume = None
    return ActionResult(goto=target)
