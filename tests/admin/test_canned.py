"""Canned replies: editors and the manager write them, consultants read them,
every change is audited, bad forms come back with what was typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.services import Services
from bot.storage.models import AuditRecord, CannedReply
from tests.admin.conftest import Accounts, StaffClient

MakeClient = Callable[[str], Awaitable[StaffClient]]
GOOD = {
    "title": "Приветствие психолога",
    "text": "Здравствуйте! Я рядом и готова выслушать.\nРасскажите, что случилось.",
    "language": "ru",
    "specialty": "psychologist",
    "active": "1",
}


async def add_reply(services: Services, **values: Any) -> CannedReply:
    async with services.db.session() as session:
        reply = CannedReply(**({"title": "Шаблон", "text": "Текст"} | values))
        session.add(reply)
    return reply


async def replies(services: Services) -> list[CannedReply]:
    async with services.db.session() as session:
        return list((await session.scalars(select(CannedReply).order_by(CannedReply.id))).all())


async def records(services: Services) -> list[AuditRecord]:
    async with services.db.session() as session:
        return list(
            (
                await session.scalars(
                    select(AuditRecord)
                    .where(AuditRecord.entity == "canned_reply")
                    .order_by(AuditRecord.id)
                )
            ).all()
        )


@pytest.mark.parametrize("role", ["editor", "admin"])
async def test_creating_a_reply_stores_and_audits_it(
    role: str, staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    client = await staff_client(role)
    form = await client.get("/admin/canned/new")
    assert form.status_code == 200
    assert "Новый шаблон ответа" in form.text and 'name="csrf"' in form.text
    assert '<option value="en"' in form.text and "английский" in form.text

    created = await client.post("/admin/canned/new", GOOD | {"text": "Строка 1\r\nСтрока 2"})
    assert created.status_code == 303 and created.headers["location"] == "/admin/canned"
    [reply] = await replies(services)
    assert (reply.title, reply.language, reply.specialty, reply.active) == (
        "Приветствие психолога",
        "ru",
        "psychologist",
        True,
    )
    assert reply.text == "Строка 1\nСтрока 2"  # one line break each, as Telegram counts
    [record] = await records(services)
    assert (record.action, record.entity_id, record.before) == ("create", str(reply.id), None)
    assert record.after is not None and record.after["title"] == "Приветствие психолога"
    assert record.user_login == f"{role}-user"

    listing = await client.get("/admin/canned")
    assert "добавлен" in listing.text  # the flash message
    for shown in ("Приветствие психолога", "русский", "психолог", "действует", "Строка 1"):
        assert shown in listing.text, shown
    assert "Строка 2" not in listing.text  # only the first line in the list


async def test_the_list_filters_by_language_specialty_and_state(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    await add_reply(services, title="Общий русский", language="ru", specialty="")
    await add_reply(services, title="Юристу", language="ru", specialty="lawyer")
    await add_reply(services, title="English hello", language="en", specialty="")
    await add_reply(services, title="Старый", language="ru", specialty="crisis", active=False)
    client = await staff_client("editor")

    async def titles(query: str) -> set[str]:
        html = (await client.get(f"/admin/canned?{query}")).text
        return {t for t in ("Общий русский", "Юристу", "English hello", "Старый") if t in html}

    assert await titles("") == {"Общий русский", "Юристу", "English hello", "Старый"}
    assert await titles("language=en") == {"English hello"}
    assert await titles("specialty=lawyer") == {"Юристу"}
    assert await titles("specialty=common") == {"Общий русский", "English hello"}
    assert await titles("active=0") == {"Старый"}
    assert await titles("active=1&language=ru") == {"Общий русский", "Юристу"}
    assert await titles("language=zz&specialty=<b>") == {
        "Общий русский",
        "Юристу",
        "English hello",
        "Старый",
    }
    html = (await client.get("/admin/canned?specialty=social")).text
    assert "Под выбранные условия шаблонов нет" in html
    everything = (await client.get("/admin/canned")).text
    assert "кризисный специалист" in everything and "английский" in everything
    assert '<span class="tag off">отключён</span>' in everything


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "Укажите название шаблона"),
        ({"title": "Д" * 121}, "не длиннее 120 символов"),
        ({"text": "  "}, "Напишите текст ответа"),
        ({"text": "а" * 4001}, "не длиннее 4000 символов"),
        ({"language": "de"}, "Выберите язык из списка"),
        ({"language": ""}, "Выберите язык из списка"),
        ({"specialty": "astrologer"}, "Выберите специальность из списка"),
    ],
)
async def test_a_bad_form_is_refused_with_the_input_kept(
    change: dict[str, str],
    message: str,
    staff_client: MakeClient,
    services: Services,
    accounts: Accounts,
) -> None:
    client = await staff_client("editor")
    response = await client.post("/admin/canned/new", GOOD | change)
    assert response.status_code == 400
    assert message in response.text
    entered = GOOD | change
    assert f'value="{entered["title"]}"' in response.text
    assert f">{entered['text'].strip()}</textarea>" in response.text
    assert 'aria-invalid="true"' in response.text
    assert await replies(services) == []
    assert await records(services) == []


async def test_an_empty_post_is_a_400_not_a_crash(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    client = await staff_client("admin")
    response = await client.post("/admin/canned/new", {})
    assert response.status_code == 400
    assert "Укажите название шаблона" in response.text
    reply = await add_reply(services)
    response = await client.post(f"/admin/canned/{reply.id}", {})
    assert response.status_code == 400
    assert await records(services) == []


async def test_the_longest_text_telegram_takes_is_accepted(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    client = await staff_client("editor")
    response = await client.post("/admin/canned/new", GOOD | {"text": "б" * 4000})
    assert response.status_code == 303
    [reply] = await replies(services)
    assert len(reply.text) == 4000


async def test_editing_a_reply_is_audited_before_and_after(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    reply = await add_reply(services, title="Было", text="Старый текст", specialty="lawyer")
    client = await staff_client("editor")
    page = await client.get(f"/admin/canned/{reply.id}")
    assert page.status_code == 200
    assert 'value="Было"' in page.text and "Старый текст" in page.text
    assert '<option value="lawyer" selected>' in page.text
    assert "data-confirm=" in page.text and f"/admin/canned/{reply.id}/delete" in page.text

    saved = await client.post(
        f"/admin/canned/{reply.id}",
        {"title": "Стало", "text": "Новый текст", "language": "en", "specialty": ""},
    )
    assert saved.status_code == 303
    [stored] = await replies(services)
    assert (stored.title, stored.text, stored.language, stored.specialty, stored.active) == (
        "Стало",
        "Новый текст",
        "en",
        "",
        False,  # the box was left unticked
    )
    assert stored.updated_at > reply.updated_at
    [record] = await records(services)
    assert record.action == "update" and record.before and record.after
    assert record.before["title"] == "Было" and record.after["title"] == "Стало"
    assert record.before["active"] is True and record.after["active"] is False

    # Saving the same form again changes nothing and records nothing.
    again = await client.post(
        f"/admin/canned/{reply.id}",
        {"title": "Стало", "text": "Новый текст", "language": "en", "specialty": ""},
    )
    assert again.status_code == 303
    assert len(await records(services)) == 1

    bad = await client.post(
        f"/admin/canned/{reply.id}", {"title": "", "text": "Черновик", "language": "ru"}
    )
    assert bad.status_code == 400 and "Черновик" in bad.text
    [stored] = await replies(services)
    assert stored.text == "Новый текст"


async def test_deleting_a_reply_is_audited(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    reply = await add_reply(services, title="Удалить меня")
    client = await staff_client("admin")
    response = await client.post(f"/admin/canned/{reply.id}/delete")
    assert response.status_code == 303
    assert await replies(services) == []
    [record] = await records(services)
    assert record.action == "delete" and record.after is None
    assert record.before is not None and record.before["title"] == "Удалить меня"
    assert "удалён" in (await client.get("/admin/canned")).text
    assert (await client.get(f"/admin/canned/{reply.id}")).status_code == 404


async def test_unknown_reply_is_404(staff_client: MakeClient, accounts: Accounts) -> None:
    client = await staff_client("editor")
    assert (await client.get("/admin/canned/99999")).status_code == 404
    assert (await client.post("/admin/canned/99999", GOOD)).status_code == 404
    assert (await client.post("/admin/canned/99999/delete")).status_code == 404
    assert (await client.get("/admin/canned/99999999999")).status_code == 404


async def test_a_consultant_reads_but_cannot_change(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    reply = await add_reply(
        services, title="Про пособия", text="Первая строка\nВторая строка", specialty="lawyer"
    )
    consultant = await staff_client("consultant")
    listing = await consultant.get("/admin/canned")
    assert listing.status_code == 200
    assert "Про пособия" in listing.text and "юрист" in listing.text
    assert "Добавить шаблон" not in listing.text
    assert "Шаблоны ответов" in listing.text  # in the menu

    view = await consultant.get(f"/admin/canned/{reply.id}")
    assert view.status_code == 200
    assert "Первая строка\nВторая строка" in view.text
    assert f'action="/admin/canned/{reply.id}' not in view.text  # no edit or delete form
    assert (await consultant.get("/admin/canned/new")).status_code == 403
    for path in ("/admin/canned/new", f"/admin/canned/{reply.id}"):
        assert (await consultant.post(path, GOOD)).status_code == 403
    assert (await consultant.post(f"/admin/canned/{reply.id}/delete")).status_code == 403
    [stored] = await replies(services)
    assert stored.title == "Про пособия"
    assert await records(services) == []


async def test_partner_staff_see_no_canned_replies(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    reply = await add_reply(services)
    partner = await staff_client("partner")
    assert (await partner.get("/admin/canned")).status_code == 403
    assert (await partner.get(f"/admin/canned/{reply.id}")).status_code == 403
    assert "Шаблоны ответов" not in (await partner.get("/admin/")).text


async def test_titles_and_texts_are_escaped(
    staff_client: MakeClient, services: Services, accounts: Accounts
) -> None:
    reply = await add_reply(services, title="<script>alert(1)</script>", text="<b>жирный</b>")
    client = await staff_client("editor")
    for path in ("/admin/canned", f"/admin/canned/{reply.id}"):
        html = (await client.get(path)).text
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
        assert "<b>жирный</b>" not in html
