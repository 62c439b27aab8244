"""Announcements («Рассылки»): news of the centre for the families who agreed to
receive them, written by the manager or an editor.

A draft may be changed or deleted; its page shows the text as families will see
it and how many families would get it now. Once started it is sent a batch at a
time (`bot.outbound.announcements.Feeder`) and may only be stopped. The pages
show counts only, never who the families are. Every step is audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from admin import audit
from admin.monitoring import LANGUAGE_LABELS
from admin.pages.partners import CATEGORY_NAMES, city_choices, local_time
from admin.web import (
    ADMIN,
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
    texts,
)
from bot.outbound import announcements as service
from bot.outbound.announcements import TEXT_MAX
from bot.storage.models import FAMILY_CATEGORIES, Announcement, StaffUser

ROLES = frozenset({ADMIN, EDITOR})
LISTED = 200  # the newest; older ones stay in the database (and the audit log)
POLL_MS = 2000
STATUS_NAMES = {
    "draft": "черновик",
    "sending": "отправляется",
    "stopped": "остановлена",
    "done": "отправлена",
}
STATUS_TAGS = {"draft": "", "sending": "high", "stopped": "off", "done": "on"}


def families(n: int) -> str:
    """«1 семья», «3 семьи», «5 семей»."""
    if n % 10 == 1 and n % 100 != 11:
        word = "семья"
    elif n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        word = "семьи"
    else:
        word = "семей"
    return f"{n:,} {word}".replace(",", " ")


def duration(seconds: int) -> str:
    """An ETA as staff read it: «меньше минуты», «12 мин», «2 ч 5 мин»."""
    if seconds <= 0:
        return "—"
    if seconds < 60:
        return "меньше минуты"
    minutes = (seconds + 59) // 60
    if minutes < 60:
        return f"{minutes} мин"
    hours, rest = divmod(minutes, 60)
    return f"{hours} ч {rest} мин" if rest else f"{hours} ч"


def languages(request: Request) -> list[tuple[str, str]]:
    translator = state(request).services.translator
    return [
        (code, LANGUAGE_LABELS.get(code) or translator.native_name(code))
        for code in translator.languages
    ]


def _context(request: Request, **extra: Any) -> dict[str, Any]:
    knowledge = state(request).services.knowledge
    return {
        "languages": languages(request),
        "language_names": dict(languages(request)),
        "cities": city_choices(request),
        "city_name": lambda key: knowledge.city_name(key, "ru") if key else "",
        "categories": FAMILY_CATEGORIES,
        "CATEGORY_NAMES": CATEGORY_NAMES,
        "STATUS_NAMES": STATUS_NAMES,
        "STATUS_TAGS": STATUS_TAGS,
        "local_time": local_time,
        "families": families,
        "duration": duration,
        "text_max": TEXT_MAX,
        **extra,
    }


# -- the form -------------------------------------------------------------------------
def _values(announcement: Announcement | None) -> dict[str, Any]:
    if announcement is None:
        return {"text": "", "language": "", "city": "", "categories": []}
    return {
        "text": announcement.text,
        "language": announcement.language,
        "city": announcement.city,
        "categories": list(announcement.categories or []),
    }


def read_form(
    request: Request, data: FormData
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(values as entered, errors by field, clean column values)."""
    values: dict[str, Any] = {
        # Browsers send a textarea's line breaks as CRLF: the messengers would count both.
        "text": text(data, "text", 20_000).replace("\r\n", "\n").replace("\r", "\n"),
        "language": text(data, "language", 20),
        "city": text(data, "city", 64),
        "categories": texts(data, "categories"),
    }
    errors: dict[str, str] = {}
    if not values["text"]:
        errors["text"] = "Напишите текст рассылки — его получат семьи."
    elif len(values["text"]) > TEXT_MAX:
        errors["text"] = (
            f"Текст — не длиннее {TEXT_MAX} символов (сейчас {len(values['text'])}): "
            "столько помещается в одно сообщение Telegram и VK."
        )
    if values["language"] and values["language"] not in dict(languages(request)):
        errors["language"] = "Выберите язык из списка."
    if values["city"] and values["city"] not in dict(city_choices(request)):
        errors["city"] = "Выберите город из списка."
    if set(values["categories"]) - set(FAMILY_CATEGORIES):
        errors["categories"] = "Выберите категории семей из списка."
    clean = {
        "text": values["text"],
        "language": values["language"],
        "city": values["city"],
        "categories": [c for c in FAMILY_CATEGORIES if c in values["categories"]],
    }
    return values, errors, clean


def _form(
    request: Request,
    announcement: Announcement | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "announcements_form.html",
        status=status,
        **_context(request, announcement=announcement, values=values, errors=errors or {}),
    )


def _path(announcement: Announcement, tail: str = "") -> str:
    return f"/announcements/{announcement.id}{tail}"


def progress_json(announcement: Announcement) -> dict[str, Any]:
    figures = service.figures(announcement)
    total = figures["total"]
    done = figures["sent"] + figures["failed"] + figures["uncertain"]
    return figures | {
        "status_name": STATUS_NAMES.get(announcement.status, announcement.status),
        "percent": round(100 * done / total) if total else 100,
        # Stopped before their turn (or left the audience after the start).
        "withheld": max(0, total - done - figures["waiting"])
        if announcement.status in ("stopped", "done")
        else 0,
        "eta": duration(figures["eta_seconds"]),
        "started": local_time(announcement.started_at),
        "finished": local_time(announcement.finished_at),
    }


# -- pages ----------------------------------------------------------------------------
async def announcements_list(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        rows = (
            await session.execute(
                select(Announcement, StaffUser)
                .outerjoin(StaffUser, StaffUser.id == Announcement.created_by)
                .order_by(Announcement.created_at.desc(), Announcement.id.desc())
                .limit(LISTED)
            )
        ).all()
    return render(
        request,
        "announcements_list.html",
        **_context(request, rows=[(a, author) for a, author in rows], limit=LISTED),
    )


async def announcement_new_form(request: Request) -> Response:
    return _form(request, None, _values(None))


async def announcement_create(request: Request) -> Response:
    values, errors, clean = read_form(request, await form(request))
    if errors:
        return _form(request, None, values, errors, 400)
    async with state(request).services.db.session() as session:
        announcement = Announcement(**clean, created_by=staff(request).user.id)
        await audit.create(session, staff(request), "announcement", announcement)
    return redirect(
        request, _path(announcement), "Черновик сохранён. Проверьте текст и начните рассылку."
    )


async def announcement_detail(request: Request) -> Response:
    services = state(request).services
    async with services.db.session() as session:
        announcement = await session.get(Announcement, request.path_params["announcement_id"])
        if announcement is None:
            return not_found(request)
        author = (
            await session.get(StaffUser, announcement.created_by)
            if announcement.created_by
            else None
        )
        reach = await service.count(session, announcement) if announcement.status == "draft" else 0
    preview_language = announcement.language or "ru"
    return render(
        request,
        "announcements_view.html",
        **_context(
            request,
            announcement=announcement,
            author=author,
            reach=reach,
            preview=service.family_text(services, announcement.text, preview_language),
            preview_language=preview_language,
            figures=progress_json(announcement),
            poll_ms=POLL_MS,
        ),
    )


async def announcement_progress(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        announcement = await session.get(Announcement, request.path_params["announcement_id"])
    if announcement is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    return JSONResponse(progress_json(announcement))


async def announcement_edit_form(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        announcement = await session.get(Announcement, request.path_params["announcement_id"])
    if announcement is None:
        return not_found(request)
    if announcement.status != "draft":
        return redirect(request, _path(announcement), "Начатую рассылку изменить нельзя.")
    return _form(request, announcement, _values(announcement))


async def announcement_update(request: Request) -> Response:
    data = await form(request)
    async with state(request).services.db.session() as session:
        announcement = await session.get(Announcement, request.path_params["announcement_id"])
        if announcement is None:
            return not_found(request)
        if announcement.status != "draft":
            return redirect(request, _path(announcement), "Начатую рассылку изменить нельзя.")
        values, errors, clean = read_form(request, data)
        if errors:
            return _form(request, announcement, values, errors, 400)
        await audit.update(session, staff(request), "update", "announcement", announcement, clean)
    return redirect(request, _path(announcement), "Черновик сохранён.")


async def announcement_start(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        announcement = await session.get(Announcement, request.path_params["announcement_id"])
        if announcement is None:
            return not_found(request)
        if announcement.status == "draft" and not await service.count(session, announcement):
            return redirect(
                request,
                _path(announcement),
                "Под выбранные условия сейчас не подходит ни одна семья: рассылка не начата.",
            )
        started = await service.start(session, announcement, staff(request).user)
    if not started:
        return redirect(request, _path(announcement), "Эта рассылка уже начата.")
    return redirect(
        request,
        _path(announcement),
        f"Рассылка начата: получат {families(announcement.total)}.",
    )


async def announcement_stop(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        announcement = await session.get(Announcement, request.path_params["announcement_id"])
        if announcement is None:
            return not_found(request)
        stopped = await service.stop(session, announcement, staff(request).user)
    if not stopped:
        return redirect(request, _path(announcement), "Эта рассылка сейчас не отправляется.")
    return redirect(
        request, _path(announcement), "Рассылка остановлена: больше никто её не получит."
    )


async def announcement_delete(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        announcement = await session.get(Announcement, request.path_params["announcement_id"])
        if announcement is None:
            return not_found(request)
        if announcement.status != "draft":
            return redirect(
                request,
                _path(announcement),
                "Начатую рассылку удалить нельзя: её итоги остаются в списке.",
            )
        before = audit.snapshot(announcement)
        await session.delete(announcement)
        await audit.record(
            session, staff(request), "delete", "announcement", announcement.id, before=before
        )
    return redirect(request, "/announcements", "Черновик рассылки удалён.")


ROUTES: list[Page] = [
    page("/announcements", announcements_list, ROLES),
    page("/announcements/new", announcement_new_form, ROLES),
    page("/announcements/new", announcement_create, ROLES, post=True),
    page("/announcements/{announcement_id:int}", announcement_detail, ROLES),
    page("/announcements/{announcement_id:int}/progress.json", announcement_progress, ROLES),
    page("/announcements/{announcement_id:int}/edit", announcement_edit_form, ROLES),
    page("/announcements/{announcement_id:int}/edit", announcement_update, ROLES, post=True),
    page("/announcements/{announcement_id:int}/start", announcement_start, ROLES, post=True),
    page("/announcements/{announcement_id:int}/stop", announcement_stop, ROLES, post=True),
    page("/announcements/{announcement_id:int}/delete", announcement_delete, ROLES, post=True),
]
