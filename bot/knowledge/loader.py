"""Reading `knowledge/*.yaml` and putting entries into the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.knowledge.schema import Entry
from bot.storage.models import ContentState, KnowledgeEntry, utcnow

CITIES_FILE = "cities.yaml"
SYNONYMS_FILE = "synonyms.yaml"
VERSION_KEY = "knowledge"


class KnowledgeLoadError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class KnowledgeFiles:
    entries: list[Entry] = field(default_factory=list)
    cities: dict[str, dict[str, str]] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KnowledgeLoadError([f"{path.name}: not valid YAML: {exc}"]) from exc


def load_dictionaries(directory: Path) -> KnowledgeFiles:
    """Cities and synonyms: small reference files read at start-up."""
    files = KnowledgeFiles()
    if (directory / CITIES_FILE).exists():
        files.cities = dict(_read(directory / CITIES_FILE) or {})
    if (directory / SYNONYMS_FILE).exists():
        raw = _read(directory / SYNONYMS_FILE) or {}
        files.synonyms = {
            str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
            for k, vs in raw.items()
        }
    return files


def load_directory(directory: Path) -> KnowledgeFiles:
    """Every entry in the directory, validated; raise listing every problem found."""
    files = load_dictionaries(directory)
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name in (CITIES_FILE, SYNONYMS_FILE):
            continue
        raw = _read(path) or []
        if not isinstance(raw, list):
            problems.append(f"{path.name}: expected a list of entries")
            continue
        for i, item in enumerate(raw):
            try:
                entry = Entry.model_validate(item)
            except ValidationError as exc:
                ident = item.get("id", f"#{i}") if isinstance(item, dict) else f"#{i}"
                for error in exc.errors():
                    loc = ".".join(str(p) for p in error["loc"])
                    problems.append(f"{path.name}: {ident}: {loc}: {error['msg']}")
                continue
            if entry.id in seen:
                problems.append(f"{path.name}: id '{entry.id}' is also in {seen[entry.id]}")
                continue
            unknown = [c for c in entry.cities if c not in files.cities]
            if unknown and files.cities:
                problems.append(f"{path.name}: {entry.id}: unknown cities {unknown}")
            seen[entry.id] = path.name
            files.entries.append(entry)
    if problems:
        raise KnowledgeLoadError(problems)
    return files


def to_row_values(entry: Entry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "region": entry.region,
        "data": entry.model_dump(mode="json"),
        "source": entry.source,
        "reviewed": entry.reviewed,
        "updated_at": utcnow(),
    }


async def store(session: AsyncSession, entries: list[Entry], *, replace: bool = False) -> int:
    """Insert entries the database lacks (staff edits win); `replace` overwrites them all.

    Returns how many rows were written, and bumps the content version so every
    running worker reloads its search index.
    """
    existing = set((await session.scalars(select(KnowledgeEntry.id))).all())
    written = 0
    for entry in entries:
        if entry.id in existing:
            if replace:
                await session.execute(
                    update(KnowledgeEntry)
                    .where(KnowledgeEntry.id == entry.id)
                    .values(**to_row_values(entry))
                )
                written += 1
            continue
        session.add(KnowledgeEntry(id=entry.id, published=True, **to_row_values(entry)))
        written += 1
    if written:
        await bump_version(session)
    return written


async def seed_if_empty(session: AsyncSession, directory: Path) -> int:
    """First start on an empty database: load the shipped knowledge base."""
    if await session.scalar(select(KnowledgeEntry.id).limit(1)) is not None:
        return 0
    return await store(session, load_directory(directory).entries)


async def bump_version(session: AsyncSession) -> None:
    state = await session.get(ContentState, VERSION_KEY)
    if state is None:
        session.add(ContentState(key=VERSION_KEY, version=1))
    else:
        state.version += 1
