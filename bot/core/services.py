"""What the core needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from bot.actions import registry as action_registry
from bot.actions.registry import Registry
from bot.config import Settings
from bot.core.i18n import Translator
from bot.core.notify import Notifier
from bot.journeys.book import JourneyBook
from bot.journeys.engine import Engine
from bot.knowledge.base import KnowledgeBase
from bot.outbound.outbox import Outbox
from bot.storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    book: JourneyBook
    translator: Translator
    knowledge: KnowledgeBase
    registry: Registry
    engine: Engine
    notifier: Notifier
    outbox: Outbox

    @classmethod
    def build(cls, settings: Settings, db: Database | None = None) -> Services:
        """Load journeys, catalogs and dictionaries; connect nothing yet (lazy engine)."""
        import bot.actions  # noqa: F401  (registers every action)

        db = db or Database(settings.database_url, echo=settings.db_echo)
        book = JourneyBook.load(settings.dialogs_dir)
        registry = action_registry.registry
        outbox = Outbox(db)
        return cls(
            settings=settings,
            db=db,
            book=book,
            translator=Translator(settings.locales_dir, settings.default_language),
            knowledge=KnowledgeBase(db, settings.knowledge_dir),
            registry=registry,
            engine=Engine(book, registry),
            notifier=Notifier(db, outbox),
            outbox=outbox,
        )
