"""An announcement to thousands of families within Telegram's limits (not a test).

`make bench-announce` sends one announcement to 3,000 families (default)
through a fake Bot API on 127.0.0.1 that enforces Telegram's flood limits
(30 messages a second overall, 1 a second per chat, 20 a minute per group;
429 with retry_after beyond them) and prints: 429s received, how many families
got it once / twice / never, the total time and how close that is to what the
limits allow (families / 30 per second).

The real parts run as in production: the announcement is started as the admin
panel starts it, the feeder queues it in batches, the outbox worker paces it
and aiogram talks HTTP to the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot.channels.telegram.courier import TelegramCourier  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.frontdoor import FrontDoor  # noqa: E402
from bot.core.services import Services  # noqa: E402
from bot.knowledge.loader import seed_if_empty  # noqa: E402
from bot.outbound import announcements  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402
from bot.storage.models import Announcement  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramServer  # noqa: E402
from tests.support.announcements import chat_ids, seed_announcement  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from bench import family_walk, pct  # noqa: E402

OVERALL = 30  # Telegram: messages a second, all chats together


async def main(families: int, typing: int) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="fw-announce-"))
    async with FakeTelegramServer() as server:
        server.rate_limit()  # Telegram's limits: 1/s per chat, 20/min per group, 30/s overall
        for chat in chat_ids(families):
            server.user(user_id=chat, first_name="Семья")
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            telegram_token=server.token,
            telegram_api_server=server.base_url,
        )
        services = Services.build(settings)
        await upgrade(services.db)
        announcement_id = await seed_announcement(services.db, families)
        bot = server.create_bot()
        services.outbox.register("telegram", TelegramCourier(bot))
        async with services.db.session() as session:
            await seed_if_empty(session, settings.knowledge_dir)
        await services.knowledge.refresh(force=True)
        feeder = announcements.Feeder(services)
        frontdoor = FrontDoor(services)
        steps: list[float] = []
        began = time.monotonic()
        tasks = [asyncio.create_task(services.outbox.run()), asyncio.create_task(feeder.run())]
        walkers = [
            asyncio.create_task(family_walk(frontdoor, f"typing-{i}", 2, (0.5, 2.0), steps))
            for i in range(typing)
        ]
        try:
            while True:
                await asyncio.sleep(0.5)
                async with services.db.session() as session:
                    status = await session.scalar(
                        select(Announcement.status).where(Announcement.id == announcement_id)
                    )
                if status == "done":
                    break
            await asyncio.gather(*walkers)
        finally:
            for task in [*tasks, *walkers]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await bot.session.close()
        elapsed = time.monotonic() - began
        async with services.db.session() as session:
            row = await session.get(Announcement, announcement_id)
            assert row is not None
            counted = (row.sent, row.failed, row.uncertain)
        await services.db.engine.dispose()

    # What each chat shows (a request refused with 429 made no message).
    received = Counter(
        {
            chat_id: n
            for chat_id, chat in server.chats.items()
            if (n := sum(1 for m in chat.history if m.from_bot))
        }
    )
    refused = Counter(e.error_code for e in server.errors)
    twice = sum(1 for n in received.values() if n > 1)
    never = families - len(received)
    ideal = families / OVERALL
    print(f"families                      {families}")
    print(f"messages accepted             {sum(received.values())} (counted sent {counted[0]})")
    print(f"got it once / twice / never   {len(received) - twice} / {twice} / {never}")
    print(f"429 Too Many Requests         {refused.get(429, 0)}")
    print(f"other API errors              {sum(refused.values()) - refused.get(429, 0)}")
    print(f"total time                    {elapsed:.1f} s")
    print(f"what the limits allow         {ideal:.1f} s ({OVERALL} messages/s)")
    slower = (elapsed / ideal - 1) * 100
    print(f"slower than the limit by      {slower:.1f} %  (budget ≤ 10 %)")
    if steps:
        step_p99 = pct(steps, 99)
        print(
            f"journey step meanwhile        p99 {step_p99:.1f} ms, p50 {pct(steps, 50):.1f} ms "
            f"({len(steps)} steps of {typing} families; budget p99 ≤ 30 ms)"
        )
    ok = not refused and not twice and not never and slower <= 10
    print("OK" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=3000)
    parser.add_argument(
        "--typing", type=int, default=50, help="families walking journeys meanwhile"
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.families, args.typing)))
