"""What a consultant does with a case, from the staff group or the web inbox:
take, answer, note, transfer, close, schedule a follow-up.

Each operation is one transaction: the case changes, the message is kept, and
everything to send (to the family, into the topic) is queued in the outbox with
it. Answers for staff are Russian sentences, shown as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.consult import delivery, routing, texts
from bot.consult.card import handoff_card, specialty_name, topic_name
from bot.core import cases
from bot.storage import audit as audit_log
from bot.storage.models import (
    SPECIALTIES,
    Case,
    CaseMessage,
    Conversation,
    Family,
    StaffUser,
    utcnow,
)

if TYPE_CHECKING:
    from bot.core.services import Services

FOLLOW_UP_MAX_DAYS = 60
TEXT_MAX = 4000
TOPIC_HINT = "Взять: кнопка ниже или /take. Команды: /help"  # the card's last line in Telegram
SENT = "Сообщение отправлено семье."
RATING_LABELS = {1: "1", 2: "2", 3: "3", 4: "4", 5: "5 ⭐"}
NOT_FOUND = "Обращение не найдено."
DAYS_RANGE = f"Через сколько дней спросить, как дела? От 1 до {FOLLOW_UP_MAX_DAYS}."
# How staff may name a specialty when transferring.
SPECIALTY_WORDS = {
    "психолог": "psychologist",
    "psychologist": "psychologist",
    "юрист": "lawyer",
    "lawyer": "lawyer",
    "соц": "social",
    "социальный": "social",
    "social": "social",
    "кризис": "crisis",
    "кризисный": "crisis",
    "crisis": "crisis",
}


@dataclass(frozen=True, slots=True)
class Done:
    ok: bool
    message: str


def card_buttons(item: Case) -> delivery.ButtonRows:
    if item.status == "closed":
        return []
    rows: delivery.ButtonRows = []
    if item.status == "new":
        rows.append([("✋ Взять", f"cs.{item.id}.take")])
    rows.append(
        [
            (f"→ {specialty_name(s)}", f"cs.{item.id}.to.{s}")
            for s in SPECIALTIES
            if s != item.specialty
        ]
    )
    return rows


async def announce(services: Services, session: AsyncSession, item: Case) -> None:
    """A new case: its topic and handoff card in the staff group; danger alerts at once."""
    if delivery.staff_chat(services) is not None:
        delivery.topic_op(services, session, item, "topic", name=topic_name(item))
        family = await session.get(Family, item.family_id)
        card = await handoff_card(session, item, family, services)
        delivery.to_topic(services, session, item, f"{card}\n\n{TOPIC_HINT}", card_buttons(item))
    if item.priority == "urgent":
        await alert(services, session, item, urgent=True)


async def alert(services: Services, session: AsyncSession, item: Case, *, urgent: bool) -> None:
    """Tell the coordinator and everyone on duty for this specialty."""
    now = utcnow()
    waited = int((now - item.queued_at).total_seconds() // 60)
    if urgent:
        text = (
            f"🔴 Срочное обращение №{item.id} ({specialty_name(item.specialty)}): "
            "семье может угрожать опасность. Возьмите его, пожалуйста, сейчас."
        )
    else:
        text = (
            f"⏰ Обращение №{item.id} ({specialty_name(item.specialty)}) ждёт уже {waited} мин. "
            "Возьмите его, пожалуйста."
        )
    delivery.to_group(services, session, text)
    people = await routing.on_duty(session, services.settings, item.specialty, now)
    people += await routing.coordinators(session)
    for person in {p.id: p for p in people}.values():
        if person.telegram_user_id:
            delivery.to_person(services, session, person.telegram_user_id, text)
    item.alerted_at = now


async def _case(session: AsyncSession, case_id: int) -> Case | None:
    return await session.scalar(select(Case).where(Case.id == case_id).with_for_update())


async def _staff(session: AsyncSession, staff_id: int) -> StaffUser | None:
    user = await session.get(StaffUser, staff_id)
    return user if user is not None and user.active else None


def _audit(
    session: AsyncSession, user: StaffUser, action: str, item: Case, **after: object
) -> None:
    audit_log.add(session, user, action, "case", item.id, after=dict(after))


def _service_note(session: AsyncSession, item: Case, text: str, user: StaffUser | None) -> None:
    session.add(
        CaseMessage(
            case_id=item.id, author="service", text=text, staff_id=user.id if user else None
        )
    )


def may_act(user: StaffUser, item: Case) -> bool:
    """The holder, the manager, or (for a case nobody holds) a consultant of its specialty."""
    if user.role == "admin" or item.consultant_id == user.id:
        return True
    return item.consultant_id is None and routing.may_handle(user, item.specialty)


def display_name(user: StaffUser) -> str:
    return user.name.strip() or user.login


async def _link_family(session: AsyncSession, item: Case, live: bool) -> None:
    conversation = await session.get(Conversation, item.family_id)
    if conversation is None:
        return
    if live:
        conversation.live_case_id = item.id
    elif conversation.live_case_id == item.id:
        conversation.live_case_id = None


async def take(services: Services, case_id: int, staff_id: int) -> Done:
    async with services.db.session() as session:
        item, user = await _case(session, case_id), await _staff(session, staff_id)
        if item is None or user is None:
            return Done(False, NOT_FOUND)
        if item.status == "closed":
            return Done(False, f"Обращение №{item.id} уже закрыто.")
        if item.consultant_id == user.id and item.status == "open":
            return Done(True, f"Обращение №{item.id} уже у вас.")
        if item.status == "open" and item.consultant_id is not None:
            holder = await session.get(StaffUser, item.consultant_id)
            who = display_name(holder) if holder else "коллега"
            return Done(False, f"Обращение №{item.id} уже ведёт {who}.")
        if not routing.may_handle(user, item.specialty):
            return Done(
                False,
                f"Обращение №{item.id} — для специальности «{specialty_name(item.specialty)}»; "
                "её нет в вашей учётной записи.",
            )
        load = await routing.load_of(session, user)
        if load.full:
            return Done(
                False,
                f"У вас уже {load.open_cases} открытых чатов (предел {load.limit}). "
                "Закройте один или передайте обращение коллеге.",
            )
        now = utcnow()
        routing.assign(item, user.id, now)
        item.updated_at = now
        await _link_family(session, item, live=True)
        name = display_name(user)
        _service_note(session, item, f"{name} взял(а) обращение.", user)
        _audit(session, user, "take", item, consultant=user.login)
        chat = await delivery.family_chat(session, item)
        delivery.tell_family(
            services, session, item, chat.identity, _joined(services, chat, user, item.specialty)
        )
        delivery.to_topic(
            services,
            session,
            item,
            f"✋ Обращение взял(а) {name}. Пишите здесь — семья получит ответ в своём чате.",
        )
        return Done(True, f"Обращение №{item.id} теперь у вас.")


def _joined(services: Services, chat: delivery.FamilyChat, user: StaffUser, specialty: str) -> str:
    """«К вам подключается Анна — психолог» (or the specialty alone, without a name)."""
    name = delivery.say(services, chat.language, cases.SPECIALTY_TEXTS[specialty])
    if user.name.strip():
        return delivery.say(
            services, chat.language, texts.JOINED, name=user.name.strip(), specialty=name
        )
    return delivery.say(services, chat.language, texts.JOINED_NO_NAME, specialty=name.capitalize())


def _rename(services: Services, session: AsyncSession, item: Case) -> None:
    delivery.topic_op(services, session, item, "topic_name", name=topic_name(item))


def parse_specialty(word: str) -> str | None:
    return SPECIALTY_WORDS.get(word.strip().lower().rstrip("."))


async def transfer(
    services: Services,
    case_id: int,
    staff_id: int,
    *,
    specialty: str | None = None,
    to_login: str | None = None,
) -> Done:
    """Back to the queue of another specialty, or straight to a named colleague."""
    async with services.db.session() as session:
        item, user = await _case(session, case_id), await _staff(session, staff_id)
        if item is None or user is None:
            return Done(False, NOT_FOUND)
        if item.status == "closed":
            return Done(False, f"Обращение №{item.id} уже закрыто.")
        if not may_act(user, item):
            return Done(False, "Передать обращение может тот, кто его ведёт, или руководитель.")
        target: StaffUser | None = None
        if to_login:
            target = await session.scalar(
                select(StaffUser).where(StaffUser.login == to_login.strip().lstrip("@"))
            )
            if target is None or not target.active:
                return Done(False, f"Нет активной учётной записи «{to_login}».")
            specialty = specialty or (
                item.specialty
                if routing.may_handle(target, item.specialty)
                else next(iter(target.specialties or []), None)
            )
            if specialty is None or not routing.may_handle(target, specialty):
                return Done(False, f"{display_name(target)} не ведёт такие обращения.")
            if (await routing.load_of(session, target)).full:
                return Done(False, f"У {display_name(target)} сейчас нет свободных чатов.")
        if specialty is None or specialty not in SPECIALTIES:
            return Done(False, "Кому передать? Например: /transfer юрист")
        if target is None and specialty == item.specialty and item.status == "new":
            return Done(
                False, f"Обращение №{item.id} и так ждёт специалиста: {specialty_name(specialty)}."
            )
        now = utcnow()
        before = item.specialty
        item.specialty, item.updated_at = specialty, now
        if target is not None:
            routing.assign(item, target.id, now)
        else:
            routing.requeue(item, now)
        await _link_family(session, item, live=target is not None)
        who = display_name(target) if target else specialty_name(specialty)
        _service_note(session, item, f"{display_name(user)} передал(а) обращение: {who}.", user)
        _audit(
            session,
            user,
            "transfer",
            item,
            specialty_before=before,
            specialty=specialty,
            to=target.login if target else None,
        )
        chat = await delivery.family_chat(session, item)
        name = delivery.say(services, chat.language, cases.SPECIALTY_TEXTS[specialty])
        moved = delivery.say(services, chat.language, texts.TRANSFERRED, specialty=name)
        delivery.tell_family(services, session, item, chat.identity, moved)
        if target is not None and target.name.strip():
            joined = _joined(services, chat, target, specialty)
            delivery.tell_family(services, session, item, chat.identity, joined)
        delivery.to_topic(services, session, item, f"↪️ Передано: {who}.", card_buttons(item))
        _rename(services, session, item)
        if target is not None and target.telegram_user_id:
            delivery.to_person(
                services,
                session,
                target.telegram_user_id,
                f"Вам передано обращение №{item.id} ({specialty_name(specialty)}).",
            )
        return Done(True, f"Обращение №{item.id} передано: {who}.")


async def close(
    services: Services, case_id: int, staff_id: int, follow_up_days: int | None = None
) -> Done:
    async with services.db.session() as session:
        item, user = await _case(session, case_id), await _staff(session, staff_id)
        if item is None or user is None:
            return Done(False, NOT_FOUND)
        if item.status == "closed":
            return Done(False, f"Обращение №{item.id} уже закрыто.")
        if not may_act(user, item):
            return Done(False, "Закрыть обращение может тот, кто его ведёт, или руководитель.")
        if follow_up_days is not None and not 1 <= follow_up_days <= FOLLOW_UP_MAX_DAYS:
            return Done(False, DAYS_RANGE)
        now = utcnow()
        item.status, item.closed_at, item.updated_at = "closed", now, now
        if item.consultant_id is None:
            item.consultant_id = user.id
        if follow_up_days:
            item.follow_up_at, item.follow_up_sent_at = now + timedelta(days=follow_up_days), None
        await _link_family(session, item, live=False)
        _service_note(session, item, f"{display_name(user)} завершил(а) консультацию.", user)
        _audit(session, user, "close", item, follow_up_days=follow_up_days)
        chat = await delivery.family_chat(session, item)
        if not chat.quiet:
            scores = [[(RATING_LABELS[n], f"cs.{item.id}.rate.{n}") for n in range(1, 6)]]
            ended = delivery.say(services, chat.language, texts.ENDED)
            delivery.tell_family(services, session, item, chat.identity, ended, scores)
        later = (
            f" Через {follow_up_days} дн. бот спросит семью, как дела." if follow_up_days else ""
        )
        delivery.to_topic(
            services, session, item, f"✅ Консультация завершена ({display_name(user)}).{later}"
        )
        delivery.topic_op(services, session, item, "topic_close")
        return Done(True, f"Обращение №{item.id} закрыто.{later}")


async def follow_up(services: Services, case_id: int, staff_id: int, days: int) -> Done:
    async with services.db.session() as session:
        item, user = await _case(session, case_id), await _staff(session, staff_id)
        if item is None or user is None:
            return Done(False, NOT_FOUND)
        if not 1 <= days <= FOLLOW_UP_MAX_DAYS:
            return Done(False, DAYS_RANGE)
        if not may_act(user, item):
            return Done(False, "Спросить семью может тот, кто ведёт обращение, или руководитель.")
        item.follow_up_at, item.follow_up_sent_at = utcnow() + timedelta(days=days), None
        _audit(session, user, "follow_up", item, days=days)
        _service_note(session, item, f"Через {days} дн. бот спросит семью, как дела.", user)
        return Done(True, f"Хорошо: через {days} дн. бот спросит семью, как дела.")


async def note(services: Services, case_id: int, staff_id: int, text: str) -> Done:
    text = text.strip()[:TEXT_MAX]
    if not text:
        return Done(False, "Пустая заметка: напишите текст после /note.")
    async with services.db.session() as session:
        item, user = await _case(session, case_id), await _staff(session, staff_id)
        if item is None or user is None:
            return Done(False, NOT_FOUND)
        if not (may_act(user, item) or routing.may_handle(user, item.specialty)):
            return Done(False, "Заметки к этому обращению могут оставлять его специалисты.")
        session.add(CaseMessage(case_id=item.id, author="note", staff_id=user.id, text=text))
        return Done(True, "📝 Заметка сохранена (семья её не видит).")


@dataclass(frozen=True, slots=True)
class Source:
    """A consultant's message in the staff group (to copy it with its media)."""

    chat_id: str
    message_id: str
    attachment: str | None = None
    file_id: str | None = None


async def reply(
    services: Services, case_id: int, staff_id: int, text: str, source: Source | None = None
) -> Done:
    """The consultant answers: the family gets it in its own chat."""
    text = text.strip()[:TEXT_MAX]
    if not text and source is None:
        return Done(False, "Пустое сообщение не отправлено.")
    async with services.db.session() as session:
        item, user = await _case(session, case_id), await _staff(session, staff_id)
        if item is None or user is None:
            return Done(False, NOT_FOUND)
        if item.status != "open" or item.consultant_id != user.id:
            holder = (
                await session.get(StaffUser, item.consultant_id) if item.consultant_id else None
            )
            if item.status == "closed":
                return Done(False, f"Обращение №{item.id} закрыто — сообщение не отправлено семье.")
            if holder is None:
                return Done(False, "Сначала возьмите обращение — тогда семья получит ответ.")
            return Done(
                False,
                f"Обращение ведёт {display_name(holder)}: сообщение семье не отправлено. "
                "Своё можно оставить заметкой.",
            )
        conversation = await session.get(Conversation, item.family_id)
        if conversation is None or conversation.live_case_id != item.id:
            return Done(
                False,
                "Семья вышла из чата (нажала «Быстрый выход» или удалила данные): "
                "писать первыми нельзя, переписку могут увидеть. "
                "Когда семья напишет снова, разговор продолжится.",
            )
        chat = await delivery.family_chat(session, item)
        identity = chat.identity
        if identity is None:
            return Done(False, "Семью сейчас не достать: чат заблокирован или удалён.")
        message = CaseMessage(
            case_id=item.id,
            author="consultant",
            staff_id=user.id,
            text=text,
            attachment=source.attachment if source else None,
            file_id=source.file_id if source else None,
            staff_message_id=source.message_id if source else None,
        )
        session.add(message)
        await session.flush()
        if source is not None and identity.channel == "telegram":
            services.outbox.enqueue(
                session,
                channel="telegram",
                chat_id=identity.chat_id,
                kind="copy",
                payload={
                    "from_chat_id": source.chat_id,
                    "message_id": source.message_id,
                    "identity_id": identity.id,
                    "side": "family",
                },
                case_id=item.id,
                case_message_id=message.id,
            )
        else:
            shown = text
            if source is not None and source.attachment:
                shown = "\n\n".join(
                    part
                    for part in (
                        text,
                        delivery.say(services, chat.language, texts.NOT_DELIVERED_MEDIA),
                    )
                    if part
                )
            delivery.tell_family(
                services,
                session,
                item,
                identity,
                shown,
                case_message_id=message.id,
                sender="consultant",
            )
            if source is None:
                # Written in the web inbox: the staff topic shows it too.
                delivery.to_topic(
                    services,
                    session,
                    item,
                    f"💬 {display_name(user)}: {text}",
                    case_message_id=message.id,
                )
        item.updated_at = utcnow()
        return Done(True, SENT)


async def edit_reply(services: Services, staff_message_id: str, staff_id: int, text: str) -> Done:
    """The consultant corrected a message in the topic: correct it for the family too."""
    text = text.strip()[:TEXT_MAX]
    async with services.db.session() as session:
        message = await session.scalar(
            select(CaseMessage)
            .where(
                CaseMessage.staff_message_id == staff_message_id,
                CaseMessage.author == "consultant",
                CaseMessage.staff_id == staff_id,
            )
            .order_by(CaseMessage.id.desc())
            .limit(1)
        )
        if message is None or not text:
            return Done(False, "")
        item = await session.get(Case, message.case_id)
        if item is None:
            return Done(False, "")
        message.text, message.edited_at = text, utcnow()
        chat = await delivery.family_chat(session, item)
        identity = chat.identity
        if identity is None:
            return Done(False, "")
        # Asked in this order, so a delivery landing in between is seen one way or the other.
        pending = await delivery.on_its_way(session, message.id)
        await session.refresh(message, ["family_message_id"])
        if identity.channel == "telegram" and (message.family_message_id or pending):
            # Still on its way: the edit follows it in the same chat and takes its id
            # when it goes (`ref`), so it is corrected in place, not sent again.
            services.outbox.enqueue(
                session,
                channel="telegram",
                chat_id=identity.chat_id,
                kind="edit",
                payload={
                    "message_id": message.family_message_id,
                    "ref": "family",
                    "text": text,
                    "caption": bool(message.attachment),
                },
                case_id=item.id,
                case_message_id=message.id,
            )
        else:
            delivery.tell_family(
                services,
                session,
                item,
                identity,
                delivery.say(services, chat.language, texts.EDITED_PREFIX, text=text),
                sender="consultant",
            )
        return Done(True, "")


async def case_for_thread(services: Services, thread_id: int) -> int | None:
    async with services.db.session() as session:
        return await session.scalar(
            select(Case.id).where(Case.thread_id == thread_id).order_by(Case.id.desc()).limit(1)
        )


async def staff_for_telegram(services: Services, telegram_user_id: str) -> StaffUser | None:
    async with services.db.session() as session:
        user = await session.scalar(
            select(StaffUser).where(StaffUser.telegram_user_id == telegram_user_id)
        )
        if user is None or not user.active or user.role not in ("consultant", "admin"):
            return None
        session.expunge(user)
        return user
