"""Short typed requests understood anywhere: "нужен психолог", "спасибо", "удалить мои данные".

Intents are data (`intents:` in dialogs/*.yaml). Matching is deliberately
simple and predictable: every word of a phrase must appear in the message
(word forms count: words are compared by their first five letters), and the
message must be short — a long story goes to the knowledge search or, better,
to a person, not to a keyword. `whole` intents (greetings, thanks) compare
whole words: «спасите» must never read as «спасибо».
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.textnorm import tokens
from bot.journeys.book import JourneyBook
from bot.journeys.model import IntentSpec

MAX_WORDS = 6
STEM = 5
# Words that may stand around a greeting or a thank-you without changing it.
FILLER = frozenset(
    """
    и а вам вас всем вы очень большое огромное пожалуйста уважаемые добрый доброе день
    вечер утро еще раз so much very you all everyone dear
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def _stem(word: str) -> str:
    return word[:STEM]


@dataclass(frozen=True, slots=True)
class Intent:
    journey: str
    spec: IntentSpec
    phrases: tuple[tuple[str, ...], ...]  # whole words (whole intents) or stems


class Intents:
    def __init__(self, book: JourneyBook) -> None:
        self.items: list[Intent] = []
        for journey in book.journeys.values():
            for spec in journey.intents:
                key = (lambda w: w) if spec.whole else _stem
                phrases = tuple(tuple(key(w) for w in tokens(p)) for p in spec.phrases)
                self.items.append(Intent(journey.id, spec, tuple(p for p in phrases if p)))

    def match(self, text: str) -> Intent | None:
        words = tokens(text)
        if not words or len(words) > MAX_WORDS:
            return None
        stems = [_stem(w) for w in words]
        for intent in self.items:
            seen = words if intent.spec.whole else stems
            for phrase in intent.phrases:
                if not all(part in seen for part in phrase):
                    continue
                if intent.spec.whole and any(w not in phrase and w not in FILLER for w in words):
                    continue
                return intent
        return None
