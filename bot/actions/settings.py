"""Settings: language, the centre's news (opt-in), and deleting everything we know
about the family (linking messengers: bot/actions/linking.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from bot.actions.linking import channels_text
from bot.actions.registry import ActionResult, Option, registry
from bot.actions.vouchers import (
    FORGET_CARD,
    FORGET_VOUCHERS,
    active_voucher_count,
    family_card_of,
)
from bot.core import texts
from bot.core.i18n import N_
from bot.core.turn import Turn
from bot.core.types import Effect, EffectKind
from bot.journeys.engine import menu_button
from bot.outbound.outbox import Priority
from bot.storage.models import Case, ChatMessage, Family, Identity, OrgRequest

NEWS_VAR = "news_state"  # "on" / "off": which button the news screen shows
NEWS_ON = N_("Сейчас новости центра **включены**.")
NEWS_OFF = N_("Сейчас новости центра **выключены**.")
NEWS_TURNED_ON = N_("Готово: новости центра **включены**. Выключить можно здесь же в любой момент.")
NEWS_TURNED_OFF = N_("Готово: новости центра **выключены**. Больше мы их не пришлём.")
FORGET_LINKED = N_(
    "Профиль был общим для {channels}: данные удалены сразу везде, связь мессенджеров тоже удалена."
)


@registry.provider("languages")
def languages(turn: Turn) -> list[Option]:
    translator = turn.services.translator
    return [Option(code, translator.native_name(code)) for code in translator.languages]


@registry.action("set_language")
async def set_language(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Switch to the language chosen in `language` (set by the options list)."""
    chosen = str(turn.vars.get("language") or args.get("language") or "")
    translator = turn.services.translator
    if chosen in translator.languages:
        turn.family.language = chosen
        turn.language = chosen
        turn.effects.append(Effect(EffectKind.LANGUAGE, chosen))
    # The choice lives on the family, not among the answers.
    turn.conversation.vars = {k: v for k, v in turn.vars.items() if k != "language"}
    return ActionResult(texts=[turn.t(texts.LANGUAGE_SET)])


@registry.action("show_news")
async def show_news(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Whether the family gets the centre's news now (off unless they said yes)."""
    on = bool(turn.family.announcements_ok)
    turn.set_var(NEWS_VAR, "on" if on else "off")
    return ActionResult(texts=[turn.t(NEWS_ON if on else NEWS_OFF)])


@registry.action("set_news")
async def set_news(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Turn the centre's news on (`enable: true`, needs consent) or off."""
    on = bool(args.get("enable"))
    if on and not turn.consented:  # a "yes" is stored: consent first, then back here
        await turn.services.engine.gate(turn, "settings:news")
        return ActionResult(stop=True)
    turn.family.announcements_ok = on
    if not on:  # news already queued for them is not sent either
        lanes = [f"{i.channel}:{i.chat_id}" for i in turn.family.identities]
        await turn.services.outbox.withdraw(turn.session, lanes, lowest=Priority.ANNOUNCEMENT)
    turn.set_var(NEWS_VAR, "on" if on else "off")
    turn.event("news_on" if on else "news_off")
    return ActionResult(texts=[turn.t(NEWS_TURNED_ON if on else NEWS_TURNED_OFF)])


async def _count(turn: Turn, model: type[Case] | type[OrgRequest], family_id: int) -> int:
    return int(
        await turn.session.scalar(
            select(func.count()).select_from(model).where(model.family_id == family_id)
        )
        or 0
    )


@registry.action("forget")
async def forget(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """Delete the family and everything tied to it; say exactly what was deleted."""
    session = turn.session
    family_id = turn.family.id
    answers = len(turn.vars)
    cases = await _count(turn, Case, family_id)
    requests = await _count(turn, OrgRequest, family_id)
    identity_ids = select(Identity.id).where(Identity.family_id == family_id)
    messages = int(
        await session.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(ChatMessage.identity_id.in_(identity_ids))
        )
        or 0
    )
    chats = (
        await session.execute(
            select(Identity.channel, Identity.chat_id).where(Identity.family_id == family_id)
        )
    ).all()
    identities = len(chats)
    channels = sorted({channel for channel, _ in chats})
    consent = turn.consented
    codes = await active_voucher_count(turn)
    card = await family_card_of(turn)
    nothing = not (answers or cases or requests or consent or codes or card)
    # Notices and news still waiting for any of the family's chats are not sent
    # (the conversation's own answers may still go): before the rows are gone.
    lanes = [f"{channel}:{chat_id}" for channel, chat_id in chats]
    await turn.services.outbox.withdraw(session, lanes, lowest=Priority.NOTICE)
    session.expunge_all()
    await session.execute(delete(Family).where(Family.id == family_id))
    turn.forgotten = True
    turn.event("forget")
    turn.effects.append(Effect(EffectKind.FORGET))
    if nothing:
        text = turn.t(texts.FORGET_NOTHING)
    else:
        text = turn.t(
            texts.FORGET_DONE,
            answers=answers,
            cases=cases,
            requests=requests,
            messages=messages,
            identities=identities,
            consent=turn.t(texts.YES if consent else texts.NO),
        )
    if len(channels) > 1:  # one profile in several messengers: gone from all of them
        text = f"{text}\n\n{turn.t(FORGET_LINKED, channels=channels_text(turn, channels))}"
    if card:  # deleted with the family (the foreign key cascades)
        text = f"{text}\n\n{turn.t(FORGET_CARD)}"
    if codes:  # vouchers lose their link to the family, not their worth
        text = f"{text}\n\n{turn.t(FORGET_VOUCHERS, count=codes)}"
    turn.say(text, [[menu_button(turn)]], node="menu:forgotten")
    return ActionResult(stop=True)
