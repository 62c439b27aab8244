"""The family's side of a consultation, inside the family's turn (after triage).

While a consultant holds the case, what the family writes goes to them and the
journeys stay quiet; commands and menu buttons still work. After the chat the
family rates it (1–5, an optional comment); a follow-up "how are you?" reopens
the case when the family answers it.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.consult import delivery, desk, routing, texts
from bot.core import cases
from bot.core.turn import Turn
from bot.core.types import Button
from bot.storage.models import Case, CaseMessage, StaffUser, utcnow

# Buttons of consultation messages: cs.<case>.rate.<1-5> | cs.<case>.skip | cs.<case>.fu.ok|help
PAYLOAD = re.compile(r"^cs\.(\d{1,9})\.(rate\.[1-5]|skip|fu\.ok|fu\.help)$")
RATING_CASE = "_rating_case"  # conversation vars: waiting for a rating comment
FOLLOW_UP_CASE = "_follow_up_case"  # a follow-up was sent: an answer reopens the case
COMMENT_MAX = 1000
ATTACHMENT_LABELS = {
    "photo": "📷 фото",
    "video": "🎬 видео",
    "voice": "🎤 голосовое",
    "document": "📎 файл",
    "sticker": "стикер",
    "location": "📍 место",
    "contact": "👤 контакт",
}


def _menu(turn: Turn) -> Button:
    # Imported late: the engine loads the actions, which load this module.
    from bot.journeys.engine import menu_button

    return menu_button(turn)


def _is_command(turn: Turn) -> bool:
    return (turn.incoming.text or "").lstrip().startswith("/")


async def intercept(turn: Turn) -> bool:
    """Handle the turn as part of a consultation; False = the journeys answer it."""
    incoming = turn.incoming
    if incoming.payload is not None:
        match = PAYLOAD.match(incoming.payload)
        if match is None:
            return False
        await _button(turn, int(match.group(1)), match.group(2))
        return True
    if _is_command(turn):
        return False
    vars_ = turn.vars
    live = turn.conversation.live_case_id
    if live is not None:
        item = await turn.session.get(Case, live)
        if item is not None and item.status == "open":
            await relay(turn, item)
            return True
        turn.conversation.live_case_id = None
    has_words = bool((incoming.text or "").strip())
    if RATING_CASE in vars_ and has_words and not incoming.edited:
        await _comment(turn, int(vars_[RATING_CASE]), (incoming.text or "").strip())
        return True
    if FOLLOW_UP_CASE in vars_ and (has_words or incoming.attachment) and not incoming.edited:
        item = await turn.session.get(Case, int(vars_[FOLLOW_UP_CASE]))
        turn.drop_vars(FOLLOW_UP_CASE)
        if item is not None and item.family_id == turn.family.id and item.status == "closed":
            await reopen(turn, item)
            if turn.conversation.live_case_id == item.id:
                await relay(turn, item)
            return True
    return False


async def relay(turn: Turn, item: Case, *, danger: bool = False) -> None:
    """The family's message to the consultant (text, media, or an edit)."""
    incoming, services, session = turn.incoming, turn.services, turn.session
    text = (incoming.text or "").strip()[: desk.TEXT_MAX]
    kind = incoming.attachment.value if incoming.attachment else None
    if incoming.edited and incoming.message_id:
        earlier = await session.scalar(
            select(CaseMessage)
            .where(CaseMessage.case_id == item.id, CaseMessage.author == "family")
            .where(CaseMessage.family_message_id == incoming.message_id)
            .limit(1)
        )
        if earlier is not None:
            earlier.text, earlier.edited_at = text, utcnow()
            chat = delivery.staff_chat(services)
            # Asked in this order, so a delivery landing in between is seen either way.
            pending = await delivery.on_its_way(session, earlier.id)
            await session.refresh(earlier, ["staff_message_id"])
            if chat is not None and (earlier.staff_message_id or pending):
                services.outbox.enqueue(
                    session,
                    channel="telegram",
                    chat_id=chat,
                    kind="edit",
                    payload={
                        "message_id": earlier.staff_message_id,
                        "ref": "staff",
                        "text": text,
                        "caption": bool(earlier.attachment),
                    },
                    case_id=item.id,
                    case_message_id=earlier.id,
                )
            else:
                delivery.to_topic(services, session, item, f"✏️ Семья исправила сообщение: {text}")
            return
    message = CaseMessage(
        case_id=item.id,
        author="family",
        text=text,
        attachment=kind,
        file_id=None,
        family_message_id=incoming.message_id,
    )
    session.add(message)
    await session.flush()
    item.updated_at = utcnow()
    if danger:
        delivery.to_topic(
            services,
            session,
            item,
            "🔴 Проверка на опасность сработала на следующем сообщении семьи — "
            "бот уже дал ей телефоны экстренной помощи.",
        )
    chat = delivery.staff_chat(services)
    if chat is None:
        return
    if incoming.channel.value == "telegram" and incoming.message_id:
        services.outbox.enqueue(
            session,
            channel="telegram",
            chat_id=chat,
            kind="copy",
            payload={
                "from_chat_id": incoming.chat_id,
                "message_id": incoming.message_id,
                "thread": True,
                "side": "staff",
            },
            case_id=item.id,
            case_message_id=message.id,
        )
    else:
        shown = text or ATTACHMENT_LABELS.get(kind or "", "вложение")
        delivery.to_topic(services, session, item, f"👤 Семья: {shown}", case_message_id=message.id)


async def queue_note(turn: Turn, item: Case) -> str:
    """What the family is told about waiting: place in the queue and the usual
    wait, or when consultants are back (off hours). An already-held case
    reconnects the family with its consultant."""
    services = turn.services
    if item.status == "open" and item.consultant_id is not None:
        consultant = await turn.session.get(StaffUser, item.consultant_id)
        turn.conversation.live_case_id = item.id
        name = consultant.name.strip() if consultant is not None else ""
        name = name or turn.t(cases.SPECIALTY_TEXTS[item.specialty])
        delivery.to_topic(services, turn.session, item, "👤 Семья снова на связи и пишет сюда.")
        return turn.t(texts.LIVE_MENU_NOTE, name=name)
    now = utcnow()
    hours = routing.centre_schedule(services.settings)
    if hours is not None and not hours.is_open(now):
        back = hours.next_open(now)
        if back is None:
            return turn.t(texts.NO_SCHEDULE)
        return turn.t(texts.OFF_HOURS, day=back.strftime("%d.%m"), time=back.strftime("%H:%M"))
    ahead = await routing.ahead_of(turn.session, item)
    minutes = await routing.typical_wait(
        turn.session, item.specialty, services.settings.case_sla_minutes
    )
    # Past two hours, minutes are hard to picture: say hours.
    wait = (
        turn.t(texts.WAIT_MINUTES, minutes=minutes)
        if minutes < 120
        else turn.t(texts.WAIT_HOURS, hours=round(minutes / 60))
    )
    if ahead:
        return turn.t(texts.QUEUE_AHEAD, ahead=ahead, wait=wait)
    return turn.t(texts.QUEUE_FIRST, wait=wait)


async def relay_after_crisis(turn: Turn, case_id: int) -> None:
    item = await turn.session.get(Case, case_id)
    if item is not None and item.status == "open":
        turn.conversation.live_case_id = item.id  # the crisis screen does not end the chat
        await relay(turn, item, danger=True)


async def _button(turn: Turn, case_id: int, action: str) -> None:
    item = await turn.session.get(Case, case_id)
    if item is None or item.family_id != turn.family.id:
        await turn.services.engine.rerender(turn)
        return
    services, session = turn.services, turn.session
    if action.startswith("rate."):
        if item.status != "closed" or item.rating is not None:
            turn.say(turn.t(texts.RATING_DONE), [[_menu(turn)]])
            return
        item.rating = int(action.split(".")[1])
        turn.set_var(RATING_CASE, item.id)
        turn.event("rating", str(item.rating))
        delivery.to_topic(services, session, item, f"⭐ Оценка семьи: {item.rating} из 5")
        skip = Button(turn.t(texts.RATING_SKIP), f"cs.{item.id}.skip")
        turn.say(turn.t(texts.RATED), [[skip], [_menu(turn)]])
    elif action == "skip":
        turn.drop_vars(RATING_CASE)
        await turn.services.engine.menu(turn)
    elif action == "fu.ok":
        turn.drop_vars(FOLLOW_UP_CASE)
        delivery.to_topic(
            services, session, item, "👍 Семья ответила на вопрос «как дела»: всё хорошо."
        )
        turn.say(turn.t(texts.FOLLOW_UP_GLAD), [[_menu(turn)]])
    elif action == "fu.help":
        turn.drop_vars(FOLLOW_UP_CASE)
        if item.status == "closed":
            await reopen(turn, item)
        else:
            turn.say(turn.t(texts.WAITING, number=item.id), [[_menu(turn)]])


async def _comment(turn: Turn, case_id: int, text: str) -> None:
    turn.drop_vars(RATING_CASE)
    item = await turn.session.get(Case, case_id)
    if item is not None and item.family_id == turn.family.id:
        item.rating_comment = text[:COMMENT_MAX]
        delivery.to_topic(
            turn.services, turn.session, item, f"💬 Отзыв семьи: {item.rating_comment}"
        )
    turn.say(turn.t(texts.COMMENT_THANKS), [[_menu(turn)]])


async def reopen(turn: Turn, item: Case) -> None:
    """The family answered a follow-up: the case is open again — with the same
    consultant when they can take it, otherwise back in the queue."""
    services, session = turn.services, turn.session
    now = utcnow()
    consultant = await session.get(StaffUser, item.consultant_id) if item.consultant_id else None
    same = (
        consultant is not None
        and routing.may_handle(consultant, item.specialty)
        and not (await routing.load_of(session, consultant)).full
    )
    item.closed_at, item.updated_at, item.rating, item.rating_comment = None, now, None, ""
    item.follow_up_at = None
    if same and consultant is not None:
        routing.assign(item, consultant.id, now)
        turn.conversation.live_case_id = item.id
    else:
        routing.requeue(item, now)
    session.add(
        CaseMessage(
            case_id=item.id, author="service", text="Семья ответила — обращение снова открыто."
        )
    )
    delivery.topic_op(services, session, item, "topic_reopen")
    delivery.to_topic(
        services,
        session,
        item,
        "🔁 Семья ответила на вопрос «как дела» — обращение снова открыто"
        + (
            f" и снова у {desk.display_name(consultant)}."
            if same and consultant
            else ", оно в очереди."
        ),
        desk.card_buttons(item),
    )
    if same and consultant is not None and consultant.telegram_user_id:
        delivery.to_person(
            services,
            session,
            consultant.telegram_user_id,
            f"Семья по обращению №{item.id} ответила — разговор продолжается.",
        )
    turn.event("case_reopened", item.topic)
    turn.say(turn.t(texts.REOPENED, number=item.id), [[_menu(turn)]])
