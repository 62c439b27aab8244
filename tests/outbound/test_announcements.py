"""Announcements: who gets one, and the feeder that queues them a batch at a time
(no one twice, stoppable at once, counted by the outbox's reports)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.core.services import Services
from bot.outbound import announcements
from bot.outbound.announcements import OPT_OUT, Audience, Feeder
from bot.outbound.outbox import Parcel, Priority, Undeliverable
from bot.storage.models import (
    Announcement,
    AuditRecord,
    ChatMessage,
    Family,
    FamilyCard,
    Identity,
    OutboxItem,
    StaffUser,
    utcnow,
)
from tests.admin.conftest import password_hash

_chats = itertools.count(1000)
_cards = itertools.count(1)


@dataclass
class Courier:
    """Both messengers: keeps what each chat got; chats in `refuse` cannot be reached."""

    services: Services
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # channel, chat, text
    refuse: set[str] = field(default_factory=set)
    channels: tuple[str, ...] = ("telegram", "vk")  # the messengers connected

    def __post_init__(self) -> None:
        self.services.outbox.pace.limits.clear()  # no platform limits in tests
        for channel in self.channels:
            self.services.outbox.register(channel, self._for(channel))

    def _for(self, channel: str) -> Any:
        async def deliver(parcel: Parcel) -> list[str]:
            if parcel.chat_id in self.refuse:
                raise Undeliverable("chat not found")
            self.sent.append((channel, parcel.chat_id, parcel.reply().text))
            return [str(len(self.sent))]

        return deliver

    async def flush(self) -> None:
        await self.services.outbox.drain()

    def chats(self) -> list[str]:
        return [chat for _, chat, _ in self.sent]


async def add_family(
    services: Services,
    *,
    ok: bool = True,
    language: str = "ru",
    quiet: bool = False,
    chats: tuple[tuple[str, bool], ...] = (("telegram", False),),  # (channel, blocked)
    card: dict[str, Any] | None = None,
) -> tuple[int, list[str]]:
    """A family and its chats (ids in creation order, the last one seen last)."""
    now = utcnow()
    async with services.db.session() as session:
        family = Family(announcements_ok=ok, language=language, quiet_at=now if quiet else None)
        session.add(family)
        await session.flush()
        ids = []
        for place, (channel, blocked) in enumerate(chats):
            chat = str(next(_chats))
            ids.append(chat)
            session.add(
                Identity(
                    family_id=family.id,
                    channel=channel,
                    external_id=chat,
                    chat_id=chat,
                    blocked_at=now if blocked else None,
                    last_seen_at=now - timedelta(hours=10 - place),
                )
            )
        if card is not None:
            session.add(FamilyCard(family_id=family.id, number=f"{next(_cards):010d}", **card))
        return family.id, ids


async def add_announcement(services: Services, **values: Any) -> Announcement:
    async with services.db.session() as session:
        announcement = Announcement(**({"text": "Завтра в центре праздник."} | values))
        session.add(announcement)
    return announcement


async def manager(services: Services) -> StaffUser:
    async with services.db.session() as session:
        user = StaffUser(
            login="boss",
            name="Руководитель",
            role="admin",
            password_hash=password_hash(),
            must_change_password=False,
        )
        session.add(user)
    return user


async def started(services: Services, **values: Any) -> Announcement:
    announcement = await add_announcement(services, **values)
    async with services.db.session() as session:
        row = await session.get(Announcement, announcement.id)
        assert row is not None
        assert await announcements.start(session, row, None)
    return row


async def reload(services: Services, announcement_id: int) -> Announcement:
    async with services.db.session() as session:
        row = await session.get(Announcement, announcement_id)
    assert row is not None
    return row


async def audience_of(services: Services, **filters: Any) -> list[int]:
    async with services.db.session() as session:
        query = announcements.audience(Audience(**filters)).order_by(Family.id)
        return list((await session.scalars(query)).all())


async def queued(services: Services) -> list[OutboxItem]:
    async with services.db.session() as session:
        return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


# -- the audience ---------------------------------------------------------------------
async def test_only_families_who_opted_in_and_can_be_reached(services: Services) -> None:
    yes, _ = await add_family(services)
    await add_family(services, ok=False)  # never said yes
    await add_family(services, quiet=True)  # pressed "safe exit"
    await add_family(services, chats=(("telegram", True),))  # blocked the bot
    await add_family(services, chats=(("web", False),))  # the web chat: cannot write first
    await add_family(services, chats=())
    vk_too, _ = await add_family(services, chats=(("telegram", True), ("vk", False)))

    assert await audience_of(services) == [yes, vk_too]
    async with services.db.session() as session:
        assert await announcements.count(session, Audience()) == 2


async def test_language_city_and_categories_narrow_it(services: Services) -> None:
    ru, _ = await add_family(services)
    en, _ = await add_family(services, language="en")
    verified = {"status": "verified", "city": "derbent", "categories": ["pregnancy"]}
    derbent, _ = await add_family(services, card=verified)
    many, _ = await add_family(
        services,
        card=verified | {"city": "makhachkala", "categories": ["large_family", "low_income"]},
    )
    # Not yet checked by staff: a claim, not a category.
    pending, _ = await add_family(services, card=verified | {"status": "pending"})
    rejected, _ = await add_family(services, card=verified | {"status": "rejected"})

    everyone = [ru, en, derbent, many, pending, rejected]
    assert await audience_of(services) == everyone
    assert await audience_of(services, language="en") == [en]
    assert await audience_of(services, language="ru") == [ru, derbent, many, pending, rejected]
    assert await audience_of(services, city="derbent") == [derbent]
    assert await audience_of(services, categories=["pregnancy"]) == [derbent]
    assert await audience_of(services, categories=["low_income", "pregnancy"]) == [derbent, many]
    assert await audience_of(services, categories=["single_parent"]) == []
    assert await audience_of(services, categories=["child_under_3"]) == []
    assert await audience_of(services, categories=["no-such-thing"]) == []
    assert await audience_of(services, city="makhachkala", categories=["pregnancy"]) == []
    assert await audience_of(services, city="makhachkala", categories=["large_family"]) == [many]


async def test_a_family_in_two_messengers_gets_one_copy_where_it_was_seen_last(
    services: Services,
) -> None:
    _, (tg, vk) = await add_family(services, chats=(("telegram", False), ("vk", False)))
    _, (_vk2, tg2) = await add_family(services, chats=(("vk", False), ("telegram", False)))
    _, (blocked, web, tg3) = await add_family(
        services, chats=(("vk", False), ("web", False), ("telegram", False))
    )
    async with services.db.session() as session:  # the VK chat, seen last, blocked since
        await session.execute(
            update(Identity).where(Identity.chat_id == blocked).values(blocked_at=utcnow())
        )
        await session.execute(
            update(Identity).where(Identity.chat_id == blocked).values(last_seen_at=utcnow())
        )
    courier = Courier(services)
    announcement = await started(services)
    await Feeder(services).top_up()
    items = await queued(services)
    assert [(i.channel, i.chat_id) for i in items] == [
        ("vk", vk),
        ("telegram", tg2),
        ("telegram", tg3),
    ]
    assert {i.priority for i in items} == {Priority.ANNOUNCEMENT}
    assert {i.announcement_id for i in items} == {announcement.id}
    await courier.flush()
    assert sorted(courier.chats()) == sorted([vk, tg2, tg3])
    assert tg not in courier.chats() and web not in courier.chats()


async def test_the_item_names_the_identity_so_safe_exit_can_delete_it(
    services: Services,
) -> None:
    family_id, (tg, vk) = await add_family(services, chats=(("telegram", False), ("vk", False)))
    courier = Courier(services)
    await started(services)
    await Feeder(services).top_up()
    async with services.db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.chat_id == vk))
        assert identity is not None and identity.family_id == family_id
        (item,) = (await session.scalars(select(OutboxItem))).all()
    assert item.payload["identity_id"] == identity.id
    await courier.flush()
    assert courier.chats() == [vk] and tg not in courier.chats()
    async with services.db.session() as session:  # remembered for "safe exit" like a reply
        kept = (
            await session.scalars(
                select(ChatMessage.message_id).where(ChatMessage.identity_id == identity.id)
            )
        ).all()
    assert kept == ["1"]


async def test_only_a_connected_messenger_is_chosen(services: Services) -> None:
    # Seen last in VK, but VK is off in this deployment: Telegram it is.
    _, (tg, vk) = await add_family(services, chats=(("telegram", False), ("vk", False)))
    _, (vk_only,) = await add_family(services, chats=(("vk", False),))  # nobody to write to now
    _, (tg2,) = await add_family(services)
    courier = Courier(services, channels=("telegram",))
    announcement = await started(services)
    feeder = Feeder(services)
    await feeder.top_up()
    assert [(i.channel, i.chat_id) for i in await queued(services)] == [
        ("telegram", tg),
        ("telegram", tg2),
    ]
    await courier.flush()
    assert courier.chats() == [tg, tg2]
    assert vk not in courier.chats() and vk_only not in courier.chats()
    await feeder.top_up()  # the VK-only family is skipped, not waited for
    row = await reload(services, announcement.id)
    assert (row.total, row.queued, row.sent, row.status) == (3, 2, 2, "done")


async def test_nothing_is_queued_while_no_messenger_is_connected(services: Services) -> None:
    family_id, (chat,) = await add_family(services)
    announcement = await started(services)
    feeder = Feeder(services)
    await feeder.top_up()  # starting up: the messengers are not connected yet
    assert await queued(services) == []
    row = await reload(services, announcement.id)
    assert (row.cursor, row.queued, row.status) == (0, 0, "sending")
    courier = Courier(services)
    await feeder.top_up()
    await courier.flush()
    assert courier.chats() == [chat]
    row = await reload(services, announcement.id)
    assert (row.cursor, row.queued, row.sent) == (family_id, 1, 1)


async def test_the_family_reads_the_text_and_how_to_turn_news_off(services: Services) -> None:
    _, (ru_chat,) = await add_family(services)
    _, (en_chat,) = await add_family(services, language="en")
    courier = Courier(services)
    await started(services, text="  Праздник в субботу!\nПриходите.  ")
    await Feeder(services).top_up()
    await courier.flush()
    got = {chat: text for _, chat, text in courier.sent}
    assert got[ru_chat] == (
        "Праздник в субботу!\nПриходите.\n\n"
        "Отключить новости центра: Меню → Настройки → Новости центра."
    )
    # Written in one language by staff: only the line about news is the family's own.
    english = services.translator.gettext("en", OPT_OUT)
    assert english != OPT_OUT and "Menu" in english
    assert got[en_chat] == f"Праздник в субботу!\nПриходите.\n\n{english}"


# -- starting and stopping ------------------------------------------------------------
async def test_start_counts_the_audience_and_is_audited(services: Services) -> None:
    for _ in range(3):
        await add_family(services)
    await add_family(services, ok=False)
    boss = await manager(services)
    draft = await add_announcement(services)
    async with services.db.session() as session:
        row = await session.get(Announcement, draft.id)
        assert row is not None
        assert await announcements.start(session, row, boss)
        assert (row.status, row.total) == ("sending", 3)
        assert row.started_at is not None
        assert not await announcements.start(session, row, boss)  # once
    async with services.db.session() as session:
        [record] = (
            await session.scalars(select(AuditRecord).where(AuditRecord.entity == "announcement"))
        ).all()
    assert (record.action, record.entity_id, record.user_login) == ("start", str(draft.id), "boss")
    assert record.before is not None and record.before["status"] == "draft"
    assert record.after is not None and record.after["status"] == "sending"
    assert record.after["total"] == 3


# -- the feeder -----------------------------------------------------------------------
async def test_batches_follow_the_cursor_and_nobody_gets_two(services: Services) -> None:
    families = [(await add_family(services))[0] for _ in range(7)]
    courier = Courier(services)
    announcement = await started(services)
    feeder = Feeder(services, low=2, batch=3)

    await feeder.top_up()
    row = await reload(services, announcement.id)
    assert (row.cursor, row.queued) == (families[2], 3)
    await feeder.top_up()  # three still wait (not fewer than 2): nothing more yet
    assert len(await queued(services)) == 3

    await courier.flush()
    await feeder.top_up()
    await feeder.top_up()
    row = await reload(services, announcement.id)
    assert (row.cursor, row.queued, row.sent) == (families[5], 6, 3)
    await courier.flush()
    await feeder.top_up()
    await courier.flush()
    row = await reload(services, announcement.id)
    assert (row.cursor, row.queued, row.sent, row.status) == (families[6], 7, 7, "sending")

    await feeder.top_up()  # nobody left, nothing waits: done
    row = await reload(services, announcement.id)
    assert row.status == "done" and row.finished_at is not None
    assert len(courier.chats()) == 7 == len(set(courier.chats()))
    await feeder.top_up()
    await courier.flush()
    assert len(courier.chats()) == 7


async def test_two_feeders_at_once_queue_each_family_once(services: Services) -> None:
    for _ in range(5):
        await add_family(services)
    Courier(services)  # connected, not delivering: the items stay to be counted
    announcement = await started(services)
    one, two = Feeder(services, low=100, batch=2), Feeder(services, low=100, batch=2)
    for _ in range(4):
        await asyncio.gather(one.top_up(), two.top_up())
    items = await queued(services)
    assert len(items) == 5 == len({i.chat_id for i in items})
    row = await reload(services, announcement.id)
    assert row.queued == 5


async def test_a_family_who_leaves_after_the_start_is_not_written_to(services: Services) -> None:
    stays, (chat,) = await add_family(services)
    leaves, _ = await add_family(services)
    announcement = await started(services)
    async with services.db.session() as session:
        await session.execute(update(Family).where(Family.id == leaves).values(quiet_at=utcnow()))
    courier = Courier(services)
    feeder = Feeder(services)
    await feeder.top_up()
    await courier.flush()
    await feeder.top_up()
    assert courier.chats() == [chat]
    row = await reload(services, announcement.id)
    assert (row.total, row.queued, row.sent, row.status) == (2, 1, 1, "done")
    assert stays


async def test_stop_withdraws_what_waits_and_nothing_more_is_sent(services: Services) -> None:
    for _ in range(6):
        await add_family(services)
    courier = Courier(services)
    boss = await manager(services)
    announcement = await started(services)
    feeder = Feeder(services, low=10, batch=4)
    await feeder.top_up()
    async with services.db.session() as session:  # one is with the platform right now
        first = await session.scalar(select(func.min(OutboxItem.id)))
        await session.execute(
            update(OutboxItem).where(OutboxItem.id == first).values(claimed_at=utcnow())
        )
    async with services.db.session() as session:
        row = await session.get(Announcement, announcement.id)
        assert row is not None
        assert await announcements.stop(session, row, boss)
        assert not await announcements.stop(session, row, boss)
    items = await queued(services)
    assert [i.id for i in items] == [first]  # the one in flight is the platform's now
    row = await reload(services, announcement.id)
    assert (row.status, row.queued) == ("stopped", 1)
    assert row.finished_at is not None

    await feeder.top_up()
    await courier.flush()
    # The item claimed when the sending stopped is in doubt (Telegram has no
    # idempotency key): counted as not confirmed, never sent a second time.
    assert courier.sent == []
    (left,) = await queued(services)
    assert left.id == first and left.failed_at is not None
    row = await reload(services, announcement.id)
    assert (row.uncertain, row.sent) == (1, 0)
    async with services.db.session() as session:
        record = await session.scalar(
            select(AuditRecord).where(AuditRecord.action == "stop").order_by(AuditRecord.id)
        )
    assert record is not None and record.after is not None
    assert (record.after["status"], record.after["withdrawn"]) == ("stopped", 3)


async def test_a_draft_cannot_be_stopped_nor_a_stopped_one_started(services: Services) -> None:
    draft = await add_announcement(services)
    async with services.db.session() as session:
        row = await session.get(Announcement, draft.id)
        assert row is not None
        assert not await announcements.stop(session, row, None)
        assert await announcements.start(session, row, None)
        assert await announcements.stop(session, row, None)
        assert not await announcements.start(session, row, None)
        assert row.status == "stopped"


async def test_progress_counts_what_the_outbox_reports(services: Services) -> None:
    chats = [(await add_family(services))[1][0] for _ in range(4)]
    courier = Courier(services, refuse={chats[1]})
    announcement = await started(services)
    feeder = Feeder(services)
    await feeder.top_up()
    async with services.db.session() as session:  # the process died while sending this one
        await session.execute(
            update(OutboxItem).where(OutboxItem.chat_id == chats[3]).values(claimed_at=utcnow())
        )
    await services.outbox.recover()  # what a restart does: in doubt, not resent
    await courier.flush()

    async with services.db.session() as session:
        figures = await announcements.progress(session, announcement.id)
        assert await announcements.progress(session, announcement.id + 100) is None
    assert figures is not None
    assert {k: figures[k] for k in ("status", "total", "queued", "sent", "failed")} == {
        "status": "sending",
        "total": 4,
        "queued": 4,
        "sent": 2,
        "failed": 1,
    }
    assert (figures["uncertain"], figures["waiting"], figures["eta_seconds"]) == (1, 0, 0)
    assert figures["started_at"] and figures["finished_at"] is None
    assert sorted(courier.chats()) == sorted([chats[0], chats[2]])

    await feeder.top_up()
    async with services.db.session() as session:
        figures = await announcements.progress(session, announcement.id)
    assert figures is not None and figures["status"] == "done" and figures["finished_at"]


async def test_the_eta_follows_the_platforms_pace(services: Services) -> None:
    announcement = await add_announcement(
        services, status="sending", total=1000, queued=100, sent=40, failed=5, uncertain=5
    )
    figures = announcements.figures(announcement)
    assert figures["waiting"] == 50
    assert figures["eta_seconds"] == 38  # 950 left at 25 a second


async def test_the_feeder_survives_a_fault(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("database went away")

    feeder = Feeder(services)
    monkeypatch.setattr(feeder, "top_up", broken)
    monkeypatch.setattr(announcements, "TICK", 0.01)
    task = asyncio.create_task(feeder.run())
    await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls >= 2
