"""Requests from organisations, partners and volunteers for the regional manager."""

from __future__ import annotations

from typing import Any

from bot.actions.registry import ActionResult, registry
from bot.core import texts
from bot.core.turn import Turn
from bot.storage.models import OrgRequest

KINDS = ("organisation", "partner", "volunteer")
FIELDS = ("org_kind", "org_name", "org_city", "org_contact", "org_message")


@registry.action("record_org_request")
async def record_org_request(turn: Turn, args: dict[str, Any]) -> ActionResult:
    values = turn.vars
    kind = str(values.get("org_kind") or args.get("kind") or "organisation")
    request = OrgRequest(
        family_id=turn.family.id,
        kind=kind if kind in KINDS else "organisation",
        org_name=str(values.get("org_name") or "")[:200],
        city=str(values.get("org_city") or "")[:100],
        contact=str(values.get("org_contact") or "")[:200],
        message=str(values.get("org_message") or "")[:2000],
        channel=turn.incoming.channel.value,
        language=turn.language,
    )
    turn.session.add(request)
    await turn.session.flush()
    turn.event("org_request", request.kind)
    # The request keeps the details; the conversation need not.
    turn.conversation.vars = {k: v for k, v in values.items() if k not in FIELDS}
    return ActionResult(texts=[turn.t(texts.ORG_REQUEST_SAVED, number=request.id)])
