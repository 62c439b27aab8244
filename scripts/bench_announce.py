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
from bot.core.services import Services  # noqa: E402
from bot.outbound import announcements  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402
from bot.storage.models import Announcement  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramServer  # noqa: E402
from tests.support.announcements import chat_ids, seed_announcement  # noqa: E402

OVERALL = 30  # Telegram: messages a second, all chats together


async def main(families: int) -> int:
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
        feeder = announcements.Feeder(services)
        began = time.monotonic()
        tasks = [asyncio.create_task(services.outbox.run()), asyncio.create_task(feeder.run())]
        try:
            while True:
                await asyncio.sleep(0.5)
                async with services.db.session() as session:
                    status = await session.scalar(
                        select(Announcement.status).where(Announcement.id == announcement_id)
                    )
                if status == "done":
                    break
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await bot.session.close()
        elapsed = time.monotonic() - began
        async with services.db.session() as session:
            row = await session.get(Announcement, announcement_id)
            assert row is not None
            counted = (row.sent, row.failed, row.uncertain)
        await services.db.engine.dispose()

    received = Counter(
        int(call.params["chat_id"]) for call in server.calls if call.method == "sendMessage"
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
    ok = not refused and not twice and not never and slower <= 10
    print("OK" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=3000)
    sys.exit(asyncio.run(main(parser.parse_args().families)))
