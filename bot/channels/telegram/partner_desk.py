"""Partner staff at the shop counter, in Telegram: `/link CODE` links a staff
account (the code comes from the admin panel), then `/check CODE` checks a voucher
and a «Погасить» button under a valid one redeems it.

The policy — limits on wrong codes, audit records, the words — is the partner
page's, from `bot.vouchers.desk`. These commands never reach the families' front
door: no Family row, no journey. `/check` from anyone who is not linked partner
staff is not handled here at all, so to a family the command does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from aiogram import Bot
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.core.services import Services
from bot.core.types import Incoming
from bot.storage.models import StaffUser
from bot.vouchers import desk, service, staff_link

log = logging.getLogger(__name__)
T = TypeVar("T")

REDEEM_PREFIX = "vr:"  # + the normalised code: 15 bytes, well within callback data's 64
LINKED = "Готово: теперь можно проверять коды командой /check КОД"
LINKED_CONSULTANT = (
    "Готово: Telegram привязан. Теперь можно брать обращения и отвечать семьям "
    "в темах группы консультантов."
)
LINK_REFUSED = (
    "Этот код не подходит. Если вы сотрудник организации-партнёра, получите новый код "
    "в панели управления: «Моя организация» → «Привязать Telegram»."
)
LINK_LOCKED = "Слишком много неверных кодов. Попробуйте снова через {minutes} мин."
CHECK_EMPTY = "Отправьте код после команды, например: /check 7KQM-2F9X-D4HB"


class Call(Protocol):
    """The adapter's guarded Bot API call (retries, flood waits, never raises)."""

    async def __call__(
        self, make: Callable[[], Awaitable[T]], *, incoming: Incoming | None
    ) -> T | None: ...


def command(text: str | None) -> tuple[str, str]:
    """`/Check@shop_bot 7kqm-…` → ("check", "7kqm-…"); ("", "") for anything else."""
    if not text or not text.startswith("/"):
        return "", ""
    head, _, rest = text.strip().partition(" ")
    return head[1:].split("@", 1)[0].lower(), rest.strip()


def result_text(result: service.Check, typed: str) -> str:
    """The check's answer in the partner page's words: title, meaning, the facts."""
    lines = [f"{desk.icon(result)} {desk.title(result)}"]
    said = desk.detail(result, typed)
    if said:
        lines.append(said)
    facts = desk.facts(result)
    if facts:
        lines.append("\n".join(f"{fact.label}: {fact.value}" for fact in facts))
    if result.status == "valid":
        lines.append(desk.REDEEM_HINT)
    return "\n\n".join(lines)


def redeem_keyboard(result: service.Check) -> InlineKeyboardMarkup | None:
    if result.status != "valid":
        return None
    button = InlineKeyboardButton(
        text=desk.REDEEM_BUTTON, callback_data=REDEEM_PREFIX + result.code
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


class PartnerDesk:
    def __init__(self, services: Services, bot: Bot, call: Call) -> None:
        self.services = services
        self.bot = bot
        self.call = call

    # -- the hooks the adapter calls first: True means "handled, stop here" ----------
    async def on_message(self, message: Message) -> bool:
        user = message.from_user
        name, argument = command(message.text)
        if user is None or name not in ("link", "check"):
            return False
        telegram_id = str(user.id)
        if name == "link":
            await self._link(message.chat.id, telegram_id, argument)
            return True
        staff = await self._staff(telegram_id)
        if staff is None:
            return False  # a family's message like any other
        await self._check(message.chat.id, staff, argument[: desk.TYPED_MAX], redeem=False)
        return True

    async def on_callback(self, callback: CallbackQuery) -> bool:
        data = callback.data or ""
        if not data.startswith(REDEEM_PREFIX):
            return False
        staff = await self._staff(str(callback.from_user.id))
        if staff is None:
            return False
        chat_id = callback.message.chat.id if callback.message else callback.from_user.id
        outcome = await self._check(
            chat_id, staff, data[len(REDEEM_PREFIX) :][: desk.TYPED_MAX], redeem=True
        )
        # The spinner stops with the result's title; the message below says the rest.
        toast = desk.title(outcome.result) if outcome.result is not None else None
        await self.call(lambda: callback.answer(toast), incoming=None)
        return True

    # -- the commands -------------------------------------------------------------
    async def _staff(self, telegram_id: str) -> StaffUser | None:
        async with self.services.db.session() as session:
            return await staff_link.linked_staff(session, telegram_id)

    async def _link(self, chat_id: int, telegram_id: str, typed: str) -> None:
        async with self.services.db.session() as session:
            linking = await staff_link.link(session, telegram_id, typed)
        if linking.user is not None:
            log.info("a staff account linked its Telegram")
            text = LINKED if linking.user.role == "partner" else LINKED_CONSULTANT
        elif linking.locked_until is not None:
            text = LINK_LOCKED.format(minutes=desk.minutes_left(linking.locked_until))
        else:
            text = LINK_REFUSED
        await self._say(chat_id, text)

    async def _check(
        self, chat_id: int, staff: StaffUser, typed: str, *, redeem: bool
    ) -> desk.Outcome:
        if staff.partner_id is None:
            await self._say(chat_id, desk.NO_PARTNER)
            return desk.Outcome()
        if not typed:
            await self._say(chat_id, CHECK_EMPTY)
            return desk.Outcome()
        clerk = desk.Clerk(user_id=staff.id, login=staff.login, partner_id=staff.partner_id)
        outcome = await desk.look_up(
            self.services, clerk, typed, [desk.account(staff.id)], redeem=redeem
        )
        if outcome.locked_until is not None:
            await self._say(chat_id, desk.locked_message(outcome.locked_until))
        elif outcome.result is not None:
            result = outcome.result
            await self._say(chat_id, result_text(result, typed), redeem_keyboard(result))
        return outcome

    async def _say(
        self, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None = None
    ) -> None:
        # Plain text: a typed code is echoed back and must not be read as markup.
        await self.call(
            lambda: self.bot.send_message(chat_id, text, reply_markup=keyboard), incoming=None
        )
