"""Knowledge files → database → the bot's answers, and what the loader refuses."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.knowledge import base as knowledge_base
from bot.knowledge.loader import KnowledgeLoadError, bump_version, load_directory, store
from bot.storage.models import KnowledgeEntry
from tests.support.family import TestFamily

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_knowledge_is_valid_and_sourced() -> None:
    files = load_directory(ROOT / "knowledge")
    kinds = {e.kind for e in files.entries}
    assert kinds == {"measure", "organisation", "hotline", "article"}
    for entry in files.entries:
        assert entry.source and entry.reviewed, entry.id
        for field in ("title", "summary"):
            assert getattr(entry, field).get("en"), f"{entry.id}: no English {field}"
    assert {"makhachkala", "kaspiysk", "kizlyar", "online"} <= set(files.cities)


def write(directory: Path, body: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "test.yaml").write_text(textwrap.dedent(body), encoding="utf-8")


def test_loader_names_every_problem(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        - id: no-source
          kind: measure
          title: {ru: Мера}
          summary: {ru: Описание}
          reviewed: 2026-11-24
        - id: bad-condition
          kind: measure
          title: {ru: Мера}
          summary: {ru: Описание}
          eligibility: {var: pregnat, eq: true}
          source: закон
          reviewed: 2026-11-24
        - id: hotline-without-phone
          kind: hotline
          title: {ru: Телефон}
          summary: {ru: Описание}
          source: закон
          reviewed: 2026-11-24
        """,
    )
    with pytest.raises(KnowledgeLoadError) as error:
        load_directory(tmp_path)
    problems = "\n".join(error.value.problems)
    assert "no-source: source" in problems
    assert "unknown variables ['pregnat']" in problems
    assert "a hotline needs a phone" in problems


async def test_staff_edits_reach_the_bot_without_restart(
    family: TestFamily,
    services,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(knowledge_base, "CHECK_EVERY", 0.0)
    await family.send("как получить материнский капитал")
    assert family.node == "kb:maternity-capital"
    async with services.db.session() as session:
        row = await session.get(KnowledgeEntry, "maternity-capital")
        assert row is not None
        data = dict(row.data)
        data["summary"] = {**data["summary"], "ru": "Новый текст от редактора центра."}
        await session.execute(
            update(KnowledgeEntry).where(KnowledgeEntry.id == row.id).values(data=data)
        )
        await bump_version(session)
    await family.send("как получить материнский капитал")
    assert "Новый текст от редактора центра." in family.text
    # Unpublishing hides an entry at once.
    async with services.db.session() as session:
        await session.execute(
            update(KnowledgeEntry)
            .where(KnowledgeEntry.id == "maternity-capital")
            .values(published=False)
        )
        await bump_version(session)
    await family.send("как получить материнский капитал")
    assert family.node != "kb:maternity-capital"


async def test_reloading_files_keeps_staff_edits(services) -> None:  # type: ignore[no-untyped-def]
    files = load_directory(ROOT / "knowledge")
    async with services.db.session() as session:
        await session.execute(
            update(KnowledgeEntry).where(KnowledgeEntry.id == "alimony").values(source="edited")
        )
        assert await store(session, files.entries) == 0  # nothing new: nothing written
        source = await session.scalar(
            select(KnowledgeEntry.source).where(KnowledgeEntry.id == "alimony")
        )
    assert source == "edited"
    async with services.db.session() as session:
        assert await store(session, files.entries, replace=True) == len(files.entries)
