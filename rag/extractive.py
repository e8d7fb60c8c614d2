"""The default answerer: no LLM. Picks the source sentences that answer the question and
returns them verbatim, each followed by the `[n]` of its passage. Deterministic and offline.

It declines (returns no text) when no sentence answers well enough: the caller abstains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass



from .embeddings import Embedder
from .text import sentences, terms
from .types import Hit

NUMBER_QUESTION = re.compile(
    r"\b(how many|how much|number of|what percentage|what per ?cent|what share|what proportion|how old|what fraction)\b", re.I
)
DURATION_QUESTION = re.compile(r"\bhow long\b", re.I)
DATE_QUESTION = re.compile(r"\b(when|what date|which date|what day|which day|what year|which years?|what month|what period)\b", re.I)
PERSON_QUESTION = re.compile(r"^\s*(who|whom)\b|\b(which|what) (senator|minister|mp|official|person|politician|officer|director)", re.I)
ENTITY_QUESTION = re.compile(
    r"\b(which|what) (other )?(countr|nation|cit|organi[sz]ation|agenc|compan|bank|partner|state)", re.I
)
NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundred|thousand|million|billion|per ?cent|dozen"
HAS_NUMBER = re.compile(rf"\d|\b({NUMBER_WORDS})\b", re.I)
HAS_DURATION = re.compile(r"\b(\d+|one|two|three|four|five|six|seven|ten|twelve)[ -](hours?|days?|weeks?|months?|years?)\b", re.I)
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
HAS_DATE = re.compile(
    rf"\b(\d{{4}}|{MONTHS}|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday|today|yesterday|tomorrow)\b"
)
CAPITALIZED = re.compile(r"\b[A-Z][\w’'\-]*")
ORDINAL_OR_NUMBER = re.compile(r"\b\d[\d,]*(?:st|nd|rd|th)?\b")


def requirements(question: str) -> tuple[str, ...]:
    """What kind of thing an answer to this question must contain."""
    needs = []
    if DURATION_QUESTION.search(question):
        needs.append("duration")
    elif NUMBER_QUESTION.search(question):
        needs.append("number")
    if DATE_QUESTION.search(question):
        needs.append("date")
    if PERSON_QUESTION.search(question):
        needs.append("person")
    if ENTITY_QUESTION.search(question):
        needs.append("new-name")
    return tuple(needs)


def satisfies(sentence: str, question: str, needs: tuple[str, ...]) -> bool:
    """Does the sentence hold the kind of answer the question asks for (and its numbers)?"""
    q_numbers = set(ORDINAL_OR_NUMBER.findall(question))
    if q_numbers - set(ORDINAL_OR_NUMBER.findall(sentence)):
        return False  # "the 26th meeting" is not answered by a sentence about the 25th
    q_words = {w.lower() for w in CAPITALIZED.findall(question)}
    names = [w for w in CAPITALIZED.findall(sentence)[1:] if w.lower() not in q_words and not re.fullmatch(MONTHS, w)]
    checks = {
        "duration": lambda: bool(HAS_DURATION.search(sentence)),
        "number": lambda: bool(HAS_NUMBER.search(sentence)),
        "date": lambda: bool(HAS_DATE.search(sentence)),
        "person": lambda: len(names) >= 2,
        "new-name": lambda: len(names) >= 1,
    }
    return all(checks[need]() for need in needs)


@dataclass(frozen=True)
class Candidate:
    passage: int  # 1-based passage number
    start: int
    end: int
    text: str
    score: float
    dense: float
    lexical: float


@dataclass
class ExtractiveAnswerer:
    embedder: Embedder
    min_score: float = 0.45  # below this the best sentence does not answer the question
    keep_ratio: float = 0.88  # further sentences must score this close to the best
    max_sentences: int = 3
    name: str = "extractive"

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[str]:
        chosen = self.select(question, passages)
        yield " ".join(f"{c.text} [{c.passage}]" for c in chosen)

    def select(self, question: str, passages: Sequence[Hit]) -> list[Candidate]:
        ranked = self.rank(question, passages)
        if not ranked or ranked[0].score < self.min_score:
            return []
        best = ranked[0].score
        chosen = [ranked[0]]
        for cand in ranked[1:]:
            if len(chosen) >= self.max_sentences or cand.score < best * self.keep_ratio:
                break
            chosen.append(cand)
        # read in document order within a passage, passage order otherwise
        return sorted(chosen, key=lambda c: (c.passage, c.start))

    def rank(self, question: str, passages: Sequence[Hit]) -> list[Candidate]:
        pool: list[tuple[int, int, int, str]] = []
        seen: set[tuple[str, int]] = set()
        for n, hit in enumerate(passages, start=1):
            for start, end, text in sentences(hit.chunk.text, hit.chunk.start):
                key = (hit.chunk.source, start)
                if key in seen or len(terms(text)) < 3:
                    continue
                seen.add(key)
                pool.append((n, start, end, text))
        if not pool:
            return []
        q_terms = set(terms(question))
        sent_terms = [set(terms(text)) for *_, text in pool]
        df = {t: sum(t in s for s in sent_terms) for t in q_terms}
        idf = {t: math.log(1 + len(pool) / (1 + df[t])) for t in q_terms}
        total = sum(idf.values()) or 1.0
        vectors = self.embedder.embed([question] + [text for *_, text in pool])
        dense = vectors[1:] @ vectors[0]
        needs = requirements(question)
        out = []
        for (n, start, end, text), st, d in zip(pool, sent_terms, dense):
            if not satisfies(text, question, needs):
                continue
            lexical = sum(idf[t] for t in q_terms & st) / total
            score = 0.55 * float(d) + 0.45 * lexical + 0.02 / n  # small prior for better-ranked passages
            out.append(Candidate(n, start, end, text, score, float(d), lexical))
        out.sort(key=lambda c: -c.score)
        return out


