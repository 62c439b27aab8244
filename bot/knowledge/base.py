"""The knowledge base as the bot uses it: published entries in memory, a search
index, and lookups for the finder, the directory and the hotlines.

Entries live in the database (staff edit them there). Every few seconds a
message triggers a cheap check of the content version; when it changed, the
entries are re-read and the index rebuilt in a thread, so edits reach the bot
without a restart and a rebuild never blocks a family's message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from bot.knowledge.loader import VERSION_KEY, KnowledgeFiles, load_dictionaries
from bot.knowledge.morph import Lemmatizer, lemmatizer
from bot.knowledge.schema import Entry
from bot.knowledge.search import SearchIndex, SearchResult
from bot.storage.db import Database
from bot.storage.models import ContentState, KnowledgeEntry

log = logging.getLogger(__name__)

CHECK_EVERY = 2.0  # seconds between content-version checks


class KnowledgeBase:
    def __init__(self, db: Database, directory: Path, morph: Lemmatizer = lemmatizer) -> None:
        self.db = db
        self.morph = morph
        self.files: KnowledgeFiles = load_dictionaries(directory)
        self.entries: dict[str, Entry] = {}
        self.index: SearchIndex | None = None
        self.version: int | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def cities(self) -> dict[str, dict[str, str]]:
        return self.files.cities

    async def refresh(self, *, force: bool = False, wait: bool = True) -> None:
        """Reload entries if staff changed them; with `wait=False` never block on a rebuild."""
        now = time.monotonic()
        if not force and now - self._checked_at < CHECK_EVERY:
            return
        if self._lock.locked() and not wait:
            return
        async with self._lock:
            if not force and time.monotonic() - self._checked_at < CHECK_EVERY:
                return
            async with self.db.session() as session:
                state = await session.get(ContentState, VERSION_KEY)
                version = state.version if state else 0
                if version == self.version and not force:
                    self._checked_at = time.monotonic()
                    return
                rows = (
                    await session.scalars(
                        select(KnowledgeEntry.data).where(KnowledgeEntry.published.is_(True))
                    )
                ).all()
            entries = []
            for data in rows:
                try:
                    entries.append(Entry.model_validate(data))
                except ValidationError:  # one broken edit must not take the rest down
                    log.error("knowledge entry %r is invalid and is skipped", data.get("id"))
            index = await asyncio.to_thread(SearchIndex, entries, self.morph, self.files.synonyms)
            self.entries = {e.id: e for e in entries}
            self.index = index
            self.version = version
            self._checked_at = time.monotonic()
            log.info("knowledge base loaded: %d entries, version %d", len(entries), version)

    async def search(self, text: str, limit: int = 3) -> SearchResult:
        if self.index is None:
            await self.refresh(force=True)
        assert self.index is not None
        return self.index.search(text, limit)

    def get(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    def measures_for(self, answers: dict[str, Any]) -> list[Entry]:
        """Support measures whose eligibility matches the finder's answers."""
        found = [e for e in self.entries.values() if e.kind == "measure" and e.eligible(answers)]
        # Regional measures first (they are the least known), then by title.
        return sorted(found, key=lambda e: (e.region != "dagestan", e.text("title", "ru")))

    def organisations(self, city: str | None, help_kind: str | None) -> list[Entry]:
        found: Iterable[Entry] = (e for e in self.entries.values() if e.kind == "organisation")
        if city:
            found = (e for e in found if city in e.cities or "online" in e.cities)
        if help_kind:
            found = (e for e in found if help_kind in e.help)
        return sorted(found, key=lambda e: ("online" in e.cities, e.text("title", "ru")))

    def cities_in_use(self) -> list[str]:
        used = {c for e in self.entries.values() if e.kind == "organisation" for c in e.cities}
        return [c for c in self.cities if c in used and c != "online"]

    def hotlines(self, topics: Iterable[str] = ()) -> list[Entry]:
        wanted = set(topics)
        found = [
            e
            for e in self.entries.values()
            if e.kind == "hotline" and (not wanted or wanted & set(e.topics))
        ]
        return sorted(found, key=lambda e: (len(e.phone or ""), e.id))

    def city_name(self, city: str, language: str) -> str:
        names = self.cities.get(city, {})
        return names.get(language) or names.get("ru") or city
