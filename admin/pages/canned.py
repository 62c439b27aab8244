"""Canned replies: ready answers a consultant can send to a family in one tap.

Managers and editors write them (per language, for one specialty or for all);
consultants read them here and send them from the chat. Every change is audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from admin import audit
from admin.monitoring import LANGUAGE_LABELS
from admin.web import (
    ADMIN,
    CONSULTANT,
    EDITOR,
    Page,
    form,
    not_found,
    page,
    redirect,
    render,
    staff,
    state,
    text,
)
from bot.storage.models import SPECIALTIES, CannedReply

MANAGERS = frozenset({ADMIN, EDITOR})
READERS = frozenset({ADMIN, EDITOR, CONSULTANT})
TITLE_MAX = 120
# Telegram takes 4096 characters in one message; the rest is room for a greeting.
TEXT_MAX = 4000
# The specialty filter's value for replies meant for every specialty (stored as "").
COMMON = "common"


def languages(request: Request) -> tuple[str, ...]:
    return state(request).services.translator.languages


def language_name(request: Request, code: str) -> str:
    """Russian name of a language for staff ("английский"), else its own name."""
    translator = state(request).services.translator
    return LANGUAGE_LABELS.get(code) or translator.native_name(code)


def first_line(value: str, limit: int = 100) -> str:
    line = value.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _context(request: Request, **extra: Any) -> dict[str, Any]:
    return {
        "languages": [(code, language_name(request, code)) for code in languages(request)],
        "language_name": lambda code: language_name(request, code),
        "specialties": SPECIALTIES,
        "first_line": first_line,
        "can_edit": staff(request).role in MANAGERS,
        "text_max": TEXT_MAX,
        "title_max": TITLE_MAX,
        **extra,
    }


# -- reading and checking the form ----------------------------------------------------
def _values(reply: CannedReply | None, language: str = "ru") -> dict[str, Any]:
    if reply is None:
        return {"title": "", "text": "", "language": language, "specialty": "", "active": True}
    return {
        "title": reply.title,
        "text": reply.text,
        "language": reply.language,
        "specialty": reply.specialty,
        "active": reply.active,
    }


def read_reply(
    request: Request, data: FormData
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(values as entered, errors by field, clean column values)."""
    values: dict[str, Any] = {
        "title": text(data, "title", 1000),
        # Browsers send a textarea's line breaks as CRLF: Telegram would count both.
        "text": text(data, "text", 20_000).replace("\r\n", "\n").replace("\r", "\n"),
        "language": text(data, "language", 20),
        "specialty": text(data, "specialty", 40),
        "active": data.get("active") == "1",
    }
    errors: dict[str, str] = {}
    if not values["title"]:
        errors["title"] = "Укажите название шаблона — по нему консультант найдёт ответ."
    elif len(values["title"]) > TITLE_MAX:
        errors["title"] = f"Название — не длиннее {TITLE_MAX} символов."
    if not values["text"]:
        errors["text"] = "Напишите текст ответа — его получит семья."
    elif len(values["text"]) > TEXT_MAX:
        errors["text"] = (
            f"Текст — не длиннее {TEXT_MAX} символов (сейчас {len(values['text'])}): "
            "столько помещается в одно сообщение Telegram."
        )
    if values["language"] not in languages(request):
        errors["language"] = "Выберите язык из списка."
    if values["specialty"] and values["specialty"] not in SPECIALTIES:
        errors["specialty"] = "Выберите специальность из списка."
    clean = {k: values[k] for k in ("title", "text", "language", "specialty", "active")}
    return values, errors, clean


def _form(
    request: Request,
    reply: CannedReply | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "canned_form.html",
        status=status,
        **_context(request, reply=reply, values=values, errors=errors or {}),
    )


# -- pages ----------------------------------------------------------------------------
async def canned_list(request: Request) -> Response:
    params = request.query_params
    language = params.get("language", "")
    specialty = params.get("specialty", "")
    active = params.get("active", "")
    query = select(CannedReply).order_by(
        CannedReply.active.desc(), CannedReply.language, CannedReply.specialty, CannedReply.title
    )
    if language in languages(request):
        query = query.where(CannedReply.language == language)
    if specialty == COMMON:
        query = query.where(CannedReply.specialty == "")
    elif specialty in SPECIALTIES:
        query = query.where(CannedReply.specialty == specialty)
    if active in ("1", "0"):
        query = query.where(CannedReply.active.is_(active == "1"))
    async with state(request).services.db.session() as session:
        replies = list((await session.scalars(query)).all())
    filters = {"language": language, "specialty": specialty, "active": active}
    return render(
        request,
        "canned_list.html",
        **_context(request, replies=replies, filters=filters, common=COMMON),
    )


async def canned_new_form(request: Request) -> Response:
    language = request.query_params.get("language", "")
    return _form(request, None, _values(None, language if language in languages(request) else "ru"))


async def canned_create(request: Request) -> Response:
    values, errors, clean = read_reply(request, await form(request))
    if errors:
        return _form(request, None, values, errors, 400)
    async with state(request).services.db.session() as session:
        reply = CannedReply(**clean)
        await audit.create(session, staff(request), "canned_reply", reply)
    return redirect(request, "/canned", f"Шаблон «{reply.title}» добавлен.")


async def canned_detail(request: Request) -> Response:
    """The edit form for managers and editors; a read-only view for consultants."""
    async with state(request).services.db.session() as session:
        reply = await session.get(CannedReply, request.path_params["reply_id"])
    if reply is None:
        return not_found(request)
    if staff(request).role not in MANAGERS:
        return render(request, "canned_view.html", **_context(request, reply=reply))
    return _form(request, reply, _values(reply))


async def canned_update(request: Request) -> Response:
    data = await form(request)
    async with state(request).services.db.session() as session:
        reply = await session.get(CannedReply, request.path_params["reply_id"])
        if reply is None:
            return not_found(request)
        values, errors, clean = read_reply(request, data)
        if errors:
            return _form(request, reply, values, errors, 400)
        await audit.update(session, staff(request), "update", "canned_reply", reply, clean)
    return redirect(request, "/canned", f"Шаблон «{reply.title}» сохранён.")


async def canned_delete(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        reply = await session.get(CannedReply, request.path_params["reply_id"])
        if reply is None:
            return not_found(request)
        before = audit.snapshot(reply)
        await session.delete(reply)
        await audit.record(
            session, staff(request), "delete", "canned_reply", reply.id, before=before
        )
    return redirect(request, "/canned", f"Шаблон «{before['title']}» удалён.")


ROUTES: list[Page] = [
    page("/canned", canned_list, READERS),
    page("/canned/new", canned_new_form, MANAGERS),
    page("/canned/new", canned_create, MANAGERS, post=True),
    page("/canned/{reply_id:int}", canned_detail, READERS),
    page("/canned/{reply_id:int}", canned_update, MANAGERS, post=True),
    page("/canned/{reply_id:int}/delete", canned_delete, MANAGERS, post=True),
]
