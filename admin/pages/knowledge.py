"""The knowledge base in the panel: list, view with the family's preview, edit,
publish, review, delete, and YAML export/import.

Every change bumps the content version (other workers reload) and, once the
transaction has committed, rebuilds this process's index so the bot answers
with the change at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from admin import audit
from admin import knowledge_forms as kf
from admin.pages.home import STALE_AFTER
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
from bot.knowledge.loader import bump_version, to_row_values
from bot.knowledge.schema import HELP_KINDS, TOPICS, Entry
from bot.storage.models import KnowledgeEntry, utcnow

READERS = frozenset({ADMIN, EDITOR, CONSULTANT})
WRITERS = frozenset({ADMIN, EDITOR})
ENTITY = "knowledge"
KIND_ORDER = {kind: i for i, kind in enumerate(kf.KIND_NAMES)}
SORTS = {
    "kind": "по типу и названию",
    "updated": "сначала недавно изменённые",
    "reviewed": "сначала давно не проверявшиеся",
}


def _today() -> date:
    return utcnow().date()


def _stale_before() -> date:
    return (utcnow() - STALE_AFTER).date()


def _languages(request: Request) -> tuple[str, ...]:
    return state(request).services.translator.languages


def _can_edit(request: Request) -> bool:
    return staff(request).role in WRITERS


def _title(data: Mapping[str, Any]) -> str:
    title = data.get("title") or {}
    return str(title.get("ru") or data.get("id") or "")


def _audit_view(data: Mapping[str, Any], published: bool) -> dict[str, Any]:
    """What the audit log keeps of an entry: its data and whether families see it."""
    return {**data, "published": published}


async def _changed(request: Request) -> None:
    """After the commit: this process answers with the new content right away."""
    await state(request).services.knowledge.refresh(force=True)


# -- list ---------------------------------------------------------------------------------
async def knowledge_list(request: Request) -> Response:
    params = request.query_params
    kind = params.get("kind", "")
    shown = params.get("published", "")
    stale = params.get("stale") == "1"
    query_text = params.get("q", "").strip()[:200]
    sort = params.get("sort", "kind") if params.get("sort") in SORTS else "kind"

    # One query for the whole list; the base is a few hundred entries at most.
    query = select(
        KnowledgeEntry.id,
        KnowledgeEntry.kind,
        KnowledgeEntry.region,
        KnowledgeEntry.published,
        KnowledgeEntry.reviewed,
        KnowledgeEntry.updated_at,
        KnowledgeEntry.data,
    )
    if kind in kf.KIND_NAMES:
        query = query.where(KnowledgeEntry.kind == kind)
    if shown == "yes":
        query = query.where(KnowledgeEntry.published.is_(True))
    elif shown == "no":
        query = query.where(KnowledgeEntry.published.is_(False))
    stale_before = _stale_before()
    if stale:
        query = query.where(KnowledgeEntry.reviewed < stale_before)
    async with state(request).services.db.session() as session:
        found = (await session.execute(query)).all()
        total = int(await session.scalar(select(func.count()).select_from(KnowledgeEntry)) or 0)

    needle = query_text.casefold()
    rows = []
    for row in found:
        titles = [str(t) for t in (row.data.get("title") or {}).values()]
        if needle and not any(needle in s.casefold() for s in (row.id, *titles)):
            continue
        rows.append(
            {
                "id": row.id,
                "title": _title(row.data),
                "kind": row.kind,
                "region": row.region,
                "published": row.published,
                "reviewed": row.reviewed,
                "stale": row.reviewed < stale_before,
                "updated_at": row.updated_at,
            }
        )
    if sort == "updated":
        rows.sort(key=lambda r: r["updated_at"], reverse=True)
    elif sort == "reviewed":
        rows.sort(key=lambda r: (r["reviewed"], r["title"].casefold()))
    else:
        rows.sort(key=lambda r: (KIND_ORDER.get(r["kind"], 99), r["title"].casefold()))
    return render(
        request,
        "knowledge_list.html",
        rows=rows,
        total=total,
        filters={"kind": kind, "published": shown, "stale": stale, "q": query_text, "sort": sort},
        kinds=kf.KIND_NAMES,
        regions=kf.REGION_NAMES,
        sorts=SORTS,
        can_edit=_can_edit(request),
    )


# -- one entry -----------------------------------------------------------------------------
async def knowledge_view(request: Request) -> Response:
    entry_id = request.path_params["entry_id"]
    async with state(request).services.db.session() as session:
        row = await session.get(KnowledgeEntry, entry_id)
    if row is None:
        return not_found(request)
    services = state(request).services
    entry: Entry | None
    try:
        entry = Entry.model_validate(row.data)
    except ValidationError:
        entry = None  # shown with a warning: the bot skips it until it is fixed
    return render(
        request,
        "knowledge_view.html",
        row=row,
        data=kf.tidy(row.data),
        entry=entry,
        title=_title(row.data),
        cards=kf.preview(entry, services) if entry else {},
        stale=row.reviewed < _stale_before(),
        can_edit=_can_edit(request),
        kinds=kf.KIND_NAMES,
        regions=kf.REGION_NAMES,
        topic_names=kf.TOPIC_NAMES,
        help_names=kf.HELP_NAMES,
        language_names=kf.LANGUAGE_NAMES,
        city_name=lambda c: services.knowledge.city_name(c, "ru"),
        list_fields=kf.LIST_FIELDS,
        text_fields=kf.TEXT_FIELDS,
        eligibility=kf.eligibility_text(row.data.get("eligibility")),
        usages=kf.entry_usages(services.book, row.id),
    )


# -- the form ------------------------------------------------------------------------------
def _form_page(
    request: Request,
    values: kf.Values,
    *,
    creating: bool,
    errors: Mapping[str, list[str]] | None = None,
    cards: Mapping[str, Any] | None = None,
    version: str = "",
    status: int = 200,
) -> Response:
    services = state(request).services
    action = "/knowledge/new" if creating else f"/knowledge/{values['id']}/edit"
    return render(
        request,
        "knowledge_form.html",
        status=status,
        values=values,
        errors=errors or {},
        cards=cards or {},
        creating=creating,
        action=action,
        version=version,
        languages=_languages(request),
        language_names=kf.LANGUAGE_NAMES,
        text_fields=kf.TEXT_FIELDS,
        list_fields=kf.LIST_FIELDS,
        kinds=kf.KIND_NAMES,
        regions=kf.REGION_NAMES,
        topics=[(t, kf.TOPIC_NAMES.get(t, t)) for t in TOPICS],
        helps=[(h, kf.HELP_NAMES.get(h, h)) for h in HELP_KINDS],
        cities=[(c, services.knowledge.city_name(c, "ru")) for c in services.knowledge.cities],
        field_label=kf.field_label,
        finder_vars=kf.finder_vars_help(),
        operators=kf.OPERATORS_HELP,
        example=kf.example_condition(services.knowledge.entries.values()),
    )


async def knowledge_new(request: Request) -> Response:
    return _form_page(request, kf.blank_values(_languages(request), _today()), creating=True)


async def knowledge_edit(request: Request) -> Response:
    entry_id = request.path_params["entry_id"]
    async with state(request).services.db.session() as session:
        row = await session.get(KnowledgeEntry, entry_id)
    if row is None:
        return not_found(request)
    values = kf.values_from_data(row.data, row.published, _languages(request))
    values["id"] = row.id
    return _form_page(request, values, creating=False, version=_version(row))


def _version(row: KnowledgeEntry) -> str:
    """A stamp of the stored entry, to notice that someone saved it meanwhile."""
    return row.updated_at.isoformat()


async def knowledge_create(request: Request) -> Response:
    services = state(request).services
    data = await form(request)
    values = kf.values_from_form(data, _languages(request))
    checked = kf.entry_from_values(values, _languages(request), services.knowledge.cities)
    entry = checked.entry
    if entry is None:
        return _form_page(request, values, creating=True, errors=checked.errors, status=400)
    if data.get("action") == "preview":
        return _form_page(request, values, creating=True, cards=kf.preview(entry, services))
    async with services.db.session() as session:
        if await session.get(KnowledgeEntry, entry.id) is not None:
            errors = {"id": ["Запись с таким id уже есть. Выберите другой id."]}
            return _form_page(request, values, creating=True, errors=errors, status=400)
        row = KnowledgeEntry(id=entry.id, published=values["published"], **to_row_values(entry))
        session.add(row)
        after = _audit_view(row.data, row.published)
        await audit.record(session, staff(request), "create", ENTITY, entry.id, after=after)
        await bump_version(session)
    await _changed(request)
    return redirect(request, f"/knowledge/{entry.id}", "Запись добавлена.")


async def knowledge_update(request: Request) -> Response:
    services = state(request).services
    entry_id = request.path_params["entry_id"]
    data = await form(request)
    values = kf.values_from_form(data, _languages(request))
    values["id"] = entry_id  # the id is not editable: links and statistics refer to it
    async with services.db.session() as session:
        row = await session.get(KnowledgeEntry, entry_id)
        if row is None:
            return not_found(request)
        version = _version(row)
        checked = kf.entry_from_values(
            values, _languages(request), services.knowledge.cities, previous=row.data
        )
        entry = checked.entry

        def again(status: int, **extra: Any) -> Response:
            return _form_page(
                request, values, creating=False, version=version, status=status, **extra
            )

        if entry is None:
            return again(400, errors=checked.errors)
        if data.get("action") == "preview":
            return again(200, cards=kf.preview(entry, services))
        sent_version = text(data, "version", 100)
        if sent_version and sent_version != version:
            # Keep what was typed; the fresh stamp in the form lets a second save win knowingly.
            message = (
                "Пока вы редактировали, запись успел сохранить кто-то другой. "
                "Откройте её в новой вкладке, сравните и нажмите «Сохранить» ещё раз, "
                "если ваша версия верна."
            )
            return again(400, errors={kf.FORM_ERROR: [message]})
        new_data = entry.model_dump(mode="json")
        if new_data == row.data and values["published"] == row.published:
            return redirect(request, f"/knowledge/{entry_id}", "Изменений нет.")
        before = _audit_view(row.data, row.published)
        for key, value in to_row_values(entry).items():
            setattr(row, key, value)
        row.published = values["published"]
        await audit.record(
            session,
            staff(request),
            "update",
            ENTITY,
            entry_id,
            before=before,
            after=_audit_view(row.data, row.published),
        )
        await bump_version(session)
    await _changed(request)
    return redirect(
        request, f"/knowledge/{entry_id}", "Изменения сохранены, бот уже отвечает по-новому."
    )


# -- quick actions ----------------------------------------------------------------------------
async def _quick(request: Request, action: str) -> Response:
    """Publish, unpublish, mark reviewed or delete one entry, audited."""
    entry_id = request.path_params["entry_id"]
    async with state(request).services.db.session() as session:
        row = await session.get(KnowledgeEntry, entry_id)
        if row is None:
            return not_found(request)
        title = _title(row.data)
        before = _audit_view(row.data, row.published)
        target = f"/knowledge/{entry_id}"
        if action == "delete":
            await session.delete(row)
            await audit.record(session, staff(request), "delete", ENTITY, entry_id, before=before)
            message, target = f"Запись «{title}» удалена.", "/knowledge"
        else:
            message = _apply(row, action)
            if not message:
                return redirect(request, target, "Изменений нет.")
            await audit.record(
                session,
                staff(request),
                action,
                ENTITY,
                entry_id,
                before=before,
                after=_audit_view(row.data, row.published),
            )
        await bump_version(session)
    await _changed(request)
    return redirect(request, target, message)


def _apply(row: KnowledgeEntry, action: str) -> str:
    """Change the row; the flash message, or "" when there was nothing to change."""
    if action == "publish":
        if row.published:
            return ""
        row.published = True
        message = "Запись опубликована: семьи её видят."
    elif action == "unpublish":
        if not row.published:
            return ""
        row.published = False
        message = "Запись снята с публикации: бот её больше не показывает."
    else:  # reviewed
        today = _today()
        if row.reviewed == today:
            return ""
        # A new dict (not an in-place edit) so the JSON column is saved.
        row.data = {**row.data, "reviewed": today.isoformat()}
        row.reviewed = today
        message = "Отмечено: запись проверена сегодня."
    row.updated_at = utcnow()
    return message


async def knowledge_publish(request: Request) -> Response:
    return await _quick(request, "publish")


async def knowledge_unpublish(request: Request) -> Response:
    return await _quick(request, "unpublish")


async def knowledge_reviewed(request: Request) -> Response:
    return await _quick(request, "reviewed")


async def knowledge_delete(request: Request) -> Response:
    return await _quick(request, "delete")


# -- export / import ------------------------------------------------------------------------
EXPORT_HEADER = (
    "Выгрузка базы знаний «Семейного окна» от {day}.\n"
    "{scope}\n"
    "Формат тот же, что у knowledge/*.yaml; файл можно загрузить обратно в панели."
)


async def knowledge_export(request: Request) -> Response:
    everything = request.query_params.get("include") == "unpublished"
    query = select(KnowledgeEntry.kind, KnowledgeEntry.data, KnowledgeEntry.published)
    if not everything:
        query = query.where(KnowledgeEntry.published.is_(True))
    async with state(request).services.db.session() as session:
        rows = (await session.execute(query)).all()
    ordered = sorted(rows, key=lambda r: (KIND_ORDER.get(r.kind, 99), str(r.data.get("id"))))
    day = _today().isoformat()
    scope = (
        "Все записи, включая снятые с публикации (они отмечены комментарием)."
        if everything
        else "Только опубликованные записи."
    )
    body = kf.dump_entries(
        ((r.data, r.published) for r in ordered), EXPORT_HEADER.format(day=day, scope=scope)
    )
    suffix = "-all" if everything else ""
    return Response(
        body,
        media_type="application/yaml; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="knowledge-{day}{suffix}.yaml"'},
    )


async def knowledge_import_form(request: Request) -> Response:
    return render(request, "knowledge_import.html", options={"replace": False, "publish": False})


async def knowledge_import(request: Request) -> Response:
    services = state(request).services
    data = await form(request)
    options = {"replace": bool(data.get("replace")), "publish": bool(data.get("publish"))}
    upload = data.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems = ["Выберите файл .yaml для загрузки."]
        return render(
            request, "knowledge_import.html", status=400, problems=problems, options=options
        )
    content = await upload.read(kf.MAX_IMPORT_BYTES + 1)
    parsed = kf.parse_import(content, services.knowledge.cities)
    if parsed.problems:
        return render(
            request,
            "knowledge_import.html",
            status=400,
            problems=parsed.listed(),
            problem_count=len(parsed.problems),
            options=options,
            filename=upload.filename,
        )
    async with services.db.session() as session:
        result = await _write_import(session, request, parsed.entries, **options)
    if result["added"] or result["replaced"]:
        await _changed(request)
    return render(
        request, "knowledge_import.html", result=result, options=options, filename=upload.filename
    )


async def _write_import(
    session: AsyncSession, request: Request, entries: list[Entry], *, replace: bool, publish: bool
) -> dict[str, list[str]]:
    """Add new entries, replace changed ones if asked; one audit record per change."""
    ids = [e.id for e in entries]
    existing = {
        row.id: row
        for row in (
            await session.scalars(select(KnowledgeEntry).where(KnowledgeEntry.id.in_(ids)))
        ).all()
    }
    result: dict[str, list[str]] = {"added": [], "replaced": [], "skipped": [], "unchanged": []}
    who = staff(request)
    for entry in entries:
        row = existing.get(entry.id)
        if row is None:
            row = KnowledgeEntry(id=entry.id, published=publish, **to_row_values(entry))
            session.add(row)
            after = _audit_view(row.data, row.published)
            await audit.record(session, who, "import", ENTITY, entry.id, after=after)
            result["added"].append(entry.id)
        elif row.data == entry.model_dump(mode="json"):
            result["unchanged"].append(entry.id)
        elif not replace:
            result["skipped"].append(entry.id)
        else:
            before = _audit_view(row.data, row.published)
            for key, value in to_row_values(entry).items():
                setattr(row, key, value)
            after = _audit_view(row.data, row.published)
            await audit.record(session, who, "import", ENTITY, entry.id, before=before, after=after)
            result["replaced"].append(entry.id)
    if result["added"] or result["replaced"]:
        await bump_version(session)
    return result


# Fixed paths before "/knowledge/{entry_id}": routes match in order.
ROUTES: list[Page] = [
    page("/knowledge", knowledge_list, READERS),
    page("/knowledge/new", knowledge_new, WRITERS),
    page("/knowledge/new", knowledge_create, WRITERS, post=True),
    # The export includes unpublished drafts: for the people who edit the base.
    page("/knowledge/export", knowledge_export, WRITERS),
    page("/knowledge/import", knowledge_import_form, WRITERS),
    page("/knowledge/import", knowledge_import, WRITERS, post=True),
    page("/knowledge/{entry_id}", knowledge_view, READERS),
    page("/knowledge/{entry_id}/edit", knowledge_edit, WRITERS),
    page("/knowledge/{entry_id}/edit", knowledge_update, WRITERS, post=True),
    page("/knowledge/{entry_id}/publish", knowledge_publish, WRITERS, post=True),
    page("/knowledge/{entry_id}/unpublish", knowledge_unpublish, WRITERS, post=True),
    page("/knowledge/{entry_id}/reviewed", knowledge_reviewed, WRITERS, post=True),
    page("/knowledge/{entry_id}/delete", knowledge_delete, WRITERS, post=True),
]
