"""The consultants' web inbox: the queue, my chats, and a case's conversation.

Everything done to a case goes through `bot.consult.desk`, the same rules as in
the Telegram staff group; this module only scopes, shows and forwards the form.
A consultant sees the cases of their specialties and the ones they hold (any
other address answers 404); the manager (admin) sees all. The pages poll two
small JSON views (inbox.js) so new messages and queue changes show without a
reload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from admin import telegram_link as linking
from admin.knowledge_forms import LANGUAGE_NAMES
from admin.web import (
    ADMIN,
    CONSULTANT,
    Page,
    form,
    int_param,
    not_found,
    page,
    redirect,
    render,
    staff,
    state,
    text,
)
from bot.consult import desk, routing
from bot.consult.card import handoff_card, specialty_name, topic_title
from bot.consult.family import ATTACHMENT_LABELS
from bot.consult.texts import CHANNEL_NAMES, PRIORITY_MARKS
from bot.core import cases
from bot.core.services import Services
from bot.storage.models import (
    SPECIALTIES,
    CannedReply,
    Case,
    CaseMessage,
    Family,
    StaffUser,
    utcnow,
)

ROLES = frozenset({ADMIN, CONSULTANT})
QUEUE_LIMIT = 200
RECENT_CLOSED = 20
SHOWN_MESSAGES = 500  # the latest of a long conversation; older ones stay in the database
JSON_BATCH = 200
PREVIEW = 90  # characters of the last message shown in the list of my chats
POLL_SECONDS = 2.5
DAYS_HELP = f"Через сколько дней спросить семью, как дела? Число от 1 до {desk.FOLLOW_UP_MAX_DAYS}."
UNLINKED = "Telegram отвязан: бот больше не примет от него команды в группе консультантов."
STATUS_NAMES = {"new": "в очереди", "open": "в работе", "closed": "закрыто"}


# -- scope ----------------------------------------------------------------------------
def scope(user: StaffUser) -> ColumnElement[bool]:
    """The cases this person may see: the manager all, a consultant their
    specialties and whatever they hold."""
    if user.role == ADMIN:
        return true()
    return or_(Case.specialty.in_(list(user.specialties or [])), Case.consultant_id == user.id)


def may_see(user: StaffUser, item: Case) -> bool:
    return (
        user.role == ADMIN
        or item.consultant_id == user.id
        or item.specialty in (user.specialties or [])
    )


@dataclass(frozen=True, slots=True)
class Abilities:
    """Which forms the case page offers (the desk checks again when posted)."""

    mine: bool  # I hold it: reply box and canned replies
    take: bool
    manage: bool  # transfer and close
    follow_up: bool


def abilities(user: StaffUser, item: Case) -> Abilities:
    # The desk's own rule, so the page offers exactly what the desk will do.
    allowed = desk.may_act(user, item)
    return Abilities(
        mine=item.status == "open" and item.consultant_id == user.id,
        take=item.status == "new" and routing.may_handle(user, item.specialty),
        manage=item.status != "closed" and allowed,
        follow_up=allowed,
    )


# -- how things read ------------------------------------------------------------------
def waited(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:
        return "меньше минуты"
    if minutes < 60:
        return f"{minutes} мин"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} ч {rest} мин" if rest else f"{hours} ч"
    return f"{minutes // (24 * 60)} дн."


def clock(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    """Today's times as 14:05, older ones with the date."""
    local = moment.astimezone(zone)
    return local.strftime("%H:%M" if local.date() == now.astimezone(zone).date() else "%d.%m %H:%M")


def warnings(item: Case) -> list[str]:
    """The card's risk lines (from the case's signals, never from the family's text)."""
    lines = cases.card(item)
    return lines[: len(lines) - len(item.summary.splitlines())]


def attachment_label(kind: str | None) -> str:
    return ATTACHMENT_LABELS.get(kind, "📎 вложение") if kind else ""


def multiline(value: str) -> str:
    """Browsers send a textarea's line breaks as CRLF: keep one break each."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


@dataclass(frozen=True, slots=True)
class Shown:
    """One message as the page and messages.json show it."""

    id: int
    author: str  # family | consultant | note | service
    who: str
    text: str
    time: str
    edited: bool
    attachment: str


def shown(message: CaseMessage, names: dict[int, str], zone: ZoneInfo, now: datetime) -> Shown:
    name = names.get(message.staff_id or 0, "")
    who = {
        "family": "Семья",
        "consultant": name or "Консультант",
        "note": f"📝 Заметка · {name}" if name else "📝 Заметка",
    }.get(message.author, "")
    return Shown(
        id=message.id,
        author=message.author,
        who=who,
        text=message.text,
        time=clock(message.created_at, zone, now),
        edited=message.edited_at is not None,
        attachment=attachment_label(message.attachment),
    )


async def staff_names(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    people = (await session.scalars(select(StaffUser).where(StaffUser.id.in_(wanted)))).all()
    return {p.id: desk.display_name(p) for p in people}


# -- the lists --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Row:
    item: Case
    waited: str = ""
    warning: str = ""
    holder: str = ""
    last: str = ""  # the last message, shortened
    answer_due: bool = False  # the family wrote last
    when: str = ""


@dataclass(frozen=True, slots=True)
class Summary:
    """What the lists contain, small enough to poll: ids and the latest messages."""

    queue: list[int]
    mine: list[int]
    others: list[int]
    last: dict[int, int]  # my chats: the latest family/consultant message id

    @property
    def version(self) -> str:
        """Changes whenever a list does, or a new message arrives in one of my chats."""
        raw = f"{self.queue}|{[(i, self.last.get(i, 0)) for i in self.mine]}|{self.others}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "queue": len(self.queue),
            "mine": len(self.mine),
            "others": len(self.others),
            "queue_ids": self.queue,
            "mine_ids": self.mine,
        }


def _queue(user: StaffUser) -> Any:
    return (
        select(Case)
        .where(Case.status == "new", scope(user))
        .order_by(*routing.queue_order())
        .limit(QUEUE_LIMIT)
    )


def _open(user: StaffUser, *, mine: bool) -> Any:
    held = Case.consultant_id == user.id if mine else Case.consultant_id != user.id
    return (
        select(Case)
        .where(Case.status == "open", Case.consultant_id.is_not(None), held, scope(user))
        .order_by(Case.updated_at.desc(), Case.id.desc())
        .limit(QUEUE_LIMIT)
    )


async def last_messages(session: AsyncSession, ids: list[int]) -> dict[int, CaseMessage]:
    """Per case, the latest message between the family and the consultant."""
    if not ids:
        return {}
    latest = (
        select(func.max(CaseMessage.id))
        .where(CaseMessage.case_id.in_(ids), CaseMessage.author.in_(("family", "consultant")))
        .group_by(CaseMessage.case_id)
    )
    found = (await session.scalars(select(CaseMessage).where(CaseMessage.id.in_(latest)))).all()
    return {m.case_id: m for m in found}


async def summary(session: AsyncSession, user: StaffUser) -> Summary:
    def ids(query: Any) -> Any:
        return query.with_only_columns(Case.id)

    queue = list((await session.scalars(ids(_queue(user)))).all())
    mine = list((await session.scalars(ids(_open(user, mine=True)))).all())
    others = list((await session.scalars(ids(_open(user, mine=False)))).all())
    last = {i: m.id for i, m in (await last_messages(session, mine)).items()}
    return Summary(queue, mine, others, last)


async def lists(
    session: AsyncSession, user: StaffUser, zone: ZoneInfo, now: datetime
) -> dict[str, list[Row]]:
    queue = [
        Row(item, waited=waited(item.queued_at, now), warning=next(iter(warnings(item)), ""))
        for item in (await session.scalars(_queue(user))).all()
    ]
    held = list((await session.scalars(_open(user, mine=True))).all())
    last = await last_messages(session, [c.id for c in held])
    mine = []
    for item in held:
        message = last.get(item.id)
        preview = ""
        if message is not None:
            preview = message.text or attachment_label(message.attachment)
            if len(preview) > PREVIEW:
                preview = preview[: PREVIEW - 1] + "…"
        mine.append(
            Row(
                item,
                warning=next(iter(warnings(item)), ""),
                last=preview,
                answer_due=message is not None and message.author == "family",
                when=clock(message.created_at, zone, now) if message else "",
            )
        )
    others_found = list((await session.scalars(_open(user, mine=False))).all())
    closed_query = select(Case).where(Case.status == "closed", Case.closed_at.is_not(None))
    if user.role != ADMIN:
        closed_query = closed_query.where(Case.consultant_id == user.id)
    closed_found = list(
        (
            await session.scalars(
                closed_query.order_by(Case.closed_at.desc(), Case.id.desc()).limit(RECENT_CLOSED)
            )
        ).all()
    )
    names = await staff_names(session, [c.consultant_id for c in others_found + closed_found])
    others = [Row(item, holder=names.get(item.consultant_id or 0, "")) for item in others_found]
    closed = [
        Row(
            item,
            holder=names.get(item.consultant_id or 0, ""),
            when=clock(item.closed_at, zone, now) if item.closed_at else "",
        )
        for item in closed_found
    ]
    return {"queue": queue, "mine": mine, "others": others, "closed": closed}


def _names(request: Request) -> dict[str, Any]:
    book = state(request).services.book
    return {
        "specialty_name": specialty_name,
        "topic_label": lambda topic: topic_title(book, topic),
        "PRIORITY_MARKS": PRIORITY_MARKS,
        "CHANNEL_NAMES": CHANNEL_NAMES,
        "LANGUAGE_NAMES": LANGUAGE_NAMES,
        "STATUS_NAMES": STATUS_NAMES,
        "poll_ms": int(POLL_SECONDS * 1000),
    }


async def show_inbox(
    request: Request, status: int = 200, *, error: str = "", link_code: str = ""
) -> Response:
    who = staff(request)
    services = state(request).services
    zone = ZoneInfo(services.settings.timezone)
    now = utcnow()
    async with services.db.session() as session:
        found = await lists(session, who.user, zone, now)
        known = await summary(session, who.user)
        load = await routing.load_of(session, who.user)
        linked = await linking.is_linked(session, who.user.id)
    return render(
        request,
        "inbox.html",
        status=status,
        **found,
        version=known.version,
        load=load,
        error=error,
        may_take={s: routing.may_handle(who.user, s) for s in SPECIALTIES},
        telegram_linked=linked,
        link_code=link_code,
        link_minutes=linking.LINK_MINUTES,
        staff_group=services.settings.staff_group_id is not None,
        **_names(request),
    )


async def inbox(request: Request) -> Response:
    return await show_inbox(request)


async def inbox_state(request: Request) -> Response:
    who = staff(request)
    async with state(request).services.db.session() as session:
        known = await summary(session, who.user)
    return JSONResponse(known.as_json())


# -- one case ---------------------------------------------------------------------------
async def canned_for(session: AsyncSession, item: Case) -> list[CannedReply]:
    """Active ready answers in the family's language, for this specialty or any."""
    return list(
        (
            await session.scalars(
                select(CannedReply)
                .where(CannedReply.active.is_(True), CannedReply.language == item.language)
                .where(CannedReply.specialty.in_(("", item.specialty)))
                .order_by(CannedReply.title, CannedReply.id)
            )
        ).all()
    )


async def colleagues(session: AsyncSession, me: StaffUser) -> list[StaffUser]:
    """Whom a case can be handed to by login: active consultants and managers."""
    return list(
        (
            await session.scalars(
                select(StaffUser)
                .where(StaffUser.active.is_(True), StaffUser.role.in_(("consultant", "admin")))
                .where(StaffUser.id != me.id)
                .order_by(StaffUser.login)
            )
        ).all()
    )


async def show_case(
    request: Request,
    case_id: int,
    status: int = 200,
    *,
    error: str = "",
    typed: dict[str, str] | None = None,
) -> Response:
    who = staff(request)
    services = state(request).services
    zone = ZoneInfo(services.settings.timezone)
    now = utcnow()
    async with services.db.session() as session:
        item = await session.get(Case, case_id)
        if item is None or not may_see(who.user, item):
            return not_found(request)
        family = await session.get(Family, item.family_id)
        card = await handoff_card(session, item, family, services)
        messages = list(
            reversed(
                (
                    await session.scalars(
                        select(CaseMessage)
                        .where(CaseMessage.case_id == item.id)
                        .order_by(CaseMessage.id.desc())
                        .limit(SHOWN_MESSAGES)
                    )
                ).all()
            )
        )
        names = await staff_names(session, [m.staff_id for m in messages] + [item.consultant_id])
        can = abilities(who.user, item)
        canned = await canned_for(session, item) if can.mine else []
        people = await colleagues(session, who.user) if can.manage else []
        load = await routing.load_of(session, who.user)
    return render(
        request,
        "inbox_case.html",
        status=status,
        case=item,
        card=card.splitlines(),
        risks=set(warnings(item)),
        messages=[shown(m, names, zone, now) for m in messages],
        last_id=messages[-1].id if messages else 0,
        now_iso=now.isoformat(),
        holder=names.get(item.consultant_id or 0, ""),
        can=can,
        canned=canned,
        colleagues=people,
        specialties=[(s, specialty_name(s)) for s in SPECIALTIES],
        load=load,
        error=error,
        typed=typed or {},
        follow_up_at=clock(item.follow_up_at, zone, now) if item.follow_up_at else "",
        follow_up_max=desk.FOLLOW_UP_MAX_DAYS,
        follow_up_default=services.settings.follow_up_days,
        text_max=desk.TEXT_MAX,
        **_names(request),
    )


async def inbox_case(request: Request) -> Response:
    return await show_case(request, request.path_params["case_id"])


def moment(value: str | None) -> datetime | None:
    """An ISO time this module handed out earlier (messages.json's `now`)."""
    if not value or len(value) > 40:
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


async def inbox_messages(request: Request) -> Response:
    """New messages after `after` (a message id), the earlier ones edited since
    `since` (the `now` of the previous answer), and the case's status now."""
    who = staff(request)
    services = state(request).services
    zone = ZoneInfo(services.settings.timezone)
    after = int_param(request.query_params.get("after")) or 0
    since = moment(request.query_params.get("since"))
    now = utcnow()
    async with services.db.session() as session:
        item = await session.get(Case, request.path_params["case_id"])
        if item is None or not may_see(who.user, item):
            return JSONResponse({"error": "not found"}, status_code=404)
        found = list(
            (
                await session.scalars(
                    select(CaseMessage)
                    .where(CaseMessage.case_id == item.id, CaseMessage.id > after)
                    .order_by(CaseMessage.id)
                    .limit(JSON_BATCH)
                )
            ).all()
        )
        edited: list[CaseMessage] = []
        if since is not None and after:
            edited = list(
                (
                    await session.scalars(
                        select(CaseMessage)
                        .where(CaseMessage.case_id == item.id, CaseMessage.id <= after)
                        .where(CaseMessage.edited_at > since)
                        .order_by(CaseMessage.id)
                        .limit(JSON_BATCH)
                    )
                ).all()
            )
        ids = [m.staff_id for m in found + edited] + [item.consultant_id]
        names = await staff_names(session, ids)
    return JSONResponse(
        {
            "now": now.isoformat(),
            "status": item.status,
            "status_name": STATUS_NAMES.get(item.status, item.status),
            "consultant_id": item.consultant_id,
            "holder": names.get(item.consultant_id or 0, ""),
            "specialty": item.specialty,
            "messages": [asdict(shown(m, names, zone, now)) for m in found],
            "edited": [asdict(shown(m, names, zone, now)) for m in edited],
        }
    )


# -- what a consultant does (each through bot.consult.desk) ----------------------------
Action = Callable[[Services, int, int, FormData], Awaitable[desk.Done]]


async def _take(services: Services, case_id: int, staff_id: int, data: FormData) -> desk.Done:
    return await desk.take(services, case_id, staff_id)


async def _reply(services: Services, case_id: int, staff_id: int, data: FormData) -> desk.Done:
    words = multiline(text(data, "text", desk.TEXT_MAX))
    if not words:
        return desk.Done(False, "Напишите текст сообщения: пустое сообщение не отправить.")
    return await desk.reply(services, case_id, staff_id, words)


async def _note(services: Services, case_id: int, staff_id: int, data: FormData) -> desk.Done:
    words = multiline(text(data, "text", desk.TEXT_MAX))
    if not words:
        return desk.Done(False, "Напишите текст заметки.")
    return await desk.note(services, case_id, staff_id, words)


async def _transfer(services: Services, case_id: int, staff_id: int, data: FormData) -> desk.Done:
    specialty = text(data, "specialty", 32)
    login = text(data, "login", 64)
    if specialty and specialty not in SPECIALTIES:
        return desk.Done(False, "Выберите специальность из списка.")
    if not specialty and not login:
        return desk.Done(False, "Кому передать? Выберите специальность или впишите логин коллеги.")
    return await desk.transfer(
        services, case_id, staff_id, specialty=specialty or None, to_login=login or None
    )


def _days(data: FormData, name: str) -> tuple[bool, int | None]:
    """(understood, days): an empty field is (True, None)."""
    raw = text(data, name, 12)
    if not raw:
        return True, None
    days = int_param(raw)
    return days is not None, days


async def _close(services: Services, case_id: int, staff_id: int, data: FormData) -> desk.Done:
    ok, days = _days(data, "follow_up_days")
    if not ok:
        return desk.Done(False, DAYS_HELP)
    return await desk.close(services, case_id, staff_id, days)


async def _follow_up(services: Services, case_id: int, staff_id: int, data: FormData) -> desk.Done:
    ok, days = _days(data, "days")
    if not ok:
        return desk.Done(False, DAYS_HELP)
    # As `/followup` without a number in the staff group: the centre's usual delay.
    days = days or services.settings.follow_up_days
    return await desk.follow_up(services, case_id, staff_id, days)


async def _act(request: Request, action: Action) -> Response:
    """Check the case is in my scope, let the desk do it, show what it said:
    as a flash after a redirect when done, as an error (with what was typed) when not."""
    who = staff(request)
    case_id: int = request.path_params["case_id"]
    data = await form(request)
    services = state(request).services
    async with services.db.session() as session:
        item = await session.get(Case, case_id)
        if item is None or not may_see(who.user, item):
            return not_found(request)
    done = await action(services, case_id, who.user.id, data)
    if not done.ok:
        if text(data, "back", 8) == "list":
            return await show_inbox(request, 400, error=done.message)
        field = "reply" if action is _reply else "note" if action is _note else ""
        kept = {field: multiline(text(data, "text", desk.TEXT_MAX))} if field else {}
        return await show_case(request, case_id, 400, error=done.message, typed=kept)
    async with services.db.session() as session:
        item = await session.get(Case, case_id)
        still = item is not None and may_see(who.user, item)
    # After a transfer the case may have left my specialties: back to the lists then.
    target = f"/inbox/{case_id}" if still else "/inbox"
    return redirect(request, target, flash=done.message)


async def inbox_take(request: Request) -> Response:
    return await _act(request, _take)


async def inbox_reply(request: Request) -> Response:
    return await _act(request, _reply)


async def inbox_note(request: Request) -> Response:
    return await _act(request, _note)


async def inbox_transfer(request: Request) -> Response:
    return await _act(request, _transfer)


async def inbox_close(request: Request) -> Response:
    return await _act(request, _close)


async def inbox_follow_up(request: Request) -> Response:
    return await _act(request, _follow_up)


# -- Telegram: consultants work in the staff group too ---------------------------------
async def inbox_telegram(request: Request) -> Response:
    """A one-time code for `/link` in the bot: shown in this answer only, kept hashed."""
    code = await linking.issue_code(request)
    if code is None:
        return redirect(request, "/inbox", flash=linking.ALREADY_LINKED)
    return await show_inbox(request, link_code=code)


async def inbox_telegram_unlink(request: Request) -> Response:
    if not await linking.unlink(request):
        return redirect(request, "/inbox", flash=linking.NOTHING_TO_UNLINK)
    return redirect(request, "/inbox", flash=UNLINKED)


ROUTES: list[Page] = [
    page("/inbox", inbox, ROLES),
    page("/inbox/state.json", inbox_state, ROLES),
    page("/inbox/telegram", inbox_telegram, ROLES, post=True),
    page("/inbox/telegram/unlink", inbox_telegram_unlink, ROLES, post=True),
    page("/inbox/{case_id:int}", inbox_case, ROLES),
    page("/inbox/{case_id:int}/messages.json", inbox_messages, ROLES),
    page("/inbox/{case_id:int}/take", inbox_take, ROLES, post=True),
    page("/inbox/{case_id:int}/reply", inbox_reply, ROLES, post=True),
    page("/inbox/{case_id:int}/note", inbox_note, ROLES, post=True),
    page("/inbox/{case_id:int}/transfer", inbox_transfer, ROLES, post=True),
    page("/inbox/{case_id:int}/close", inbox_close, ROLES, post=True),
    page("/inbox/{case_id:int}/followup", inbox_follow_up, ROLES, post=True),
]
