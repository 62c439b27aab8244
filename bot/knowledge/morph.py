"""Word forms: Russian lemmas (pymorphy3, offline dictionaries) and a light
English stemmer, cached because the same words come back in every message."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

STOPWORDS = frozenset(
    """
    а без бы был была были было быть в вам вас весь во вот все всё вы где да для до его
    ее её если есть еще ещё же за и из или им их к как какая какие какой каком ко когда
    кто ли либо мне меня мной мой моя мы на над нам нас не него нее неё нет ни них но
    ну о об оно от по под при про с со так там те тем то тоже только ты у уже чем что
    чтобы эта эти это этот я можно нужно надо хочу хотела хотел подскажите скажите
    пожалуйста здравствуйте добрый день вечер утро привет спасибо ваш ваша наш наша мой
    свой свою какое каких почему зачем сколько куда откуда ли же бы вообще очень просто
    знаю знать знает дела дело делать сделать получается ладно понятно хорошо
    вопрос вопросик спросить узнать интересует помогите
    a an and are as at be by can could do does for from have how i if in is it me my of
    on or please should tell that the there this to was what when where which who why
    will with would you your hello hi hey thanks thank no yes ok okay not
    am has have want get know
    """.split()  # noqa: SIM905 (a word list reads better as text)
)

_EN_SUFFIXES = ("ies", "ing", "ed", "ly", "s")
_CYRILLIC = re.compile(r"[а-я]")


def english_stem(word: str) -> str:
    """A deliberately small stemmer: enough to match 'benefits'/'benefit', 'applying'/'apply'."""
    if len(word) <= 3:
        return word
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):  # classes, wishes
        return word[:-2]
    for suffix in _EN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            return stem + "y" if suffix == "ies" else stem
    return word


# How much a word the knowledge base lacks tells us the question is off-topic,
# by part of speech (pymorphy3 tags): a missing noun ("визу") says a lot, a verb
# ("похудеть", "отменили") less, an adverb ("недорого", "ночью") little.
WEIGHT_BY_POS = {
    "NOUN": 1.0,
    "ADJF": 1.0,
    "ADJS": 1.0,
    "COMP": 1.0,
    "PRTF": 1.0,
    "PRTS": 1.0,
    "VERB": 0.6,
    "INFN": 0.6,
    "GRND": 0.6,
}
OTHER_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class Analysis:
    lemmas: tuple[str, ...]  # most likely first; a word can have several readings
    known: bool  # in the dictionary at all
    weight: float  # how much the word names the question's topic (1.0: a noun)

    @property
    def lemma(self) -> str:
        return self.lemmas[0]


class Lemmatizer:
    """Thread-safe lazy pymorphy3 with a bounded cache of word → analysis."""

    def __init__(self, cache_size: int = 200_000) -> None:
        self._morph: Any = None
        self._lock = threading.Lock()
        self._cache: dict[str, Analysis] = {}
        self._cache_size = cache_size

    def _analyzer(self) -> Any:
        if self._morph is None:
            with self._lock:
                if self._morph is None:
                    import pymorphy3  # imported lazily: ~0.1 s and 40 MB

                    self._morph = pymorphy3.MorphAnalyzer()
        return self._morph

    def analyse(self, word: str) -> Analysis:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if _CYRILLIC.search(word):
            morph = self._analyzer()
            parses = morph.parse(word)[:3]
            lemmas = tuple(dict.fromkeys(p.normal_form.replace("ё", "е") for p in parses))
            known = bool(morph.word_is_known(word))
            weight = WEIGHT_BY_POS.get(parses[0].tag.POS, OTHER_WEIGHT) if known else 1.0
            result = Analysis(lemmas, known, weight)
        elif word.isdigit():
            result = Analysis((word,), True, 0.0)
        else:
            result = Analysis((english_stem(word),), True, 1.0)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[word] = result
        return result

    def lemma(self, word: str) -> str:
        return self.analyse(word).lemma


lemmatizer = Lemmatizer()
