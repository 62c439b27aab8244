"""Walk every journey to its end by pressing every button, as a family could.

The crawler starts at /start, presses each button it sees (returning to a
button's node first when needed) and answers questions with valid values. It
must reach every node of every journey, and nothing may break on the way.
"""

from __future__ import annotations

import logging
from collections import deque

import pytest

from bot.core.services import Services
from bot.core.triage import triage
from bot.journeys import payload
from tests.support.family import TestFamily

SAMPLE_ANSWERS = {"integer": "1", "text": "Проверка", "contact": "+7 900 000-00-00"}
# Nodes the core enters on its own (crisis triage), not through a button.
ENTERED_BY_CORE = {
    "crisis:elevated_distress",
    "crisis:elevated_hardship",
    "crisis:elevated_pregnancy",
    "crisis:elevated_violence",
    "crisis:general",
    "crisis:suicide",
    "crisis:child",
    "crisis:pregnancy",
    "crisis:medical",
    "crisis:violence",
    "menu:welcome",
    "menu:no_words",
}


async def test_every_node_is_reachable_and_nothing_breaks(
    family: TestFamily, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    book = services.book
    visited: set[str] = set()
    pressed: set[str] = set()
    how_to_reach: dict[str, str] = {}  # node -> a payload that led there
    queue: deque[tuple[str, str]] = deque()  # (node the button is on, payload)
    last: deque[tuple[str, str]] = deque()  # buttons that wipe the family: pressed at the end

    def wipes(data: str) -> bool:
        ref = payload.parse(data)
        if not isinstance(ref, payload.ButtonRef):
            return False
        spec = book.node(ref.journey, ref.node)
        if spec is None or ref.index >= len(spec.flat_buttons()):
            return False
        button = spec.flat_buttons()[ref.index]
        target = book.resolve(ref.journey, button.goto) if button.goto else None
        target_spec = book.node(*target) if target else None
        return button.do == "forget" or (target_spec is not None and target_spec.do == "safe_exit")

    def learn(outcome_node: str) -> None:
        visited.add(outcome_node)
        for reply in family.replies:
            visited.add(reply.node)
            for row in reply.buttons:
                for button in row:
                    if button.payload and button.payload not in pressed:
                        (last if wipes(button.payload) else queue).append(
                            (reply.node, button.payload)
                        )

    async def settle() -> None:
        """Answer questions and give consent, so the walk goes on."""
        for _ in range(8):
            if family.node == "menu:consent":
                await family.press("Даю согласие")
                learn(family.node)
                continue
            spec = book.node(*family.node.split(":", 1)) if ":" in family.node else None
            if spec is None or spec.input is None:
                return
            answer = SAMPLE_ANSWERS[spec.input.type]
            if spec.input.min is not None and spec.input.type == "integer":
                answer = str(spec.input.min)
            await family.send(answer)
            learn(family.node)

    await family.send("/start")
    learn(family.node)
    # Typed requests lead somewhere too: say each intent's first phrase once.
    for journey in book.journeys.values():
        for intent in journey.intents:
            await family.send(intent.phrases[0])
            learn(family.node)
            await settle()
    presses = 0
    while (queue or last) and presses < 3000:
        node, data = queue.popleft() if queue else last.popleft()
        if data in pressed:
            continue
        pressed.add(data)
        ref = payload.parse(data)
        # Actions act only where they stand: go back to the button's node first.
        if (
            isinstance(ref, payload.ButtonRef)
            and f"{ref.journey}:{ref.node}" != family.node
            and node in how_to_reach
        ):
            await family.payload(how_to_reach[node])
        await family.payload(data)
        presses += 1
        assert "сломалось" not in family.text, (data, family.text)
        for reply in family.replies:
            assert reply.text.strip(), (data, reply)
            how_to_reach.setdefault(reply.node, data)
        learn(family.node)
        await settle()
    every = {f"{j.id}:{name}" for j in book.journeys.values() for name in j.nodes}
    # Nodes that only route (switch) or act (do + goto) never show up as a reply.
    passing = {
        f"{j.id}:{name}"
        for j in book.journeys.values()
        for name, spec in j.nodes.items()
        if spec.switch or (spec.goto and not spec.text) or (spec.do and not spec.text)
    }
    missing = sorted(every - visited - passing - ENTERED_BY_CORE)
    assert not missing, f"never reached by pressing buttons: {missing}"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("message", "node"),
    [
        ("хочу покончить с собой", "crisis:suicide"),
        ("муж избивает меня сейчас", "crisis:violence"),
        ("ребенок не дышит", "crisis:child"),
        ("я беременна и у меня сильное кровотечение", "crisis:pregnancy"),
    ],
)
async def test_crisis_nodes_answer_their_signals(
    family: TestFamily, message: str, node: str
) -> None:
    assert triage(message).urgent
    await family.send("/start")
    outcome = await family.send(message)
    assert outcome.urgent and family.node == node
    assert "112" in family.text or "103" in family.text
