"""Long polling that survives what a real Bot API server does.

aiogram's own polling decodes a whole batch of updates at once: one update it
cannot read (a newer or older Bot API server, a new field) stalls every family
behind it forever, and its error log prints the batch — messages included.
Here updates arrive as raw JSON, are read one by one, and an unreadable one is
skipped with a log line that carries no content. An unreachable server or a
rejected token is retried with back-off and reported in `status`, so polling
never dies silently.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    AiogramError,
    TelegramConflictError,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import TelegramMethod
from aiogram.types import Update
from pydantic import ValidationError

log = logging.getLogger(__name__)

POLL_SECONDS = 25
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 10.0  # families should not wait long once Telegram is back


class RawUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates, answered as plain JSON objects."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class Poller:
    def __init__(self, bot: Bot, dispatcher: Dispatcher, allowed_updates: list[str]) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.allowed_updates = allowed_updates
        self.status = "starting"
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Poll until cancelled; every failure is logged and retried with back-off."""
        offset: int | None = None
        backoff = FIRST_BACKOFF
        while True:
            # After a failure, a short poll first: it tells at once whether we are back.
            wait = POLL_SECONDS if self.status == "ok" else 0
            try:
                batch = await self.bot(
                    RawUpdates(offset=offset, timeout=wait, allowed_updates=self.allowed_updates),
                    request_timeout=wait + 10,
                )
            except TelegramUnauthorizedError:
                self.status = "down: TELEGRAM_TOKEN rejected"
                log.error("Telegram rejected TELEGRAM_TOKEN; retrying in %.1f s", backoff)
            except TelegramConflictError:
                self.status = "down: another process receives this bot's updates"
                log.error("another process polls this bot (or a webhook is set); retrying")
            except (AiogramError, OSError, TimeoutError) as exc:
                self.status = f"down: {type(exc).__name__}"
                log.warning(
                    "cannot reach Telegram (%s); retrying in %.1f s", type(exc).__name__, backoff
                )
            else:
                self.status = "ok"
                backoff = FIRST_BACKOFF
                for item in batch:
                    update_id = item.get("update_id")
                    if isinstance(update_id, int):
                        offset = update_id + 1
                    self.dispatch(item)
                continue
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def dispatch(self, item: dict[str, Any]) -> None:
        """Read one raw update and hand it to the dispatcher in its own task."""
        try:
            update = Update.model_validate(item, context={"bot": self.bot})
        except ValidationError as exc:
            # Never log the update or the error text: both carry the message.
            log.error(
                "skipped an update this version cannot read (update_id=%s, %d field errors)",
                item.get("update_id"),
                exc.error_count(),
            )
            return
        task = asyncio.create_task(self._feed(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _feed(self, update: Update) -> None:
        try:
            await self.dispatcher.feed_update(self.bot, update)
        except Exception as exc:  # handlers catch their own; this is the last guard
            log.error("a Telegram update failed: %s", type(exc).__name__)

    @property
    def in_progress(self) -> int:
        """Updates received and still being handled (tests wait for zero)."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Let updates already received finish (used on shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
