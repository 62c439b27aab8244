"""Short typed requests understood anywhere: "нужен психолог", "спасибо", "удалить мои данные".

Intents are data (`intents:` in dialogs/*.yaml). Matching is strict on
purpose, because a wrong guess throws away what the family wrote:

- every word of a phrase must be in the message, compared by lemma (so
  «психолога» is «психолог», but «психопат» and «операция» are not
  «психолог» and «оператор»);
- every *other* word of the message must be a request or courtesy word
  («нужен», «позовите», «пожалуйста», «добрый вечер»…) — «консультант в МФЦ
  нагрубил» is a complaint, not a request for a consultant;
- a negation («мне не нужен психолог») never matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.textnorm import tokens
from bot.journeys.book import JourneyBook
from bot.journeys.model import IntentSpec
from bot.knowledge.morph import Lemmatizer, lemmatizer

MAX_WORDS = 8
NEGATIONS = frozenset({"не", "нет", "ни", "not", "no", "dont", "don"})
# Words that may stand around a request without changing it (surface forms and lemmas).
REQUEST_WORDS = frozenset(
    """
    мне меня мной мы нам нас я вы вам вас с со к ко и а бы ну где как можно срочно
    пожалуйста пожалуйста бесплатно очень просто еще ещё раз сейчас
    нужен нужна нужно нужны нужный надо хочу хотела хотел хотим хотеть
    позовите позвать позови дайте дать соедините соединить свяжите связать связаться
    поговорить поговорю поговорить пообщаться обратиться подскажите подсказать
    i me my we us a the to with can could please want need would like speak talk get
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
# Around a greeting or a thank-you: politeness and goodbyes.
COURTESY_WORDS = REQUEST_WORDS | frozenset(
    """
    уважаемые уважаемый дорогие сестра брат всем добрый доброе доброго день вечер утро
    времени суток за помощь помогли помогла вы очень большое огромное всё все понятно
    ясно хорошо ок ладно до свидания пока всего доброго
    so much very you all a lot bye goodbye ok okay for help
    """.split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class Intent:
    journey: str
    spec: IntentSpec
    phrases: tuple[frozenset[str], ...]  # lemmas of each phrase

    @property
    def allowed(self) -> frozenset[str]:
        return COURTESY_WORDS if self.spec.whole else REQUEST_WORDS


class Intents:
    def __init__(self, book: JourneyBook, morph: Lemmatizer = lemmatizer) -> None:
        self.morph = morph
        self.items: list[Intent] = []
        for journey in book.journeys.values():
            for spec in journey.intents:
                phrases = tuple(frozenset(morph.lemma(w) for w in tokens(p)) for p in spec.phrases)
                self.items.append(Intent(journey.id, spec, tuple(p for p in phrases if p)))

    def match(self, text: str) -> Intent | None:
        words = tokens(text)
        if not words or len(words) > MAX_WORDS or NEGATIONS & set(words):
            return None
        readings = [(w, set(self.morph.analyse(w).lemmas)) for w in words]
        for intent in self.items:
            for phrase in intent.phrases:
                found = set().union(*(lemmas & phrase for _, lemmas in readings))
                if found != phrase:
                    continue
                rest = [(w, lemmas) for w, lemmas in readings if not lemmas & phrase]
                if all(w in intent.allowed or lemmas & intent.allowed for w, lemmas in rest):
                    return intent
        return None
