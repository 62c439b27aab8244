"""Settings → «Связать Telegram и VK»: show a one-time code here, type it there,
and the two profiles become one (the rules: bot/core/linking.py)."""

from __future__ import annotations

from typing import Any

from bot.actions.registry import ActionResult, registry
from bot.core import linking
from bot.core.i18n import N_
from bot.core.turn import Turn
from bot.core.types import Effect, EffectKind, Reply
from bot.outbound.outbox import Priority, reply_payload
from bot.storage.models import Case

CODE_VAR = "link_code"  # the typed code: dropped at once, never stored

BRANDS = {"telegram": "Telegram", "vk": "VK"}  # the same in every language
CHANNEL_NAMES = {"web": N_("веб-чат"), "cli": N_("консоль")}
BOTH = N_("{first} и {second}")

LINK_CODE = N_(
    "Ваш код: **{code}**\n\n"
    "Откройте «Семейное окно» в другом мессенджере: «Настройки → Связать Telegram и VK → "
    "У меня есть код» — и отправьте этот код. Он действует {minutes} минут и сработает "
    "один раз. Не пересылайте его никому."
)
LINKED = N_(
    "Готово: {channels} теперь один профиль. Обращения, сертификаты, семейная карта и "
    "согласие — общие; отвечать будем туда, откуда вы написали последним."
)
LINK_NOT_A_CODE = N_(
    "Это не похоже на код. Код — 8 букв и цифр, например ABCD-1234: его показывает "
    "другой мессенджер по кнопке «Показать код»."
)
LINK_WRONG = N_(
    "Такой код не подошёл. Проверьте, пожалуйста, буквы и цифры — или покажите в другом "
    "мессенджере новый код."
)
LINK_EXPIRED = N_(
    "Срок этого кода истёк: код действует {minutes} минут. Покажите в другом мессенджере "
    "новый код и отправьте его сюда."
)
LINK_LOCKED = N_(
    "Было слишком много неверных кодов подряд, поэтому я пока их не проверяю. "
    "Попробуйте, пожалуйста, через час."
)
LINK_SAME_FAMILY = N_(
    "Этот код — из этого же профиля: здесь ничего связывать не нужно. Код нужно ввести "
    "в другом мессенджере."
)
LINK_SAME_CHANNEL = N_(
    "К этому профилю уже подключён другой аккаунт {channel}. Два аккаунта одного "
    "мессенджера связать нельзя — ничего не изменилось."
)


LINK_BOTH_LIVE = N_(
    "Сейчас вы разговариваете с консультантом в обоих мессенджерах. Сначала, пожалуйста, "
    "завершите один из этих разговоров — потом профили можно будет связать. Код пока "
    "не использован."
)
LINK_LIVE = N_(
    "Сейчас идёт разговор с консультантом: всё, что вы пишете в этот чат, получает он. "
    "Поэтому код лучше показать здесь, а ввести — в другом мессенджере."
)


def channel_name(turn: Turn, channel: str) -> str:
    if channel in CHANNEL_NAMES:
        return turn.t(CHANNEL_NAMES[channel])
    return BRANDS.get(channel, channel)


def channels_text(turn: Turn, channels: tuple[str, ...] | list[str]) -> str:
    """«Telegram и VK», «Telegram, VK и веб-чат»."""
    names = [channel_name(turn, c) for c in channels]
    if len(names) < 2:
        return "".join(names)
    return turn.t(BOTH, first=", ".join(names[:-1]), second=names[-1])


def _minutes() -> int:
    return int(linking.LIFETIME.total_seconds() // 60)


@registry.action("show_link_code")
async def show_link_code(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """A fresh one-time code for this profile (the previous one stops working)."""
    code = linking.offer_code(turn.family)
    return ActionResult(texts=[turn.t(LINK_CODE, code=code, minutes=_minutes())])


@registry.action("check_link_input")
async def check_link_input(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """A code typed during a live consultation would go to the consultant (and with
    it, a stranger could join the profile): offer to show a code here instead."""
    live = turn.conversation.live_case_id
    if live is not None:
        item = await turn.session.get(Case, live)
        if item is not None and item.status == "open":
            return ActionResult(texts=[turn.t(LINK_LIVE)], goto="link_show")
    return ActionResult()


@registry.action("enter_link_code")
async def enter_link_code(turn: Turn, args: dict[str, Any]) -> ActionResult:
    """A code from the other messenger: join this profile to the one that showed it."""
    typed = str(turn.vars.get(CODE_VAR) or "")
    turn.drop_vars(CODE_VAR)
    found = await linking.link(turn.session, turn.family, turn.identity, typed)
    result = found.result
    if result is not linking.Result.LINKED:
        engine = turn.services.engine
        if result is linking.Result.SAME_FAMILY:
            message = turn.t(LINK_SAME_FAMILY)
        elif result is linking.Result.SAME_CHANNEL:
            message = turn.t(LINK_SAME_CHANNEL, channel=channel_name(turn, turn.identity.channel))
        elif result is linking.Result.BOTH_LIVE:
            message = turn.t(LINK_BOTH_LIVE)
        elif result is linking.Result.LOCKED:
            message = turn.t(LINK_LOCKED)
        elif result is linking.Result.EXPIRED:
            message = turn.t(LINK_EXPIRED, minutes=_minutes())
        elif result is linking.Result.NOT_A_CODE:
            message = turn.t(LINK_NOT_A_CODE)
        else:
            message = turn.t(LINK_WRONG)
        turn.say(message, engine.current_rows(turn))
        return ActionResult(stop=True)
    assert found.target is not None and found.identity is not None
    target = found.target
    assert target.conversation is not None
    turn.family, turn.identity, turn.conversation = target, found.identity, target.conversation
    if turn.language != target.language:
        turn.language = target.language
        turn.effects.append(Effect(EffectKind.LANGUAGE, target.language))
    turn.event("linked", "+".join(found.channels))
    # The other messenger hears it too. Not through `notifier.to_family`: that writes
    # to the one messenger the family used last — this chat, which gets the normal
    # reply. Queued in the turn's transaction, so only if the merge is kept, and
    # never after "safe exit" (someone else may read that phone).
    text = turn.t(LINKED, channels=channels_text(turn, found.channels))
    if target.quiet_at is None:
        for identity in found.others:
            turn.services.outbox.enqueue(
                turn.session,
                channel=identity.channel,
                chat_id=identity.chat_id,
                kind="reply",
                payload=reply_payload(Reply(text), identity_id=identity.id),
                priority=Priority.NOTICE,
            )
    return ActionResult(texts=[text], goto="settings:start")
