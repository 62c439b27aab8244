"""Shared fixtures: real databases (a SQLite file, and a PostgreSQL server this
session starts on 127.0.0.1), the core services on them, and a test family."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.frontdoor import FrontDoor
from bot.core.services import Services
from bot.knowledge.loader import load_directory, store
from bot.storage.db import Database
from bot.storage.migrate import upgrade
from tests.support.family import TestFamily
from tests.support.postgres import PostgresServer, find_postgres

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium")


# -- PostgreSQL ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer | None]:
    bin_dir = find_postgres()
    if bin_dir is None:
        if os.environ.get("FW_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL server binaries not found (apt-get install postgresql)")
        yield None
        return
    server = PostgresServer(bin_dir, tmp_path_factory.mktemp("pg"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _prepare(url: str) -> None:
    """Migrate and load the shipped knowledge base: the state `make run` creates."""
    db = Database(url)
    try:
        await upgrade(db)
        files = load_directory(ROOT / "knowledge")
        async with db.session() as session:
            await store(session, files.entries)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    asyncio.run(_prepare(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresServer | None) -> str | None:
    if postgres is None:
        return None
    postgres.create_database("fw_template")
    asyncio.run(_prepare(postgres.url("fw_template")))
    return "fw_template"


_numbers = itertools.count(1)


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres: PostgresServer | None,
) -> str:
    """A fresh, migrated database with the shipped content, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "fw.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    template = request.getfixturevalue("postgres_template")
    if postgres is None or template is None:
        pytest.skip("PostgreSQL is not available here")
    name = f"fw_test_{os.getpid()}_{next(_numbers)}"
    postgres.create_database(name, template=template)
    return postgres.url(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        dialogs_dir=ROOT / "dialogs",
        knowledge_dir=ROOT / "knowledge",
        locales_dir=ROOT / "locales",
        web_port=0,
        telegram_token=None,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    services = Services.build(settings)
    await services.knowledge.refresh(force=True)
    try:
        yield services
    finally:
        await services.db.dispose()


@pytest.fixture
def frontdoor(services: Services) -> FrontDoor:
    return FrontDoor(services)


@pytest.fixture
def family(frontdoor: FrontDoor) -> TestFamily:
    return TestFamily(frontdoor)
