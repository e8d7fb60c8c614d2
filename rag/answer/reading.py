"""The default answerer: no LLM. A fitted span reader (rag.answer.reader) reads the passages' most
promising windows, and the answer is the source sentence that holds the best span, quoted
verbatim with its `[n]`; the span itself is the short answer. It declines when the reader's
calibrated confidence is below the threshold chosen when it was fitted.

What is decided here, and from what:
- which windows the reader reads: those around the sentences most like the question (MiniLM
  cosine and idf-weighted word overlap), so that the sentence after a restatement of the
  question is read too; the reader, not this ranking, picks the answer;
- answer or decline: the reader's confidence against its fitted threshold;
- length: the one sentence that holds the span (two when it crosses a boundary), a list's lines
  when that sentence introduces one, and for a question that asks two things, one per part;
- conflict: another document's window answers with confidence too, with a different value that
  holds a digit (a date, a number, an amount): both are quoted and the answer says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..embed.embedders import Embedder, VectorCache
from ..text import cited_lines, list_after, sentences, split_question, terms
from ..text import normalize_answer as normalize
from ..types import Draft, Hit
from .dates import days
from .dates import span as day_span
from .english import PLURAL_QUESTION, enumeration
from .reader import SpanReader

DENSE_SHARE = 0.55  # window ranking: this much MiniLM cosine, the rest idf-weighted word overlap
READ_WINDOWS = 6  # windows the reader reads per question
SHORT_WORDS = 8  # a longer span is a description, not a short answer
MAX_LIST_LINES = 10


@dataclass(frozen=True)
class Reading:
    passage: int  # 1-based
    start: int  # source offsets of the span
    end: int
    confidence: float
    sentences: tuple[tuple[int, int, str], ...]  # the source sentences that hold the span
    text: str
    whole_list: bool = False  # widened from one item to the whole list that holds it (rag.english.enumeration)
    probability: float = 0.0  # the reader's probability of this very span in its window (Span.probability)

    @property
    def sureness(self) -> float:
        """How sure the reader is that this span is the answer: that the passages answer
        (`confidence`) times that it is this span (`probability`). The short-answer bar is fitted on it."""
        return self.confidence * self.probability


def side(reading: Reading) -> tuple[str, int, tuple[tuple[int, int], ...]]:
    """A reading's span as one side of a disagreement (rag.types.Draft.values)."""
    return reading.text, reading.passage, ((reading.start, reading.end),)


def whole_list(reading: Reading) -> Reading:
    """The reading widened to the whole list of names or numbers its span is one item of, when it
    is; as it is otherwise. The list stands in the reading's first sentence."""
    start, _, text = reading.sentences[0]
    found = enumeration(text, reading.start - start, reading.end - start)
    if found is None:
        return reading
    a, b = found
    return replace(reading, start=start + a, end=start + b, text=text[a:b], whole_list=True)


@dataclass
class ReadingAnswerer:
    judges_relevance = True  # chooses sentences by the question: no relevance check after it (rag.answer.flow)
    embedder: Embedder
    reader: SpanReader = field(default_factory=SpanReader)
    name: str = "extractive"
    threshold: float | None = None  # None: the one fitted with the reader
    vectors: VectorCache | None = field(default=None, repr=False)  # sentence vectors; made from the embedder

    def __post_init__(self) -> None:
        self.vectors = self.vectors or VectorCache(self.embedder)

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[Draft]:
        yield self.draft(question, passages)

    def draft(self, question: str, passages: Sequence[Hit]) -> Draft:
        parts = split_question(question)
        threshold = self.reader.threshold if self.threshold is None else self.threshold
        picked: list[Reading] = []
        for part in parts:
            readings = self.read(part, passages)
            if readings and readings[0].confidence >= threshold:
                picked.append(readings[0])
                if len(parts) == 1:
                    picked += conflicts(readings, passages, max(threshold, self.reader.sure))  # sure of both sides
        if not picked:
            closest = max((r for part in parts for r in self.read(part, passages)), key=lambda r: r.confidence, default=None)
            if closest is None:
                return Draft("", confidence=0.0)
            return Draft("", confidence=closest.confidence, nearest=(closest.passage, closest.start, closest.end))
        lines = []
        seen: set[tuple[int, int]] = set()
        for reading in picked:
            chunk = passages[reading.passage - 1].chunk
            for start, end, text in reading.sentences:
                if (reading.passage, start) in seen:
                    continue
                seen.add((reading.passage, start))
                lines.append((text, reading.passage, False))
            taken = {start for n, start in seen if n == reading.passage}
            lines += [(t, reading.passage, True)
                      for _, _, t in list_after(chunk.text, chunk.start, reading.sentences[-1], taken, MAX_LIST_LINES)]
        text = cited_lines(lines)
        first = picked[0]
        if PLURAL_QUESTION.search(question):  # a list question: the whole list, never one item
            first = whole_list(first)
        short = ((first.passage, first.start, first.end)
                 if (len(first.text.split()) <= SHORT_WORDS or first.whole_list) and first.sureness >= self.reader.bar_for(self.name) else None)
        conflict = len(parts) == 1 and len(picked) > 1
        values = tuple(side(r) for r in picked) if conflict else ()
        return Draft(text, short, first.confidence, conflict=conflict, values=values,
                     short_confidence=first.sureness if short else None)

    def read(self, question: str, passages: Sequence[Hit], among: set[int] | None = None) -> list[Reading]:
        """The reader's best span in each of the most promising windows, most confident first; with
        `among` (passage numbers), only the chosen windows of those passages are read."""
        pool = []  # (passage number, sentence spans, index of the sentence)
        for n, hit in enumerate(passages, start=1):
            spans = sentences(hit.chunk.text, hit.chunk.start)
            pool += [(n, spans, i) for i in range(len(spans)) if terms(spans[i][2])]
        if not pool:
            return []
        texts = [spans[i][2] for _, spans, i in pool]
        ranked = np.argsort(-self._rank(question, texts), kind="stable")
        chosen: list[tuple[int, list, int, int]] = []
        covered: set[tuple[int, int]] = set()
        for row in ranked:
            n, spans, i = pool[row]
            if (n, i) in covered:
                continue
            lo, hi = max(0, i - 1), min(len(spans), i + 2)
            chosen.append((n, spans, lo, hi))
            covered |= {(n, j) for j in range(lo, hi)}
            if len(chosen) >= READ_WINDOWS:
                break
        windows = [(n, spans[lo][0], spans[hi - 1][1], spans[lo:hi]) for n, spans, lo, hi in chosen
                   if among is None or n in among]
        found = self.reader.read(question, [_text(passages[n - 1], a, b) for n, a, b, _ in windows])
        out = []
        for (n, a, _, group), span in zip(windows, found):
            start, end = a + span.start, a + span.end
            holding = tuple(s for s in group if s[0] < end and start < s[1]) or tuple(group[:1])
            out.append(Reading(n, start, end, self.reader.confidence(span.margin), holding, span.text, probability=span.probability))
        return sorted(out, key=lambda r: -r.confidence)

    def _rank(self, question: str, texts: list[str]) -> np.ndarray:
        q_terms = set(terms(question))
        bags = [set(terms(t)) for t in texts]
        idf = {t: math.log(1 + len(bags) / (1 + sum(t in b for b in bags))) for t in q_terms}
        total = sum(idf.values()) or 1.0
        lexical = np.array([sum(idf[t] for t in q_terms & b) / total for b in bags])
        assert self.vectors is not None  # made in __post_init__
        dense = self.vectors(texts) @ self.embedder.embed([question], query=True)[0]
        return DENSE_SHARE * dense + (1 - DENSE_SHARE) * lexical

def conflicts(readings: list[Reading], passages: Sequence[Hit], threshold: float) -> list[Reading]:
    """Confident readings of other documents whose value differs from the best one's and holds a
    digit (dates, numbers, amounts): the sources disagree, so each is quoted."""
    best = readings[0]
    source = passages[best.passage - 1].chunk.source
    if not any(ch.isdigit() for ch in best.text):
        return []
    out = []
    for r in readings[1:]:
        other = passages[r.passage - 1].chunk.source
        if (r.confidence >= threshold and other != source and any(ch.isdigit() for ch in r.text)
                and normalize(r.text) != normalize(best.text) and normalize(r.text) not in normalize(best.text)
                and normalize(best.text) not in normalize(r.text) and not _same_days(best.text, r.text)):
            out.append(r)
            break
    return out


def _same_days(a: str, b: str) -> bool:
    """Do both values write dates, one's days inside the other's ("25 June 2025" within "June 23
    to 27, 2025")? A day of a span is part of it, not a disagreement (rag.answer.extractive.other_days
    compares spans of days)."""
    x, y = day_span(days(a)), day_span(days(b))
    return x is not None and y is not None and (x.first <= y.first and y.last <= x.last or y.first <= x.first and x.last <= y.last)


def _text(hit: Hit, start: int, end: int) -> str:
    return hit.chunk.text[start - hit.chunk.start : end - hit.chunk.start]
