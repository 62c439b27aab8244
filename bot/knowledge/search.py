"""Offline full-text search over knowledge entries that understands Russian
word forms (lemmas) and typos, and knows when it does not know.

A query becomes a list of *concepts*: each word (minus stopwords) with its
alternatives — its lemma, synonyms from `knowledge/synonyms.yaml`, or, for a
word the dictionary does not know, the nearest indexed words by edit distance.
A document scores BM25-like per concept. The answer counts as found only when
the best document covers most of the query's weight (IDF mass), names enough
of it in its title, keywords or example questions, and the matched words carry
enough information: so "how to get a US visa" gets no answer about benefits,
and a bare "ребёнок" gets suggestions rather than a confident answer.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter

from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract

from bot.core.textnorm import tokens
from bot.knowledge.morph import STOPWORDS, Lemmatizer
from bot.knowledge.schema import Entry

# Field weights: a word in the title says more than one in the body.
FIELD_WEIGHTS = {
    "title": 3.0,
    "keywords": 2.5,
    "questions": 1.5,
    "summary": 1.0,
    "body": 0.4,
    "where": 0.3,
    "documents": 0.2,
}
K1 = 1.2
B = 0.5
STRONG_FIELDS = ("title", "keywords", "questions")
MAX_QUERY_TOKENS = 40
FUZZY_PENALTY = 0.85
ANSWER_COVERAGE = 0.55  # share of the query's IDF mass the best entry must match
ANSWER_STRONG = 0.4  # share of it matched in the entry's title/keywords/questions
ANSWER_SCORE = 0.30
ANSWER_EVIDENCE = 2.2  # IDF sum: one specific word ("алименты") or two common ones


@dataclass(frozen=True, slots=True)
class Match:
    id: str
    title: str
    score: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    matches: tuple[Match, ...]
    answered: bool
    coverage: float = 0.0
    suggest: bool = False  # not sure enough to answer, but these are worth offering


@dataclass(slots=True)
class _Concept:
    word: str
    terms: dict[str, float] = field(default_factory=dict)  # term -> confidence
    weight: float = 1.0  # how much the word names the topic (nouns 1.0, adverbs less)


class SearchIndex:
    def __init__(
        self,
        entries: Iterable[Entry],
        lemmatizer: Lemmatizer,
        synonyms: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.lemmatizer = lemmatizer
        self.entries: list[Entry] = list(entries)
        self.postings: dict[str, list[tuple[int, float]]] = {}
        self.strong: dict[str, set[int]] = defaultdict(set)  # term -> docs naming it strongly
        self.surface: dict[str, set[str]] = defaultdict(set)  # word form -> lemmas
        self.lengths: list[float] = []
        self.synonyms: dict[str, list[str]] = {}
        for key, values in (synonyms or {}).items():
            self.synonyms[key.lower().replace("ё", "е")] = [
                self._lemma(w) for v in values for w in tokens(v)
            ]
        weights: dict[str, dict[int, float]] = defaultdict(dict)
        for doc, entry in enumerate(self.entries):
            length = 0.0
            for field_name, weight in FIELD_WEIGHTS.items():
                for text in _field_texts(entry, field_name):
                    for word in tokens(text):
                        if word in STOPWORDS:
                            continue
                        term = self._lemma(word)
                        self.surface[word].add(term)
                        per_doc = weights[term]
                        per_doc[doc] = per_doc.get(doc, 0.0) + weight
                        length += weight
                        if field_name in STRONG_FIELDS:
                            self.strong[term].add(doc)
            self.lengths.append(length)
        self.avg_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        # BM25 length normalisation, once per document rather than per posting.
        self.norms = [K1 * (1 - B + B * n / self.avg_length) for n in self.lengths]
        count = max(len(self.entries), 1)
        self.idf: dict[str, float] = {}
        for term, per_doc in weights.items():
            self.postings[term] = list(per_doc.items())
            df = len(per_doc)
            self.idf[term] = math.log(1 + (count - df + 0.5) / (df + 0.5))
        self.max_idf = math.log(1 + (count + 0.5) / 0.5)
        # Word forms bucketed by length: typo candidates differ by at most 2 letters.
        self._by_length: dict[int, list[str]] = defaultdict(list)
        for word in self.surface:
            self._by_length[len(word)].append(word)

    def _lemma(self, word: str) -> str:
        return self.lemmatizer.lemma(word)

    # -- query --------------------------------------------------------------
    def concepts(self, text: str) -> list[_Concept]:
        concepts: list[_Concept] = []
        seen: set[str] = set()
        for word in tokens(text)[: MAX_QUERY_TOKENS * 3]:
            # Numbers ("2 детей", "до 3 лет") qualify a question; they are not its topic.
            if word in STOPWORDS or word in seen or len(word) < 2 or _is_number(word):
                continue
            seen.add(word)
            concept = _Concept(word)
            analysis = self.lemmatizer.analyse(word)
            concept.weight = analysis.weight
            for alternative in (word, *analysis.lemmas):
                for term in self.synonyms.get(alternative, ()):
                    concept.terms.setdefault(term, 1.0)
            indexed = [lemma for lemma in analysis.lemmas if lemma in self.idf]
            if indexed:  # any reading the knowledge base knows ("капитале" → "капитал")
                for lemma in indexed:
                    concept.terms[lemma] = 1.0
            elif word in self.surface:
                for term in self.surface[word]:
                    concept.terms[term] = 1.0
            elif not concept.terms and (not analysis.known or not _is_cyrillic(word)):
                for term in self._fuzzy(word):
                    concept.terms.setdefault(term, FUZZY_PENALTY)
            concepts.append(concept)
            if len(concepts) >= MAX_QUERY_TOKENS:
                break
        return concepts

    def _fuzzy(self, word: str) -> set[str]:
        if len(word) < 4:
            return set()
        limit = 1 if len(word) <= 6 else 2
        candidates: list[str] = []
        for size in range(len(word) - limit, len(word) + limit + 1):
            candidates.extend(self._by_length.get(size, ()))
        found = extract(word, candidates, scorer=Levenshtein.distance, score_cutoff=limit, limit=5)
        if not found:
            return set()
        best = min(distance for _, distance, _ in found)
        return {
            term
            for candidate, distance, _ in found
            if distance == best
            for term in self.surface[candidate]
        }

    def search(self, text: str, limit: int = 3) -> SearchResult:
        concepts = self.concepts(text)
        if not concepts or not self.entries:
            return SearchResult((), False)
        scores: dict[int, float] = defaultdict(float)
        covered: dict[int, float] = defaultdict(float)
        strong: dict[int, float] = defaultdict(float)
        total = 0.0
        for concept in concepts:
            weight = max((self.idf[t] for t in concept.terms if t in self.idf), default=None)
            if weight is None:
                # A topic we know nothing about makes the query off-topic ("визу в США");
                # an unindexed verb or adverb ("отменили", "ночью") only dilutes it.
                total += self.max_idf * concept.weight
                continue
            total += weight
            best: dict[int, float] = {}
            named: set[int] = set()
            for term, confidence in concept.terms.items():
                idf = self.idf.get(term)
                if idf is None:
                    continue
                named |= self.strong.get(term, set())
                scale = confidence * idf * (K1 + 1)
                norms = self.norms
                for doc, tf in self.postings[term]:
                    value = scale * tf / (tf + norms[doc])
                    if value > best.get(doc, 0.0):
                        best[doc] = value
            for doc, value in best.items():
                scores[doc] += value
                covered[doc] += weight
                if doc in named:
                    strong[doc] += weight
        if not scores:
            return SearchResult((), False)
        # The few best of possibly thousands: a heap, not a full sort (ties by id).
        best_docs = heapq.nlargest(limit + 2, scores.items(), key=itemgetter(1))
        ranked = [d for d, _ in sorted(best_docs, key=lambda x: (-x[1], self.entries[x[0]].id))]
        ranked = ranked[:limit]
        ceiling = total * (K1 + 1)
        matches = tuple(
            Match(
                self.entries[d].id,
                self.entries[d].text("title", "ru"),
                round(scores[d] / ceiling, 4),
            )
            for d in ranked
        )
        top = ranked[0]
        coverage = covered[top] / total if total else 0.0
        named_share = strong[top] / total if total else 0.0
        relevant = coverage >= ANSWER_COVERAGE and matches[0].score >= ANSWER_SCORE
        answered = relevant and named_share >= ANSWER_STRONG and covered[top] >= ANSWER_EVIDENCE
        suggest = not answered and relevant and named_share >= ANSWER_STRONG
        return SearchResult(matches, answered, round(coverage, 4), suggest)


def _is_number(word: str) -> bool:
    return word.replace(".", "", 1).isdigit()


def _is_cyrillic(word: str) -> bool:
    return any("а" <= ch <= "я" for ch in word)


def _field_texts(entry: Entry, field_name: str) -> list[str]:
    value = getattr(entry, field_name)
    out: list[str] = []
    for item in value.values():
        if isinstance(item, list):
            out.extend(item)
        else:
            out.append(item)
    return out
