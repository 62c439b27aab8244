"""Staff accounts: who may log in to the panel, in which role.

Passwords: the server makes a one-time password, shows it once in the answer
to the POST (never stored in plain text, never in the audit log or a cookie),
and the account must replace it at the first login. A reset or disabling ends
the account's sessions. The centre can never lose its last active manager.

Consultants also have working hours (empty: the centre's) and a number of chats
they hold at once; their name is what families see when a consultant joins.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from admin import audit, auth
from admin.pages.partners import local_time
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
    texts,
)
from bot.consult.schedule import ScheduleError, parse
from bot.storage.models import ROLES, SPECIALTIES, Partner, StaffSession, StaffUser

ADMINS = frozenset({ADMIN})
CONSULTANT = "consultant"
HOURS_MAX = 200  # the column's length
CHATS_MIN, CHATS_MAX, CHATS_DEFAULT = 1, 20, 3


# -- reading and checking the form ----------------------------------------------------
def _values(user: StaffUser | None) -> dict[str, Any]:
    if user is None:
        return {
            "login": "",
            "name": "",
            "role": "",
            "specialties": [],
            "partner_id": None,
            "working_hours": "",
            "max_chats": str(CHATS_DEFAULT),
        }
    return {
        "login": user.login,
        "name": user.name,
        "role": user.role,
        "specialties": list(user.specialties),
        "partner_id": user.partner_id,
        "active": user.active,
        "working_hours": user.working_hours,
        "max_chats": str(user.max_chats),
    }


def _read(data: FormData) -> dict[str, Any]:
    role = text(data, "role", 20)
    return {
        "login": text(data, "login", 80),
        "name": text(data, "name", 500),
        "role": role,
        "specialties": texts(data, "specialties") if role == CONSULTANT else [],
        "partner_id": int_param(text(data, "partner_id", 20)) if role == "partner" else None,
        "active": data.get("active") == "1",
        # Pasted line breaks become "; ": the same schedule, kept on one line.
        "working_hours": "; ".join(
            line.strip() for line in text(data, "working_hours", 1000).splitlines() if line.strip()
        ),
        "max_chats": text(data, "max_chats", 20),
    }


def _check_consultant(
    values: dict[str, Any], zone: str, current: StaffUser | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """(errors by field, clean column values) of a consultant's hours and chat limit.
    Other roles keep what is stored: the fields mean nothing for them. A chat limit
    left empty keeps the one the account has (or the usual one for a new account)."""
    if values["role"] != CONSULTANT:
        return {}, {}
    errors: dict[str, str] = {}
    hours = values["working_hours"]
    if len(hours) > HOURS_MAX:
        errors["working_hours"] = f"Часы работы — не длиннее {HOURS_MAX} символов."
    elif hours:
        try:
            if parse(hours, zone).always_closed:
                raise ScheduleError("не указано ни одного рабочего дня")
        except ScheduleError as exc:
            errors["working_hours"] = f"Часы работы: {exc}."
    digits = values["max_chats"].replace(" ", "")
    if not digits:
        chats = current.max_chats if current else CHATS_DEFAULT
        values["max_chats"] = str(chats)
    else:
        chats = int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 4 else 0
    if not CHATS_MIN <= chats <= CHATS_MAX:
        errors["max_chats"] = f"Одновременно чатов — целое число от {CHATS_MIN} до {CHATS_MAX}."
    return errors, {"working_hours": hours, "max_chats": chats}


async def _check(session: AsyncSession, values: dict[str, Any]) -> list[str]:
    """Problems with the entered name, role, specialties and organisation."""
    errors = []
    if not values["name"]:
        errors.append("Укажите имя сотрудника — так его увидят коллеги (а консультанта и семьи).")
    elif len(values["name"]) > 120:
        errors.append("Имя — не длиннее 120 символов.")
    try:
        auth.check_role(values["role"], values["specialties"], values["partner_id"])
    except auth.AccountError as exc:
        errors.append("Выберите роль из списка." if values["role"] not in ROLES else str(exc))
    if (
        values["partner_id"] is not None
        and await session.get(Partner, values["partner_id"]) is None
    ):
        errors.append("Такой организации-партнёра нет: выберите её из списка.")
    return errors


async def _admin_guard(
    session: AsyncSession, request: Request, user: StaffUser, *, role: str, active: bool
) -> str:
    """Why this change may not take away a manager (empty when it may)."""
    if user.role != ADMIN or not user.active or (role == ADMIN and active):
        return ""
    # Lock the managers' rows first, so two managers cannot remove each other at once.
    await session.execute(
        select(StaffUser.id)
        .where(StaffUser.role == ADMIN, StaffUser.active.is_(True))
        .with_for_update()
    )
    if await auth.count_admins(session) <= 1:
        return (
            "Это последняя действующая учётная запись руководителя: без неё панелью "
            "некому будет управлять. Сначала назначьте руководителем кого-то ещё."
        )
    if user.id == staff(request).user.id:
        return (
            "Нельзя отключить свою учётную запись или снять с себя роль руководителя. "
            "Если это нужно, попросите другого руководителя."
        )
    return ""


async def _end_sessions(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))


async def _partners(session: AsyncSession) -> list[Partner]:
    return list((await session.scalars(select(Partner).order_by(Partner.name))).all())


def _form(
    request: Request,
    user: StaffUser | None,
    values: dict[str, Any],
    partners: list[Partner],
    errors: list[str] | None = None,
    status: int = 200,
    field_errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "users_form.html",
        status=status,
        user=user,
        values=values,
        partners=partners,
        errors=errors or [],
        field_errors=field_errors or {},
        roles=ROLES,
        specialties=SPECIALTIES,
        local_time=local_time,
        centre_hours=state(request).settings.consultant_schedule,
        chats_min=CHATS_MIN,
        chats_max=CHATS_MAX,
    )


def _password_page(request: Request, user: StaffUser, password: str, *, created: bool) -> Response:
    """The one and only place the one-time password appears: this response."""
    return render(request, "users_password.html", user=user, password=password, created=created)


# -- pages ----------------------------------------------------------------------------
async def users_list(request: Request) -> Response:
    role = request.query_params.get("role", "")
    query = (
        select(StaffUser, Partner.name)
        .outerjoin(Partner, Partner.id == StaffUser.partner_id)
        .order_by(StaffUser.active.desc(), StaffUser.role, StaffUser.login)
    )
    if role in ROLES:
        query = query.where(StaffUser.role == role)
    async with state(request).services.db.session() as session:
        rows = [(user, partner_name) for user, partner_name in await session.execute(query)]
    return render(
        request, "users_list.html", rows=rows, role=role, roles=ROLES, local_time=local_time
    )


async def user_new_form(request: Request) -> Response:
    """Empty form; ?role=partner&partner_id=N comes from a partner's page."""
    params = request.query_params
    values = _values(None)
    if params.get("role") in ROLES:
        values["role"] = params["role"]
    values["partner_id"] = int_param(params.get("partner_id"))
    async with state(request).services.db.session() as session:
        partners = await _partners(session)
    return _form(request, None, values, partners)


async def user_create(request: Request) -> Response:
    values = _read(await form(request))
    field_errors, consultant = _check_consultant(values, state(request).settings.timezone)
    async with state(request).services.db.session() as session:
        errors = await _check(session, values)
        user = None
        if not errors and not field_errors:
            password = auth.random_password()
            try:
                user = await auth.create_user(
                    session,
                    login=values["login"],
                    password=password,
                    role=values["role"],
                    name=values["name"],
                    specialties=values["specialties"],
                    partner_id=values["partner_id"],
                    must_change_password=True,
                )
            except auth.AccountError as exc:
                errors.append(str(exc))
        if user is None:
            partners = await _partners(session)
            return _form(request, None, values, partners, errors, 400, field_errors)
        for key, value in consultant.items():
            setattr(user, key, value)
        await audit.create(session, staff(request), "staff_user", user)
    return _password_page(request, user, password, created=True)


async def user_edit_form(request: Request) -> Response:
    async with state(request).services.db.session() as session:
        user = await session.get(StaffUser, request.path_params["user_id"])
        if user is None:
            return not_found(request)
        partners = await _partners(session)
    return _form(request, user, _values(user), partners)


async def user_update(request: Request) -> Response:
    values = _read(await form(request))
    async with state(request).services.db.session() as session:
        user = await session.get(StaffUser, request.path_params["user_id"])
        if user is None:
            return not_found(request)
        values["login"] = user.login
        errors = await _check(session, values)
        zone = state(request).settings.timezone
        field_errors, consultant = _check_consultant(values, zone, user)
        if not errors and not field_errors:
            guard = await _admin_guard(
                session, request, user, role=values["role"], active=values["active"]
            )
            errors += [guard] if guard else []
        if errors or field_errors:
            partners = await _partners(session)
            return _form(request, user, values, partners, errors, 400, field_errors)
        if user.active and not values["active"]:
            await _end_sessions(session, user.id)
        changes = {
            "name": values["name"],
            "role": values["role"],
            "specialties": sorted(set(values["specialties"])),
            "partner_id": values["partner_id"],
            "active": values["active"],
            **consultant,
        }
        await audit.update(session, staff(request), "update", "staff_user", user, changes)
    return redirect(request, f"/users/{user.id}/edit", "Учётная запись сохранена.")


async def user_reset_password(request: Request) -> Response:
    who = staff(request)
    async with state(request).services.db.session() as session:
        user = await session.get(StaffUser, request.path_params["user_id"])
        if user is None:
            return not_found(request)
        password = auth.random_password()
        # Every session of the account ends (a reset locks out whoever knew the old one),
        # except the manager's own current one when resetting their own account.
        await auth.set_password(
            session,
            user,
            password,
            must_change=True,
            keep_session=who.token_hash if user.id == who.user.id else None,
        )
        await audit.record(session, who, "password_reset", "staff_user", user.id)
    return _password_page(request, user, password, created=False)


async def _set_active(request: Request, wanted: bool) -> Response:
    async with state(request).services.db.session() as session:
        user = await session.get(StaffUser, request.path_params["user_id"])
        if user is None:
            return not_found(request)
        if user.active == wanted:
            return redirect(request, f"/users/{user.id}/edit")
        guard = await _admin_guard(session, request, user, role=user.role, active=wanted)
        if guard:
            return _form(request, user, _values(user), await _partners(session), [guard], 400)
        if not wanted:
            await _end_sessions(session, user.id)
        action = "enable" if wanted else "disable"
        await audit.update(session, staff(request), action, "staff_user", user, {"active": wanted})
    message = (
        "Учётная запись снова работает."
        if wanted
        else "Учётная запись отключена, все её сеансы закрыты."
    )
    return redirect(request, f"/users/{user.id}/edit", message)


async def user_disable(request: Request) -> Response:
    return await _set_active(request, False)


async def user_enable(request: Request) -> Response:
    return await _set_active(request, True)


ROUTES: list[Page] = [
    page("/users", users_list, ADMINS),
    page("/users/new", user_new_form, ADMINS),
    page("/users/new", user_create, ADMINS, post=True),
    page("/users/{user_id:int}/edit", user_edit_form, ADMINS),
    page("/users/{user_id:int}/edit", user_update, ADMINS, post=True),
    page("/users/{user_id:int}/reset-password", user_reset_password, ADMINS, post=True),
    page("/users/{user_id:int}/disable", user_disable, ADMINS, post=True),
    page("/users/{user_id:int}/enable", user_enable, ADMINS, post=True),
]
