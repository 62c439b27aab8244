"""The service is killed (SIGKILL) halfway through an announcement and started
again: it finishes, and no family gets the announcement twice.

The service runs as in production (`python -m bot.cli run`) in a child process,
talking to a fake Bot API that enforces Telegram's limits; the fake lives in
the test process, so it outlives the kill and counts what each chat received.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bot.storage.db import Database
from bot.storage.migrate import upgrade
from bot.storage.models import Announcement
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support.announcements import chat_ids, seed_announcement

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = 240  # 8 s at Telegram's 30 messages a second


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(url: str, server: FakeTelegramServer, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TELEGRAM_TOKEN": server.token,
        "TELEGRAM_API_SERVER": server.base_url,
        "WEB_PORT": str(free_port()),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("STAFF_GROUP_ID", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--no-migrate"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def received(server: FakeTelegramServer) -> Counter[int]:
    """Messages each family's chat shows (a request refused with 429 made none)."""
    return Counter(
        {
            chat_id: n
            for chat_id, chat in server.chats.items()
            if (n := sum(1 for m in chat.history if m.from_bot))
        }
    )


async def until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def test_killed_halfway_it_finishes_without_duplicates(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    db = Database(url)
    await upgrade(db)
    announcement_id = await seed_announcement(db, FAMILIES)
    log = tmp_path / "service.log"

    async def status() -> Announcement:
        async with db.session() as session:
            row = await session.get(Announcement, announcement_id, populate_existing=True)
            assert row is not None
            return row

    async with FakeTelegramServer() as server:
        server.rate_limit()  # Telegram's flood limits, 429 beyond them
        for chat in chat_ids(FAMILIES):
            server.user(user_id=chat, first_name="Семья")

        service = start_service(url, server, log)

        async def halfway() -> bool:
            return sum(received(server).values()) >= FAMILIES // 2

        try:
            await until(halfway, 60)
        finally:
            service.send_signal(signal.SIGKILL)
            service.wait(10)
        at_kill = sum(received(server).values())
        assert at_kill < FAMILIES, "the service finished before it could be killed"

        service = start_service(url, server, log)
        try:

            async def done() -> bool:
                return (await status()).status == "done"

            await until(done, 90)
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(10)

        got = received(server)
        final = await status()
    await db.engine.dispose()

    assert [chat for chat, times in got.items() if times > 1] == [], log.read_text()
    # A message in flight at the kill is "not confirmed" and not resent; all
    # the others reach their family once.
    assert final.uncertain <= 30  # at most one second's worth was in flight
    assert final.sent + final.uncertain == FAMILIES and final.failed == 0
    assert FAMILIES - final.uncertain <= len(got) <= FAMILIES
