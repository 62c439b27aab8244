"""One thing at a time per key, in arrival order: a family's turns, a consultant's
messages. `asyncio.Lock` wakes waiters first-in first-out, so entering the lock
before the first `await` keeps the order in which messages arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class InOrder:
    def __init__(self) -> None:
        # A lock per key while anyone holds or waits for it: [lock, users of it].
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def __call__(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """Keys in use (none are kept once their last user leaves)."""
        return len(self._locks)
