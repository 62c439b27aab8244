"""Requests from organisations, partners and volunteers who want to join the
cluster (left through the bot): the manager reads them and marks the progress."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from admin import audit
from admin.pages.partners import city_key, local_time
from admin.web import (
    ADMIN,
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
from bot.storage.models import ORG_REQUEST_STATUSES, OrgRequest, utcnow

STATUS_NAMES = {
    "new": "новая",
    "in_progress": "в работе",
    "done": "выполнена",
    "rejected": "отклонена",
}
KIND_NAMES = {
    "organisation": "Организация",
    "partner": "Бизнес-партнёр",
    "volunteer": "Волонтёр",
}
CHANNEL_NAMES = {"telegram": "Telegram", "vk": "ВКонтакте", "web": "сайт"}
PER_PAGE = 50
NOTE_LIMIT = 5000


def _labels() -> dict[str, Any]:
    return {
        "STATUS_NAMES": STATUS_NAMES,
        "KIND_NAMES": KIND_NAMES,
        "CHANNEL_NAMES": CHANNEL_NAMES,
        "local_time": local_time,
    }


async def requests_list(request: Request) -> Response:
    params = request.query_params
    status, kind = params.get("status", ""), params.get("kind", "")
    number = max(1, int_param(params.get("page")) or 1)
    query = select(OrgRequest)
    if status in ORG_REQUEST_STATUSES:
        query = query.where(OrgRequest.status == status)
    if kind in KIND_NAMES:
        query = query.where(OrgRequest.kind == kind)
    async with state(request).services.db.session() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = list(
            (
                await session.scalars(
                    query.order_by(OrgRequest.created_at.desc(), OrgRequest.id.desc())
                    .offset((number - 1) * PER_PAGE)
                    .limit(PER_PAGE)
                )
            ).all()
        )
    filters = {k: v for k, v in (("status", status), ("kind", kind)) if v}
    return render(
        request,
        "requests_list.html",
        **_labels(),
        rows=rows,
        filters={"status": status, "kind": kind},
        total=total,
        page=number,
        pages=max(1, -(-total // PER_PAGE)),
        page_link=lambda n: "/requests?" + urlencode({**filters, "page": n}),
        statuses=ORG_REQUEST_STATUSES,
    )


def _partner_link(request: Request, row: OrgRequest) -> str:
    """ "Create a partner" prefilled from the request (organisations become NGOs)."""
    query = {"name": row.org_name, "city": city_key(request, row.city) or row.city}
    if row.kind == "organisation":
        query["kind"] = "ngo"
    return "/partners/new?" + urlencode({k: v for k, v in query.items() if v})


def _detail(
    request: Request, row: OrgRequest, values: dict[str, str], error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "requests_detail.html",
        status=status,
        **_labels(),
        row=row,
        values=values,
        error=error,
        statuses=ORG_REQUEST_STATUSES,
        partner_link=_partner_link(request, row) if row.kind != "volunteer" else "",
    )


async def request_detail(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        row = await session.get(OrgRequest, request.path_params["request_id"])
    if row is None:
        return not_found(request)
    return _detail(request, row, {"status": row.status, "note": row.note})


async def request_update(request: Request) -> Response:
    data = await form(request)
    values = {"status": text(data, "status", 20), "note": text(data, "note", NOTE_LIMIT + 1)}
    async with state(request).services.db.session() as session:
        row = await session.get(OrgRequest, request.path_params["request_id"])
        if row is None:
            return not_found(request)
        error = ""
        if values["status"] not in ORG_REQUEST_STATUSES:
            error = "Выберите состояние заявки из списка."
        elif len(values["note"]) > NOTE_LIMIT:
            error = f"Заметка — не длиннее {NOTE_LIMIT} символов."
        if error:
            return _detail(request, row, values, error, 400)
        # Only what staff change goes to the log: the contact and message stay out of it.
        before = {"status": row.status, "note": row.note}
        if before == values:
            return redirect(request, f"/requests/{row.id}", "Изменений нет.")
        row.status, row.note = values["status"], values["note"]
        row.updated_at = utcnow()
        action = "status" if before["status"] != row.status else "update"
        await audit.record(
            session, staff(request), action, "org_request", row.id, before=before, after=values
        )
    return redirect(request, f"/requests/{row.id}", "Заявка сохранена.")


ADMINS = frozenset({ADMIN})
ROUTES: list[Page] = [
    page("/requests", requests_list, ADMINS),
    page("/requests/{request_id:int}", request_detail, ADMINS),
    page("/requests/{request_id:int}", request_update, ADMINS, post=True),
]
