"""The outbound queue's guarantees, with couriers at the network edge: one
process delivers per database, a slow chat never holds the others, a crisis
answer overtakes a reply stuck in the same chat, a long reply that failed
halfway is finished without repeating its first part."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import func, select, update

from bot.core.services import Services
from bot.core.types import Reply
from bot.outbound import outbox as outbox_module
from bot.outbound.outbox import Outbox, Parcel, PartlySent, Priority, RetryLater
from bot.storage.models import ChatMessage, Family, Identity, OutboxItem, utcnow


class Recording:
    """A messenger that keeps (chat, text); `hold` makes chats hang until released."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.hold: dict[str, asyncio.Event] = {}
        self.fail: Callable[[Parcel], Exception | None] = lambda _p: None

    async def __call__(self, parcel: Parcel) -> list[str]:
        if parcel.chat_id in self.hold:
            await self.hold[parcel.chat_id].wait()
        error = self.fail(parcel)
        if error is not None:
            raise error
        self.sent.append((parcel.chat_id, parcel.reply().text))
        return [str(len(self.sent))]


def fresh(services: Services, courier: Recording) -> Outbox:
    box = Outbox(services.db)
    box.pace.limits.clear()
    box.register("telegram", courier)
    return box


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_one_process_delivers_the_other_waits_for_the_lease(services: Services) -> None:
    first, second = Recording(), Recording()
    a, b = fresh(services, first), fresh(services, second)
    worker_a = asyncio.create_task(a.run())
    await until(lambda: a._leased_until > 0)
    worker_b = asyncio.create_task(b.run())
    for n in range(5):
        await a.send("telegram", "100", [Reply(f"ответ {n}")])
    await until(lambda: len(first.sent) == 5)
    await asyncio.sleep(0.3)
    assert second.sent == [] and b._leased_until == 0  # never both

    worker_a.cancel()  # a graceful stop gives the lease up…
    await asyncio.gather(worker_a, return_exceptions=True)
    await b.send("telegram", "100", [Reply("после перезапуска")])
    b.poke()
    await until(lambda: second.sent == [("100", "после перезапуска")], timeout=15)
    worker_b.cancel()
    await asyncio.gather(worker_b, return_exceptions=True)
    assert [text for _, text in first.sent] == [f"ответ {n}" for n in range(5)]


async def test_a_hanging_chat_does_not_hold_the_others(services: Services) -> None:
    courier = Recording()
    courier.hold["200"] = asyncio.Event()  # this chat's platform call hangs
    box = fresh(services, courier)
    worker = asyncio.create_task(box.run())
    try:
        await box.send("telegram", "200", [Reply("зависло")])
        await asyncio.sleep(0.2)
        await box.send("telegram", "201", [Reply("другой семье")])
        await until(lambda: ("201", "другой семье") in courier.sent)
        assert ("200", "зависло") not in courier.sent
        courier.hold["200"].set()
        await until(lambda: ("200", "зависло") in courier.sent)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def test_a_crisis_answer_overtakes_a_reply_stuck_in_the_same_chat(
    services: Services,
) -> None:
    courier = Recording()
    courier.fail = lambda p: RetryLater(60) if p.reply().text == "застрявший ответ" else None
    box = fresh(services, courier)
    await box.send("telegram", "300", [Reply("застрявший ответ")])
    await box.drain()  # the platform said "in a minute"
    await box.send("telegram", "300", [Reply("Звоните 112", urgent=True)])
    await box.send("telegram", "300", [Reply("следующий ответ")])
    await box.drain()
    assert courier.sent == [("300", "Звоните 112")]  # first, at once; the rest keep their order
    async with services.db.session() as session:
        waiting = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    assert [i.payload["text"] for i in waiting] == ["застрявший ответ", "следующий ответ"]


async def test_a_long_reply_that_failed_halfway_goes_on_from_where_it_stopped(
    services: Services,
) -> None:
    async with services.db.session() as session:
        family = Family()
        session.add(family)
        await session.flush()
        session.add(
            Identity(family_id=family.id, channel="telegram", external_id="400", chat_id="400")
        )

    parts: list[str] = []
    faults = iter([True])

    async def courier(parcel: Parcel) -> list[str]:
        """Three messages; the network drops after the first, once."""
        done = int(parcel.payload.get("sent_parts", 0))
        made: list[str] = []
        for n in range(done, 3):
            if n == 1 and next(faults, False):
                raise PartlySent(made, ConnectionError("reset"))
            parts.append(f"part {n}")
            made.append(f"m{n}")
        return made

    box = Outbox(services.db)
    box.pace.limits.clear()
    box.register("telegram", courier)
    outbox_module_pause = outbox_module.RETRY_PAUSE
    outbox_module.RETRY_PAUSE = 0.0
    try:
        await box.send("telegram", "400", [Reply("длинный ответ")])
        await box.drain()
        await asyncio.sleep(0.05)
        await box.drain()
    finally:
        outbox_module.RETRY_PAUSE = outbox_module_pause
    assert parts == ["part 0", "part 1", "part 2"]  # the first part not repeated
    async with services.db.session() as session:
        ids = (await session.scalars(select(ChatMessage.message_id).order_by(ChatMessage.id))).all()
        left = await session.scalar(select(func.count()).select_from(OutboxItem))
    assert list(ids) == ["m0", "m1", "m2"] and left == 0  # safe exit can delete all three


async def test_an_item_lost_track_of_is_sent_again_not_left_stuck(services: Services) -> None:
    """A claim whose outcome was never recorded (a crash, a database hiccup) does
    not freeze the chat: the holder of the queue sends it again."""
    courier = Recording()
    box = fresh(services, courier)
    await box.send("telegram", "500", [Reply("ответ")])
    async with services.db.session() as session:
        await session.execute(update(OutboxItem).values(claimed_at=utcnow()))
    await box.drain()
    assert courier.sent == [("500", "ответ")]
    assert await box.pending() == 0


async def test_priorities_decide_who_goes_first_when_the_limit_is_short(
    services: Services,
) -> None:
    courier = Recording()
    box = Outbox(services.db)
    box.register("telegram", courier)
    box.pace.limits["telegram"].overall = (1, 60.0)  # room for one message now
    await box.send("telegram", "601", [Reply("новости")], priority=Priority.ANNOUNCEMENT)
    await box.send("telegram", "602", [Reply("напоминание")], priority=Priority.NOTICE)
    await box.send("telegram", "603", [Reply("Звоните 112", urgent=True)])
    await box.drain()
    assert courier.sent == [("603", "Звоните 112")]
