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
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiogram import Bot  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bot.channels.telegram.courier import TelegramCourier  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.frontdoor import FrontDoor  # noqa: E402
from bot.core.services import Services  # noqa: E402
from bot.knowledge.loader import seed_if_empty  # noqa: E402
from bot.outbound import announcements  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402
from bot.storage.models import Announcement  # noqa: E402
from tests.support.announcements import FIRST_CHAT, seed_announcement  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from bench import family_walk, pct  # noqa: E402

OVERALL = 30  # Telegram: messages a second, all chats together


def fake_platform(families: int, stats: Path) -> tuple[subprocess.Popen[str], str, str]:
    """The fake Bot API in its own process, as the real one is on another machine."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.serve_telegram",
            "--first-chat",
            str(FIRST_CHAT),
            "--chats",
            str(families),
            "--stats",
            str(stats),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    _ready, base_url, token = line.split()
    return process, base_url, token


async def main(
    families: int,
    typing: int,
    platform: subprocess.Popen[str],
    base_url: str,
    token: str,
    workdir: Path,
) -> int:
    stats = workdir / "platform.json"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        telegram_token=token,
        telegram_api_server=base_url,
    )
    services = Services.build(settings)
    await upgrade(services.db)
    announcement_id = await seed_announcement(services.db, families)
    async with services.db.session() as session:
        await seed_if_empty(session, settings.knowledge_dir)
    await services.knowledge.refresh(force=True)
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    services.outbox.register("telegram", TelegramCourier(bot))
    feeder = announcements.Feeder(services)
    frontdoor = FrontDoor(services)
    steps: list[float] = []
    began = time.monotonic()
    elapsed = 0.0
    tasks = [asyncio.create_task(services.outbox.run()), asyncio.create_task(feeder.run())]
    walkers = [
        asyncio.create_task(family_walk(frontdoor, f"typing-{i}", 2, (0.5, 2.0), steps))
        for i in range(typing)
    ]
    try:
        while True:
            await asyncio.sleep(0.25)
            async with services.db.session() as session:
                status = await session.scalar(
                    select(Announcement.status).where(Announcement.id == announcement_id)
                )
            if status == "done":
                elapsed = time.monotonic() - began
                break
        await asyncio.gather(*walkers)
    finally:
        for task in [*tasks, *walkers]:
            task.cancel()
        await asyncio.gather(*tasks, *walkers, return_exceptions=True)
        await bot.session.close()
        platform.send_signal(signal.SIGTERM)
        platform.wait(30)
    async with services.db.session() as session:
        row = await session.get(Announcement, announcement_id)
        assert row is not None
        counted = row.sent
    await services.db.engine.dispose()

    report = json.loads(stats.read_text(encoding="utf-8"))
    received = Counter({int(chat): n for chat, n in report["received"].items()})
    refused = Counter({int(code): n for code, n in report["errors"].items()})
    twice = sum(1 for n in received.values() if n > 1)
    never = families - len(received)
    ideal = families / OVERALL
    print(f"families                      {families}")
    print(f"messages accepted             {sum(received.values())} (counted sent {counted})")
    print(f"got it once / twice / never   {len(received) - twice} / {twice} / {never}")
    print(f"429 Too Many Requests         {refused.get(429, 0)}")
    print(f"other API errors              {sum(refused.values()) - refused.get(429, 0)}")
    print(f"total time                    {elapsed:.1f} s")
    print(f"what the limits allow         {ideal:.1f} s ({OVERALL} messages/s)")
    slower = (elapsed / ideal - 1) * 100
    print(f"slower than the limit by      {slower:.1f} %  (budget ≤ 10 %)")
    if steps:
        print(
            f"journey step meanwhile        p99 {pct(steps, 99):.1f} ms, p50 {pct(steps, 50):.1f} "
            f"ms ({len(steps)} steps of {typing} families; budget p99 ≤ 30 ms)"
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
    workdir = Path(tempfile.mkdtemp(prefix="fw-announce-"))
    platform, base_url, token = fake_platform(args.families, workdir / "platform.json")
    sys.exit(asyncio.run(main(args.families, args.typing, platform, base_url, token, workdir)))
