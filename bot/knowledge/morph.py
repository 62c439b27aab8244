"""Word forms: Russian lemmas (pymorphy3, offline dictionaries) and a light
English stemmer, cached because the same words come back in every message."""

from __future__ import annotations

import re
import threading
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
    a an and are as at be by can could do does for from have how i if in is it me my of
    on or please should tell that the there this to was what when where which who why
    will with would you your hello hi hey thanks thank no yes ok okay not
    """.split()  # noqa: SIM905 (a word list reads better as text)
)

_EN_SUFFIXES = ("ies", "ing", "ed", "es", "s", "ly")
_CYRILLIC = re.compile(r"[а-я]")


def english_stem(word: str) -> str:
    """A deliberately small stemmer: enough to match 'benefits'/'benefit', 'applying'/'apply'."""
    if len(word) <= 3:
        return word
    for suffix in _EN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            return stem + "y" if suffix == "ies" else stem
    return word


class Lemmatizer:
    """Thread-safe lazy pymorphy3 with a bounded cache of word → lemma."""

    def __init__(self, cache_size: int = 200_000) -> None:
        self._morph: Any = None
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[str, bool]] = {}
        self._cache_size = cache_size

    def _analyzer(self) -> Any:
        if self._morph is None:
            with self._lock:
                if self._morph is None:
                    import pymorphy3  # imported lazily: ~0.1 s and 40 MB

                    self._morph = pymorphy3.MorphAnalyzer()
        return self._morph

    def analyse(self, word: str) -> tuple[str, bool]:
        """(lemma, known): `known` is False for words the dictionary does not have."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if _CYRILLIC.search(word):
            morph = self._analyzer()
            parse = morph.parse(word)[0]
            result = (parse.normal_form.replace("ё", "е"), bool(morph.word_is_known(word)))
        elif word.isdigit():
            result = (word, True)
        else:
            result = (english_stem(word), True)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[word] = result
        return result

    def lemma(self, word: str) -> str:
        return self.analyse(word)[0]


lemmatizer = Lemmatizer()
