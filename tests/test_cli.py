"""The `family-window` command as scripts use it: chat --json, triage, ask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def run(database_url: str, *args: str, stdin: str) -> list[dict]:  # type: ignore[type-arg]
    env = {**os.environ, "DATABASE_URL": database_url, "TELEGRAM_TOKEN": "", "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_chat_json_walks_a_journey_by_labels(database_url: str) -> None:
    lines = run(
        database_url,
        "chat",
        "--json",
        stdin="⚖️ Юрист\nАлименты\n/quit\n",
    )
    assert lines[0]["node"] == "menu:welcome"
    assert lines[1]["node"] == "menu:start"
    assert set(lines[1]) == {"text", "buttons", "node", "urgent"}
    assert lines[1]["buttons"][0][0]["label"] == "🤰 Беременность"
    nodes = [line["node"] for line in lines]
    assert "legal:start" in nodes
    assert any(node.startswith("legal:") and node != "legal:start" for node in nodes)


def test_chat_remembers_the_user_between_runs(database_url: str) -> None:
    run(database_url, "chat", "--json", "--user", "anna", stdin="🆘 Насилие дома\n")
    lines = run(database_url, "chat", "--json", "--user", "anna", "--no-start", stdin="назад\n")
    assert lines[-1]["node"] == "menu:start"


def test_triage_command(database_url: str) -> None:
    lines = run(database_url, "triage", stdin="хочу убить время\nне хочу больше жить\n")
    assert [line["risk"] for line in lines] == ["none", "urgent"]
    assert lines[1]["signals"] == ["suicide"]
    assert lines[0] == {"text": "хочу убить время", "risk": "none", "signals": []}


def test_ask_command(database_url: str) -> None:
    lines = run(database_url, "ask", stdin="как получить маткапитал\nрецепт плова\n")
    first, second = lines
    assert first["answered"] is True
    assert first["matches"][0]["id"] == "maternity-capital"
    assert set(first["matches"][0]) == {"id", "title", "score"}
    assert second == {"text": "рецепт плова", "matches": second["matches"], "answered": False}
