"""Performance budgets, measured (not a test): `make bench` prints the figures.

Budgets (2-core machine, SQLite):
  journey step p99 ≤ 30 ms with 50 families writing at once
  triage ≤ 1 ms per message; knowledge search ≤ 5 ms per message at 2,000 entries
  start to first reply ≤ 3 s; 10,000 live conversations in ≤ 250 MB
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import freeze_startup_objects  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.frontdoor import FrontDoor  # noqa: E402
from bot.core.services import Services  # noqa: E402
from bot.core.triage import triage  # noqa: E402
from bot.core.types import Channel, Incoming  # noqa: E402
from bot.knowledge.loader import load_directory, seed_if_empty  # noqa: E402
from bot.knowledge.morph import lemmatizer  # noqa: E402
from bot.knowledge.schema import Entry  # noqa: E402
from bot.knowledge.search import SearchIndex  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, values_ms: list[float], budget: float | None = None) -> None:
    p99 = pct(values_ms, 99)
    verdict = (
        "" if budget is None else ("  OK" if p99 <= budget else f"  OVER BUDGET ({budget} ms)")
    )
    print(
        f"{name:<44} n={len(values_ms):<6} mean={statistics.fmean(values_ms):7.3f} ms  "
        f"p50={pct(values_ms, 50):7.3f}  p99={p99:7.3f} ms{verdict}"
    )


# -- triage -------------------------------------------------------------------------
def bench_triage() -> None:
    rows = (ROOT / "tests/core/phrases_triage.tsv").read_text(encoding="utf-8").splitlines()
    phrases = [r.split("\t")[0] for r in rows if r and not r.startswith("#")]
    triage("прогрев")
    times = []
    for _ in range(20):
        for text in phrases:
            start = time.perf_counter()
            triage(text)
            times.append((time.perf_counter() - start) * 1000)
    report("triage, per message (labelled phrases)", times, 1.0)
    story = ("Мы с мужем и тремя детьми живём у его родителей, денег не хватает. " * 80)[:5000]
    long_times = []
    for _ in range(50):
        start = time.perf_counter()
        triage(story)
        long_times.append((time.perf_counter() - start) * 1000)
    report("triage, 5,000-character message", long_times)


# -- search -------------------------------------------------------------------------
def synthetic_entries(real: list[Entry], total: int) -> list[Entry]:
    """Grow the real knowledge base to `total` entries by recombining its texts."""
    rng = random.Random(7)
    entries = list(real)
    sentences = [s.strip() for e in real for s in e.text("body", "ru").split("\n") if len(s) > 30]
    titles = [e.text("title", "ru") for e in real]
    while len(entries) < total:
        base = rng.choice(real)
        data = base.model_dump(mode="json")
        data["id"] = f"synthetic-{len(entries)}"
        data["title"] = {"ru": f"{rng.choice(titles)} ({len(entries)})"}
        data["summary"] = {"ru": " ".join(rng.sample(sentences, 2))}
        data["body"] = {"ru": "\n".join(rng.sample(sentences, 5))}
        data["keywords"] = {"ru": rng.sample(titles, 3)}
        data["questions"] = {}
        entries.append(Entry.model_validate(data))
    return entries


def bench_search() -> None:
    import yaml

    files = load_directory(ROOT / "knowledge")
    entries = synthetic_entries(files.entries, 2000)
    start = time.perf_counter()
    index = SearchIndex(entries, lemmatizer, files.synonyms)
    print(f"search index of {len(entries)} entries built in {time.perf_counter() - start:.2f} s")
    questions = yaml.safe_load((ROOT / "tests/knowledge/questions.yaml").read_text("utf-8"))
    texts = [q["q"] for q in questions]
    for text in texts:  # warm the lemma cache as a running bot would be
        index.search(text)
    times = []
    for _ in range(10):
        for text in texts:
            start = time.perf_counter()
            index.search(text)
            times.append((time.perf_counter() - start) * 1000)
    report("knowledge search, 2,000 entries (warm)", times, 5.0)
    cold = SearchIndex(entries, lemmatizer, files.synonyms)
    tails = ["срочно", "пожалуйста", "сегодня"]
    novel = [f"{text} {tails[i % 3]}" for i, text in enumerate(texts)]
    times = []
    for text in novel:
        start = time.perf_counter()
        cold.search(text)
        times.append((time.perf_counter() - start) * 1000)
    report("knowledge search, new word forms", times, 5.0)


# -- journey steps --------------------------------------------------------------------
SCRIPT = [
    ("text", "/start"),
    ("label", "Подобрать меры поддержки"),
    ("label", "Даю согласие"),
    ("label", "Начать"),
    ("label", "Республика Дагестан"),
    ("label", "Нет"),
    ("text", "3"),
    ("text", "2"),
    ("label", "Нет"),
    ("label", "Да, ниже"),
    ("label", "Нет"),
    ("label", "Работаю"),
    ("text", "как получить материнский капитал"),
    ("text", "/menu"),
    ("label", "Насилие дома"),
    ("label", "Сейчас я в безопасности"),
    ("label", "План безопасности"),
]


async def family_walk(
    frontdoor: FrontDoor, user: str, rounds: int, think: tuple[float, float], times: list[float]
) -> None:
    rng = random.Random(user)
    message_id = 0
    buttons: dict[str, str] = {}
    if think[1]:  # families arrive over a couple of seconds, not in the same millisecond
        await asyncio.sleep(rng.uniform(0, think[1]))
    for _ in range(rounds):
        for kind, value in SCRIPT:
            message_id += 1
            if kind == "label":
                data = next((p for label, p in buttons.items() if value in label), None)
                incoming = Incoming(Channel.WEB, user, user, payload=data)
            else:
                incoming = Incoming(Channel.WEB, user, user, text=value, message_id=str(message_id))
            start = time.perf_counter()
            outcome = await frontdoor.handle(incoming)
            times.append((time.perf_counter() - start) * 1000)
            buttons = {
                b.label: b.payload
                for r in outcome.replies
                for row in r.buttons
                for b in row
                if b.payload
            }
            if think[1]:
                await asyncio.sleep(rng.uniform(*think))


async def prepared_services(directory: Path) -> Services:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{directory / 'bench.sqlite3'}")
    services = Services.build(settings)
    await upgrade(services.db)
    async with services.db.session() as session:
        await seed_if_empty(session, settings.knowledge_dir)
    await services.knowledge.refresh(force=True)
    freeze_startup_objects()  # as `family-window run` does once content is loaded
    return services


async def bench_steps(directory: Path) -> None:
    services = await prepared_services(directory)
    frontdoor = FrontDoor(services)
    for label, think, rounds in (
        ("journey step, 50 families typing (0.5–2 s)", (0.5, 2.0), 2),
        ("journey step, 50 families, no pauses", (0.0, 0.0), 2),
    ):
        times: list[float] = []
        start = time.perf_counter()
        await asyncio.gather(
            *(family_walk(frontdoor, f"{label[:12]}-{i}", rounds, think, times) for i in range(50))
        )
        elapsed = time.perf_counter() - start
        report(label, times, 30.0 if think[1] else None)
        print(f"{'':<44} throughput {len(times) / elapsed:.0f} steps/s")
    await services.db.dispose()


async def bench_memory(directory: Path, count: int) -> None:
    services = await prepared_services(directory)
    frontdoor = FrontDoor(services)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    async def one(i: int) -> None:
        user = f"live-{i}"
        await frontdoor.handle(Incoming(Channel.WEB, user, user, text="/start", message_id="1"))
        await frontdoor.handle(Incoming(Channel.WEB, user, user, payload="menu.start.1"))

    start = time.perf_counter()
    for batch in range(0, count, 200):
        await asyncio.gather(*(one(i) for i in range(batch, min(count, batch + 200))))
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    verdict = "OK" if rss_after <= 250 else "OVER BUDGET (250 MB)"
    print(
        f"{count} live conversations (mid-journey) in {time.perf_counter() - start:.1f} s: "
        f"peak RSS {rss_after:.0f} MB (was {rss_before:.0f} MB before)  {verdict}"
    )
    await services.db.dispose()


def bench_start(directory: Path) -> None:
    port = 18000 + os.getpid() % 1000
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'start.sqlite3'}",
        "WEB_PORT": str(port),
        "TELEGRAM_TOKEN": "",
    }
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--no-migrate"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = json.dumps({"token": None, "language": "ru"}).encode()
        while time.perf_counter() - start < 30:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/chat/start",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    reply = json.load(response)
                if reply.get("messages"):
                    break
            except OSError:
                time.sleep(0.05)
        took = time.perf_counter() - start
        verdict = "OK" if took <= 3 else "OVER BUDGET (3 s)"
        print(f"start to first reply (process start → /start answered): {took:.2f} s  {verdict}")
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--live", type=int, default=10_000, help="live conversations to hold")
    parser.add_argument(
        "--only", choices=["triage", "search", "steps", "memory", "start"], action="append"
    )
    args = parser.parse_args()
    wanted = set(args.only or ["triage", "search", "steps", "memory", "start"])
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if "triage" in wanted:
            bench_triage()
        if "search" in wanted:
            bench_search()
        if "steps" in wanted:
            (directory / "steps").mkdir()
            asyncio.run(bench_steps(directory / "steps"))
        if "start" in wanted:
            bench_start(directory)
        if "memory" in wanted:  # last: it grows this process
            (directory / "memory").mkdir()
            asyncio.run(bench_memory(directory / "memory", args.live))


if __name__ == "__main__":
    main()
