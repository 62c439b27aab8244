"""Safety: the "safe exit" that wipes the chat, and returning after a crisis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.actions.registry import ActionResult, registry
from bot.core import cases
from bot.core.turn import Turn
from bot.core.types import Effect, EffectKind
from bot.storage.models import MESSAGE_IDS_KEPT, ChatMessage


@registry.action("safe_exit")
async def safe_exit(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Delete this chat's recent messages (both sides) and say nothing more.

    The channel adapter does the deleting (Telegram: deleteMessages, then it
    forgets the ids it deleted; web: the page clears itself and leaves for a
    neutral site). The position returns to the menu so the next person to open
    the chat sees nothing of the journey.
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
    turn.effects.append(Effect(EffectKind.SAFE_EXIT, turn.services.settings.web_exit_url, ids))
    turn.event("safe_exit")
    return ActionResult(stop=True)


@registry.action("resume")
async def resume(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Go back to where the family was before a crisis message interrupted them."""
    target = turn.conversation.resume or "menu:start"
    turn.conversation.resume = None
    return ActionResult(goto=target)
