"""The audit log for the head of the centre: who changed what and when.

Strictly read-only — a log that could be edited from the panel would prove
nothing, so this module has GET pages only (a test checks it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from starlette.requests import Request
from starlette.responses import Response

from admin import audit
from admin.web import ADMIN, Page, int_param, not_found, page, render, state
from bot.storage.models import AuditRecord

PER_PAGE = 50
MOSCOW = ZoneInfo("Europe/Moscow")
ROLES = frozenset({ADMIN})

ACTION_NAMES = {
    "create": "создание",
    "update": "изменение",
    "delete": "удаление",
    "publish": "публикация",
    "unpublish": "снятие с публикации",
    "import": "импорт",
    "login": "вход",
    "logout": "выход",
    "lockout": "вход заблокирован после неудачных попыток",
    "unlock": "снятие блокировки входа",
    "password": "смена пароля",
    "status": "смена статуса",
    "reviewed": "отметка «проверено»",
    "disable": "отключение",
    "enable": "включение",
    "password_reset": "сброс пароля",
    "passwd": "новый пароль (из командной строки)",
    "activate": "включение",
    "deactivate": "приостановка",
    "suspend": "приостановка",
    "approve": "одобрение",
    "reject": "отклонение",
}
ENTITY_NAMES = {
    "staff_user": "сотрудник",
    "knowledge": "запись базы знаний",
    "knowledge_entry": "запись базы знаний",
    "partner": "партнёр",
    "offer": "предложение партнёра",
    "org_request": "заявка организации",
    "case": "обращение",
}
SHOWN_FIELDS = 6  # changed fields listed in a table row before "и ещё N"


def when(value: datetime) -> str:
    """Moscow time, as staff in the region read it."""
    return value.astimezone(MOSCOW).strftime("%d.%m.%Y %H:%M")


def _date(value: str | None) -> date | None:
    try:
        found = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    # The log began with this product; year 1 or 9999 would overflow the time zone shift.
    return found if found and date(2000, 1, 1) <= found <= date(2100, 12, 31) else None


def moscow_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), MOSCOW).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Filters:
    login: str = ""
    entity: str = ""
    action: str = ""
    entity_id: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def read(cls, request: Request) -> Filters:
        q = request.query_params
        return cls(
            login=q.get("login", "").strip()[:64],
            entity=q.get("entity", "").strip()[:32],
            action=q.get("action", "").strip()[:24],
            entity_id=q.get("entity_id", "").strip()[:64],
            since=_date(q.get("from")),
            until=_date(q.get("to")),
        )

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.login:
            escaped = self.login.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(AuditRecord.user_login.ilike(f"%{escaped}%", escape="\\"))
        if self.entity:
            query = query.where(AuditRecord.entity == self.entity)
        if self.action:
            query = query.where(AuditRecord.action == self.action)
        if self.entity_id:
            query = query.where(AuditRecord.entity_id == self.entity_id)
        if self.since:
            query = query.where(AuditRecord.at >= moscow_midnight(self.since))
        if self.until:  # the whole "to" day is included
            query = query.where(AuditRecord.at < moscow_midnight(self.until + timedelta(days=1)))
        return query

    def params(self) -> dict[str, str]:
        found = {
            "login": self.login,
            "entity": self.entity,
            "action": self.action,
            "entity_id": self.entity_id,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in found.items() if v}


def _link(filters: Filters, page_number: int) -> str:
    params = filters.params()
    if page_number > 1:
        params["page"] = str(page_number)
    return f"?{urlencode(params)}" if params else "?"


async def audit_log(request: Request) -> Response:
    filters = Filters.read(request)
    page_number = max(1, min(int_param(request.query_params.get("page")) or 1, 100_000))
    query = filters.apply(select(AuditRecord)).order_by(
        AuditRecord.at.desc(), AuditRecord.id.desc()
    )
    async with state(request).services.db.session() as session:
        found = list(
            (
                await session.scalars(
                    query.offset((page_number - 1) * PER_PAGE).limit(PER_PAGE + 1)
                )
            ).all()
        )
        total = int(
            await session.scalar(filters.apply(select(func.count()).select_from(AuditRecord))) or 0
        )
        entities = sorted((await session.scalars(select(AuditRecord.entity).distinct())).all())
        actions = sorted((await session.scalars(select(AuditRecord.action).distinct())).all())
    older = len(found) > PER_PAGE
    rows = []
    for record in found[:PER_PAGE]:
        fields = audit.changed(record.before, record.after)
        rows.append(
            {
                "record": record,
                "when": when(record.at),
                "action": ACTION_NAMES.get(record.action, record.action),
                "entity": ENTITY_NAMES.get(record.entity, record.entity),
                "fields": fields[:SHOWN_FIELDS],
                "more": max(0, len(fields) - SHOWN_FIELDS),
            }
        )
    return render(
        request,
        "audit_list.html",
        rows=rows,
        total=total,
        page_number=page_number,
        per_page=PER_PAGE,
        filters=filters,
        bad_dates=[
            name
            for name, raw, parsed in (
                ("с", request.query_params.get("from"), filters.since),
                ("по", request.query_params.get("to"), filters.until),
            )
            if raw and parsed is None
        ],
        entities=[(e, ENTITY_NAMES.get(e, e)) for e in entities],
        actions=[(a, ACTION_NAMES.get(a, a)) for a in actions],
        newer_link=_link(filters, page_number - 1) if page_number > 1 else "",
        older_link=_link(filters, page_number + 1) if older else "",
    )


def shown(value: Any) -> str:
    """A stored value as readable text (JSON for lists and mappings)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "да" if value else "нет"
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


async def audit_record(request: Request) -> Response:
    record_id = request.path_params["record_id"]
    async with state(request).services.db.session() as session:
        record = await session.get(AuditRecord, record_id)
    if record is None:
        return not_found(request)
    before, after = record.before or {}, record.after or {}
    changed = set(audit.changed(record.before, record.after))
    keys = [*before, *(k for k in after if k not in before)]
    fields = [
        {
            "name": key,
            "before": shown(before.get(key)),
            "after": shown(after.get(key)),
            "had_before": key in before,
            "has_after": key in after,
            "changed": key in changed,
        }
        for key in keys
    ]
    return render(
        request,
        "audit_detail.html",
        record=record,
        when=when(record.at),
        action=ACTION_NAMES.get(record.action, record.action),
        entity=ENTITY_NAMES.get(record.entity, record.entity),
        fields=fields,
        changed=sorted(changed),
        has_before=record.before is not None,
        has_after=record.after is not None,
    )


ROUTES: list[Page] = [
    page("/audit", audit_log, ROLES),
    page("/audit/{record_id:int}", audit_record, ROLES),
]
