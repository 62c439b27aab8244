"""The fake Bot API in a process of its own (benchmarks): the bot under test
then does not share its CPU with the platform it talks to.

    python -m tests.fakes.serve_telegram --first-chat N --chats K --stats FILE

prints `READY <base_url> <token>` once listening, enforces Telegram's flood
limits, and on SIGTERM writes what each chat received and the errors it gave
(JSON) to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections import Counter
from pathlib import Path

from tests.fakes.telegram_api import FakeTelegramServer


async def serve(first_chat: int, chats: int, stats: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with FakeTelegramServer() as server:
        server.rate_limit()  # 1/s per chat, 20/min per group, 30/s overall; 429 beyond
        for chat in range(first_chat, first_chat + chats):
            server.user(user_id=chat, first_name="Семья")
        print(f"READY {server.base_url} {server.token}", flush=True)
        await stop.wait()
        received = {
            str(chat_id): n
            for chat_id, chat in server.chats.items()
            if (n := sum(1 for m in chat.history if m.from_bot))
        }
        errors = Counter(str(e.error_code) for e in server.errors)
        stats.write_text(json.dumps({"received": received, "errors": errors}), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--first-chat", type=int, required=True)
    parser.add_argument("--chats", type=int, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.first_chat, args.chats, args.stats))
    sys.exit(0)


if __name__ == "__main__":
    main()
