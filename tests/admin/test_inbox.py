"""The consultants' web inbox: the queue in its order and scoped to the
consultant's specialties, taking, answering (the family's outbox lane gets it),
notes that stay inside, transfer, closing with a follow-up, live updates as JSON,
and the Telegram link card. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from bot.core.services import Services
from bot.storage.models import (
    AuditRecord,
    CannedReply,
    Case,
    CaseMessage,
    Conversation,
    Family,
    Identity,
    OutboxItem,
    StaffUser,
    utcnow,
)
from bot.vouchers import staff_link
from tests.admin.conftest import Accounts, StaffClient, password_hash, session_client

MakeClient = Callable[[str], Awaitable[StaffClient]]
_serial = itertools.count(1)


@dataclass(frozen=True)
class Made:
    id: int
    lane: str  # the family's outbox lane: "web:<chat id>"


async def add_case(
    services: Services,
    *,
    specialty: str = "psychologist",
    priority: str = "normal",
    topic: str = "psychological",
    status: str = "new",
    consultant_id: int | None = None,
    waited_minutes: int = 10,
    signals: tuple[str, ...] = (),
    summary: str = "",
    language: str = "ru",
) -> Made:
    """A family that wrote in the web chat, and its case."""
    n = next(_serial)
    now = utcnow()
    async with services.db.session() as session:
        family = Family(language=language, consent_at=now)
        session.add(family)
        await session.flush()
        session.add(
            Identity(
                family_id=family.id, channel="web", external_id=f"visitor-{n}", chat_id=f"chat-{n}"
            )
        )
        item = Case(
            family_id=family.id,
            topic=topic,
            specialty=specialty,
            priority=priority,
            status=status,
            summary=summary,
            signals=list(signals),
            channel="web",
            language=language,
            queued_at=now - timedelta(minutes=waited_minutes),
            consultant_id=consultant_id,
            taken_at=now if status == "open" else None,
        )
        session.add(item)
        await session.flush()
        session.add(
            Conversation(
                family_id=family.id,
                journey="menu",
                node="start",
                live_case_id=item.id if status == "open" else None,
            )
        )
    return Made(item.id, f"web:chat-{n}")


async def get_case(services: Services, case_id: int) -> Case:
    async with services.db.session() as session:
        item = await session.get(Case, case_id)
    assert item is not None
    return item


async def messages_of(services: Services, case_id: int) -> list[CaseMessage]:
    async with services.db.session() as session:
        return list(
            (
                await session.scalars(
                    select(CaseMessage)
                    .where(CaseMessage.case_id == case_id)
                    .order_by(CaseMessage.id)
                )
            ).all()
        )


async def lane_items(services: Services, lane: str) -> list[OutboxItem]:
    async with services.db.session() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxItem).where(OutboxItem.lane == lane).order_by(OutboxItem.id)
                )
            ).all()
        )


async def add_message(services: Services, case_id: int, **values: Any) -> int:
    async with services.db.session() as session:
        message = CaseMessage(case_id=case_id, **({"author": "family"} | values))
        session.add(message)
        await session.flush()
        return message.id


def section(html: str, name: str) -> str:
    found = re.search(rf'<section class="card inbox-list" id="{name}">.*?</section>', html, re.S)
    return found.group(0) if found else ""


def ids_in(html: str, name: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-case="(\d+)"', section(html, name))]


@pytest.fixture
async def colleague(
    services: Services, admin_asgi: Starlette, accounts: Accounts
) -> AsyncIterator[StaffClient]:
    """A second psychologist, logged in."""
    async with services.db.session() as session:
        user = StaffUser(
            login="second-psy",
            name="Вторая Коллега",
            role="consultant",
            specialties=["psychologist"],
            password_hash=password_hash(),
            must_change_password=False,
        )
        session.add(user)
    client: httpx.AsyncClient = await session_client(admin_asgi, services, user.id)
    yield StaffClient(client)
    await client.aclose()


# -- the lists --------------------------------------------------------------------------
async def test_the_queue_is_in_order_and_scoped_to_my_specialties(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    waited_longest = await add_case(services, waited_minutes=60)
    urgent = await add_case(
        services,
        specialty="crisis",
        topic="crisis",
        priority="urgent",
        waited_minutes=1,
        signals=("suicide",),
    )
    pregnancy = await add_case(services, topic="pregnancy", waited_minutes=5)
    high = await add_case(services, priority="high", waited_minutes=2)
    lawyer = await add_case(services, specialty="lawyer", topic="legal", waited_minutes=120)
    held = await add_case(services, status="open", consultant_id=accounts.users["admin"].id)

    consultant = await staff_client("consultant")
    page = await consultant.get("/admin/inbox")
    assert page.status_code == 200
    assert ids_in(page.text, "queue") == [urgent.id, pregnancy.id, high.id, waited_longest.id]
    queue = section(page.text, "queue")
    assert "мысли о самоубийстве" in queue  # the first risk warning
    assert "ждёт 1 ч" in queue and "🔴 СРОЧНО" in queue and "веб-чат" in queue
    assert ids_in(page.text, "others") == [held.id]  # a colleague's chat of my specialty
    assert ids_in(page.text, "mine") == []
    assert "Чаты с семьями" in page.text  # the menu entry
    state = (await consultant.get("/admin/inbox/state.json")).json()
    assert state["queue_ids"] == [urgent.id, pregnancy.id, high.id, waited_longest.id]
    assert (state["queue"], state["mine"], state["others"]) == (4, 0, 1)

    manager = await staff_client("admin")
    page = await manager.get("/admin/inbox")
    # Every specialty; the lawyer's case waited longer than the other ordinary one.
    assert ids_in(page.text, "queue") == [
        urgent.id,
        pregnancy.id,
        high.id,
        lawyer.id,
        waited_longest.id,
    ]
    assert ids_in(page.text, "mine") == [held.id]

    editor = await staff_client("editor")
    assert (await editor.get("/admin/inbox")).status_code == 403
    assert "Чаты с семьями" not in (await editor.get("/admin/")).text


async def test_the_lists_version_changes_when_the_family_writes(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    mine = await add_case(services, status="open", consultant_id=accounts.users["consultant"].id)
    consultant = await staff_client("consultant")
    before = (await consultant.get("/admin/inbox/state.json")).json()
    page = await consultant.get("/admin/inbox")
    assert f'data-version="{before["version"]}"' in page.text
    await add_message(services, mine.id, text="Вы здесь?")
    after = (await consultant.get("/admin/inbox/state.json")).json()
    assert after["version"] != before["version"] and after["mine_ids"] == [mine.id]
    page = await consultant.get("/admin/inbox")
    assert "Семья ждёт ответа" in section(page.text, "mine")
    assert "Вы здесь?" in section(page.text, "mine")


# -- taking, answering, notes -------------------------------------------------------------
async def test_taking_a_case_tells_the_family_and_moves_it_to_my_chats(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    made = await add_case(services)
    consultant = await staff_client("consultant")
    taken = await consultant.post(f"/admin/inbox/{made.id}/take", {"back": "list"})
    assert taken.status_code == 303
    assert taken.headers["location"] == f"/admin/inbox/{made.id}"
    item = await get_case(services, made.id)
    assert (item.status, item.consultant_id) == ("open", accounts.users["consultant"].id)
    [joined] = await lane_items(services, made.lane)
    assert joined.kind == "reply" and "Тест consultant" in joined.payload["text"]
    async with services.db.session() as session:
        actions = (
            await session.scalars(
                select(AuditRecord.action).where(AuditRecord.entity_id == str(made.id))
            )
        ).all()
    assert "take" in actions

    page = await consultant.get(f"/admin/inbox/{made.id}")
    assert "теперь у вас" in page.text  # the desk's words, as a flash
    assert 'name="text"' in page.text and "Отправить семье" in page.text
    assert "взял(а) обращение" in page.text  # the service line in the conversation
    lists = await consultant.get("/admin/inbox")
    assert ids_in(lists.text, "mine") == [made.id] and ids_in(lists.text, "queue") == []

    # Taking it again changes nothing and says so.
    again = await consultant.post(f"/admin/inbox/{made.id}/take")
    assert again.status_code == 303
    assert "уже у вас" in (await consultant.get(f"/admin/inbox/{made.id}")).text


async def test_a_reply_reaches_the_family_and_the_conversation(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    made = await add_case(services)
    consultant = await staff_client("consultant")
    await consultant.post(f"/admin/inbox/{made.id}/take")
    before = len(await lane_items(services, made.lane))

    sent = await consultant.post(
        f"/admin/inbox/{made.id}/reply", {"text": "Здравствуйте! <b>Я</b> рядом.\r\nРасскажите."}
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/admin/inbox/{made.id}"
    message = (await messages_of(services, made.id))[-1]
    assert (message.author, message.staff_id) == ("consultant", accounts.users["consultant"].id)
    assert message.text == "Здравствуйте! <b>Я</b> рядом.\nРасскажите."
    items = await lane_items(services, made.lane)
    assert len(items) == before + 1
    assert items[-1].payload["text"] == message.text
    assert items[-1].case_message_id == message.id

    page = await consultant.get(f"/admin/inbox/{made.id}")
    assert "Сообщение отправлено семье." in page.text
    assert "&lt;b&gt;Я&lt;/b&gt; рядом." in page.text and "<b>Я</b>" not in page.text
    assert 'class="msg msg-consultant"' in page.text

    empty = await consultant.post(f"/admin/inbox/{made.id}/reply", {"text": "   "})
    assert empty.status_code == 400 and "Напишите текст сообщения" in empty.text
    assert len(await lane_items(services, made.lane)) == before + 1


async def test_a_reply_to_a_case_i_do_not_hold_is_refused_and_the_text_kept(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    made = await add_case(services, status="open", consultant_id=accounts.users["admin"].id)
    consultant = await staff_client("consultant")
    page = await consultant.get(f"/admin/inbox/{made.id}")
    assert page.status_code == 200 and "Отправить семье" not in page.text
    assert "ведёт Тест admin" in page.text
    refused = await consultant.post(f"/admin/inbox/{made.id}/reply", {"text": "Мой ответ"})
    assert refused.status_code == 400
    assert "Обращение ведёт Тест admin" in refused.text and "Мой ответ" in refused.text
    assert await lane_items(services, made.lane) == []


async def test_a_note_stays_inside(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    made = await add_case(services, status="open", consultant_id=accounts.users["admin"].id)
    consultant = await staff_client("consultant")  # not the holder: notes are for everyone
    saved = await consultant.post(f"/admin/inbox/{made.id}/note", {"text": "Семья боится звонков"})
    assert saved.status_code == 303
    note = (await messages_of(services, made.id))[-1]
    assert (note.author, note.text) == ("note", "Семья боится звонков")
    assert await lane_items(services, made.lane) == []  # the family never gets it
    page = await consultant.get(f"/admin/inbox/{made.id}")
    assert "Заметка сохранена" in page.text and 'class="msg msg-note"' in page.text
    assert "📝 Заметка · Тест consultant" in page.text

    empty = await consultant.post(f"/admin/inbox/{made.id}/note", {"text": ""})
    assert empty.status_code == 400 and "Напишите текст заметки" in empty.text
    assert len(await messages_of(services, made.id)) == 1


async def test_canned_replies_of_the_family_language_and_specialty_are_offered(
    services: Services, staff_client: MakeClient
) -> None:
    async with services.db.session() as session:
        session.add_all(
            [
                CannedReply(title="Для всех", text="Здравствуйте!\nЯ рядом."),
                CannedReply(title="Психологу", text="Как вы спите?", specialty="psychologist"),
                CannedReply(title="Юристу", text="Пришлите документы", specialty="lawyer"),
                CannedReply(title="Отключён", text="Старое", active=False),
                CannedReply(title="English", text="Hello", language="en"),
            ]
        )
    made = await add_case(services)
    consultant = await staff_client("consultant")
    queued = await consultant.get(f"/admin/inbox/{made.id}")
    assert "data-canned" not in queued.text  # no reply box before taking
    await consultant.post(f"/admin/inbox/{made.id}/take")
    page = await consultant.get(f"/admin/inbox/{made.id}")
    assert "data-canned" in page.text
    assert 'data-text="Здравствуйте!\nЯ рядом."' in page.text
    assert "Психологу" in page.text and "Для всех" in page.text
    for absent in ("Юристу", "Отключён", "English"):
        assert absent not in page.text, absent


# -- transfer, close, follow-up -------------------------------------------------------------
async def test_transfer_to_another_specialty_or_a_colleague(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    made = await add_case(services)
    consultant = await staff_client("consultant")
    await consultant.post(f"/admin/inbox/{made.id}/take")

    for form, words in (
        ({}, "Кому передать?"),
        ({"specialty": "astrologer"}, "Выберите специальность из списка"),
        ({"login": "nobody"}, "Нет активной учётной записи"),
    ):
        refused = await consultant.post(f"/admin/inbox/{made.id}/transfer", form)
        assert refused.status_code == 400 and words in refused.text, form
    assert (await get_case(services, made.id)).status == "open"

    moved = await consultant.post(f"/admin/inbox/{made.id}/transfer", {"specialty": "lawyer"})
    # Not a psychologist's case any more: back to the lists, and the case is out of sight.
    assert moved.status_code == 303 and moved.headers["location"] == "/admin/inbox"
    item = await get_case(services, made.id)
    assert (item.specialty, item.status, item.consultant_id) == ("lawyer", "new", None)
    assert "передано" in (await consultant.get("/admin/inbox")).text
    assert (await consultant.get(f"/admin/inbox/{made.id}")).status_code == 404
    told = (await lane_items(services, made.lane))[-1].payload["text"]
    assert "юрист" in told

    manager = await staff_client("admin")
    handed = await manager.post(
        f"/admin/inbox/{made.id}/transfer",
        {"specialty": "psychologist", "login": "consultant-user"},
    )
    assert handed.status_code == 303 and handed.headers["location"] == f"/admin/inbox/{made.id}"
    item = await get_case(services, made.id)
    assert (item.specialty, item.status, item.consultant_id) == (
        "psychologist",
        "open",
        accounts.users["consultant"].id,
    )


async def test_closing_with_a_follow_up(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    made = await add_case(services)
    consultant = await staff_client("consultant")
    await consultant.post(f"/admin/inbox/{made.id}/take")

    for days, words in (("soon", "Число от 1 до 60"), ("0", "От 1 до 60"), ("61", "От 1 до 60")):
        refused = await consultant.post(f"/admin/inbox/{made.id}/close", {"follow_up_days": days})
        assert refused.status_code == 400 and words in refused.text, days
    assert (await get_case(services, made.id)).status == "open"

    closed = await consultant.post(f"/admin/inbox/{made.id}/close", {"follow_up_days": "3"})
    assert closed.status_code == 303
    item = await get_case(services, made.id)
    assert item.status == "closed" and item.follow_up_at is not None
    assert abs(item.follow_up_at - (utcnow() + timedelta(days=3))) < timedelta(minutes=5)
    ended = (await lane_items(services, made.lane))[-1]
    assert ended.payload["buttons"]  # the rating buttons
    page = await consultant.get(f"/admin/inbox/{made.id}")
    assert "закрыто" in page.text and "Через 3 дн." in page.text
    assert "Отправить семье" not in page.text
    lists = await consultant.get("/admin/inbox")
    assert ids_in(lists.text, "closed") == [made.id] and ids_in(lists.text, "mine") == []

    again = await consultant.post(f"/admin/inbox/{made.id}/close")
    assert again.status_code == 400 and "уже закрыто" in again.text


async def test_a_follow_up_is_for_the_holder_or_the_manager(
    services: Services, staff_client: MakeClient, accounts: Accounts, colleague: StaffClient
) -> None:
    made = await add_case(services, status="closed", consultant_id=accounts.users["consultant"].id)
    consultant = await staff_client("consultant")
    bad = await consultant.post(f"/admin/inbox/{made.id}/followup", {"days": "пять"})
    assert bad.status_code == 400 and "Число от 1 до 60" in bad.text
    usual = await consultant.post(f"/admin/inbox/{made.id}/followup", {"days": ""})
    assert usual.status_code == 303  # the centre's usual delay, as /followup in Telegram
    item = await get_case(services, made.id)
    assert item.follow_up_at is not None
    usual_delay = timedelta(days=services.settings.follow_up_days)
    assert abs(item.follow_up_at - (utcnow() + usual_delay)) < timedelta(minutes=5)
    done = await consultant.post(f"/admin/inbox/{made.id}/followup", {"days": "5"})
    assert done.status_code == 303
    item = await get_case(services, made.id)
    assert item.follow_up_at is not None
    assert abs(item.follow_up_at - (utcnow() + timedelta(days=5))) < timedelta(minutes=5)

    # A psychologist who never held it sees the case, but may not schedule for it.
    seen = await colleague.get(f"/admin/inbox/{made.id}")
    assert seen.status_code == 200 and "Спросить позже" not in seen.text
    refused = await colleague.post(f"/admin/inbox/{made.id}/followup", {"days": "1"})
    assert refused.status_code == 400 and "может тот, кто ведёт" in refused.text
    assert (await get_case(services, made.id)).follow_up_at == item.follow_up_at


# -- limits and scope ---------------------------------------------------------------------
async def test_a_consultant_at_the_limit_gets_the_desks_answer(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    me = accounts.users["consultant"]
    async with services.db.session() as session:
        user = await session.get(StaffUser, me.id)
        assert user is not None
        user.max_chats = 1
    await add_case(services, status="open", consultant_id=me.id)
    waiting = await add_case(services)
    consultant = await staff_client("consultant")
    refused = await consultant.post(f"/admin/inbox/{waiting.id}/take", {"back": "list"})
    assert refused.status_code == 400
    assert "У вас уже 1 открытых чатов (предел 1)" in refused.text
    assert ids_in(refused.text, "queue") == [waiting.id]  # the lists, shown again
    assert (await get_case(services, waiting.id)).status == "new"
    from_case = await consultant.post(f"/admin/inbox/{waiting.id}/take")
    assert from_case.status_code == 400 and "предел 1" in from_case.text
    assert "Карточка обращения" in from_case.text


async def test_a_consultant_cannot_see_another_specialtys_case(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    lawyer = await add_case(services, specialty="lawyer", topic="legal")
    consultant = await staff_client("consultant")
    assert (await consultant.get(f"/admin/inbox/{lawyer.id}")).status_code == 404
    assert (await consultant.get(f"/admin/inbox/{lawyer.id}/messages.json")).status_code == 404
    for action, form in (("take", {}), ("note", {"text": "x"}), ("close", {})):
        response = await consultant.post(f"/admin/inbox/{lawyer.id}/{action}", form)
        assert response.status_code == 404, action
    item = await get_case(services, lawyer.id)
    assert (item.status, item.consultant_id) == ("new", None)
    assert await messages_of(services, lawyer.id) == []
    assert (await consultant.get("/admin/inbox/999999")).status_code == 404

    # …unless they hold it (handed to them by name).
    held = await add_case(
        services, specialty="lawyer", status="open", consultant_id=accounts.users["consultant"].id
    )
    assert (await consultant.get(f"/admin/inbox/{held.id}")).status_code == 200
    manager = await staff_client("admin")
    assert (await manager.get(f"/admin/inbox/{lawyer.id}")).status_code == 200


# -- live updates ---------------------------------------------------------------------------
async def test_messages_json_gives_what_came_after_and_edits(
    services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    me = accounts.users["consultant"]
    made = await add_case(services, status="open", consultant_id=me.id)
    first = await add_message(services, made.id, text="", attachment="photo")
    second = await add_message(services, made.id, author="consultant", staff_id=me.id, text="Вижу")
    third = await add_message(services, made.id, author="note", staff_id=me.id, text="Проверить")
    fourth = await add_message(services, made.id, author="service", text="Служебное")
    consultant = await staff_client("consultant")

    url = f"/admin/inbox/{made.id}/messages.json"
    everything = (await consultant.get(url, params={"after": "0"})).json()
    assert [m["id"] for m in everything["messages"]] == [first, second, third, fourth]
    assert (everything["status"], everything["consultant_id"]) == ("open", me.id)
    photo, answer, note, service = everything["messages"]
    assert (photo["author"], photo["attachment"], photo["who"]) == ("family", "📷 фото", "Семья")
    assert (answer["who"], answer["text"], answer["edited"]) == ("Тест consultant", "Вижу", False)
    assert note["author"] == "note" and service["author"] == "service"
    assert re.fullmatch(r"\d\d:\d\d", photo["time"])

    later = (await consultant.get(url, params={"after": str(second)})).json()
    assert [m["id"] for m in later["messages"]] == [third, fourth]
    junk = (await consultant.get(url, params={"after": "junk"})).json()
    assert junk["messages"][0]["id"] == first

    # A family edit after the last look comes back under "edited".
    since = later["now"]
    async with services.db.session() as session:
        message = await session.get(CaseMessage, first)
        assert message is not None
        message.text, message.edited_at = "Вот фото документа", utcnow()
    fresh = await add_message(services, made.id, text="<script>alert(1)</script>")
    news = (await consultant.get(url, params={"after": str(fourth), "since": since})).json()
    assert [m["id"] for m in news["messages"]] == [fresh]
    assert news["messages"][0]["text"] == "<script>alert(1)</script>"  # inbox.js sets textContent
    [edited] = news["edited"]
    assert (edited["id"], edited["text"], edited["edited"]) == (first, "Вот фото документа", True)
    page = await consultant.get(f"/admin/inbox/{made.id}")
    assert "(исправлено)" in page.text and "&lt;script&gt;" in page.text


# -- Telegram ---------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["consultant", "admin"])
async def test_linking_telegram_from_the_inbox(
    role: str, services: Services, staff_client: MakeClient, accounts: Accounts
) -> None:
    client = await staff_client(role)
    page = await client.get("/admin/inbox")
    assert "Привязать Telegram" in page.text
    issued = await client.post("/admin/inbox/telegram")
    assert issued.status_code == 200
    found = re.search(r"/link ([0-9A-Z]{8})", issued.text)
    assert found
    async with services.db.session() as session:
        linking = await staff_link.link(session, "424242", found.group(1))
    assert linking.user is not None and linking.user.id == accounts.users[role].id
    page = await client.get("/admin/inbox")
    assert "Telegram привязан" in page.text and "Привязать Telegram" not in page.text
    again = await client.post("/admin/inbox/telegram")
    assert again.status_code == 303 and "/link" not in (await client.get("/admin/inbox")).text

    unlinked = await client.post("/admin/inbox/telegram/unlink")
    assert unlinked.status_code == 303
    assert "Telegram отвязан" in (await client.get("/admin/inbox")).text
    async with services.db.session() as session:
        user = await session.get(StaffUser, accounts.users[role].id)
        assert user is not None and user.telegram_user_id is None
        records = (
            await session.scalars(
                select(AuditRecord)
                .where(AuditRecord.entity == "staff_user")
                .where(AuditRecord.entity_id == str(user.id))
                .order_by(AuditRecord.id)
            )
        ).all()
    # Issued here, linked by the bot, unlinked here; the code itself never logged.
    assert [r.action for r in records] == ["telegram_link", "telegram_link", "telegram_unlink"]
    assert found.group(1) not in str([(r.before, r.after) for r in records])
