"""The default answerer: no LLM. Picks the source sentences that answer the question and
returns them verbatim, each followed by the `[n]` of its passage. Deterministic and offline.

It declines (returns no text) when no sentence answers well enough: the caller abstains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..embed.embedders import Embedder, VectorCache
from ..ingest.sections import headings, located, title
from ..text import cited_lines, list_after, sentences, split_question, terms
from ..types import Draft, Hit
from .dates import Days, days, first_year, span, written
from .english import (
    CAUSE,
    DATE_TOKEN,
    ENUMERATION,
    LEANS_BACK,
    ORDINAL_OR_NUMBER,
    PLURAL_QUESTION,
    WHY_QUESTION,
    agent_pattern,
    body,
    dated,
    missing_names,
    question_names,
    requirements,
    satisfies,
    set_aside,
    shares_predicate,
)
from .reader import SpanReader
from .reading import SHORT_WORDS, Reading, ReadingAnswerer, conflicts, side, whole_list

DENSE_WEIGHT = 0.55  # sentence score = DENSE_WEIGHT * cosine + (1 - DENSE_WEIGHT) * idf-weighted overlap
MAX_LIST_LINES = 10
CONTEXT_WEIGHT = 0.5  # question words found only in the previous sentence count this much
AGENT_BONUS = 0.15  # "who supported X?": a sentence saying "X was supported by" (english.agent_pattern)
CAUSE_BONUS = 0.1  # "why ...?": a sentence that gives a cause (english.CAUSE)
ENUMERATION_BONUS = 0.04  # a sentence that lists things, for a question that asks for several


def _heading(chunk, inside: list[tuple[int, int]], top: tuple[int, int] | None, start: int) -> str:
    """The title and heading a sentence of the chunk stands under: the chunk's own context, or the
    last heading inside the chunk above the sentence (`inside`: heading spans in the chunk's text),
    after the title (the first of the chunk's context lines, when it has two). The first chunk of
    a document holds its title (`top`, its span in the chunk's text): the sentences after it stand
    under it."""
    above = [chunk.text[s:e] for s, e in inside if chunk.start + s < start and (s, e) != top]
    if top and chunk.start + top[0] < start:
        return "\n".join([chunk.text[top[0] : top[1]], *above[-1:]])
    if not above:
        return chunk.heading
    lines = chunk.heading.splitlines()
    return "\n".join((lines[:1] if len(lines) > 1 else []) + above[-1:])


@dataclass(frozen=True)
class Candidate:
    passage: int  # 1-based passage number
    start: int
    end: int
    text: str
    score: float
    dense: float
    lexical: float
    list_item: bool = False
    dated_by: tuple[int, int, str] | None = None  # the heading that gives its date (source offsets, text), quoted before it


def named_elsewhere(question: str, passages: Sequence[Hit], candidates: Sequence[Candidate]) -> bool:
    """Is every candidate a near miss? For a question that asks for a kind of value (a date, a
    number, a person...): some document's retrieved passages, together, name everything the
    question names, yet none of the candidates (sentences holding that kind of value) comes from
    such a document. "How many extradition treaties does Singapore have?": the documents that
    name Singapore give no such number; Malaysia's 11 is about something else."""
    if not requirements(question) or not question_names(question):
        return False
    texts: dict[str, list[str]] = {}
    for hit in passages:
        texts.setdefault(hit.chunk.source, []).append(hit.chunk.indexed_text)
    naming = {source for source, parts in texts.items() if not missing_names(question, "\n".join(parts))}
    return bool(naming) and not any(passages[c.passage - 1].chunk.source in naming for c in candidates)


def unnamed(question: str, passages: Sequence[Hit]) -> bool:
    """Do the passages (with their titles and headings) write none of the names the question
    asks about? "When did ABC first start?" over passages about private schools."""
    names = question_names(question)
    written = "\n".join(dict.fromkeys(hit.chunk.indexed_text for hit in passages))
    return bool(names) and len(missing_names(question, written)) == len(names)


Spans = tuple[tuple[int, int], ...]


def other_days(question: str, passages: Sequence[Hit], best: Reading,
               document_text: Callable[[str], str | None] | None = None) -> tuple[list[Candidate], Days | None, Spans]:
    """For a question asking when, whose short answer spans several days ("June 23 to 27,
    2025"): the sentences of another document, among passages that name everything the question
    names (its ordinals too: "the 25th"), whose dates overlap the answer's but together span
    other days ("Day One (24 June 2025)" ... "Day Three (26 June 2025)"): the first and the
    last to quote, and the days the other document gives with the source spans of its first and
    last dated sentences; with `document_text`, over the whole document, so that "Day Three", in
    a passage not retrieved, still counts. A single day inside the answer's span is a part of it,
    not a disagreement."""
    if "date" not in requirements(question):
        return [], None, ()
    chunk = passages[best.passage - 1].chunk
    answer = span(days(best.text, year=first_year(best.sentences[0][2], chunk.text)))
    if answer is None or not answer.several:
        return [], None, ()
    numbers = set(ORDINAL_OR_NUMBER.findall(question))
    found: dict[str, list[tuple[Days, Candidate]]] = {}
    for n, hit in enumerate(passages, start=1):
        text = hit.chunk.indexed_text
        if hit.chunk.source == chunk.source or missing_names(question, text) or numbers - set(ORDINAL_OR_NUMBER.findall(text)):
            continue
        for start, end, sentence in sentences(hit.chunk.text, hit.chunk.start):
            for d in days(sentence, year=first_year(hit.chunk.text)):
                if d.overlaps(answer):
                    found.setdefault(hit.chunk.source, []).append((d, Candidate(n, start, end, sentence, 0.0, 0.0, 0.0)))
    for dated_days in found.values():
        other = span([d for d, _ in dated_days])
        if other is not None and other.several and (other.first, other.last) != (answer.first, answer.last):
            first = min(dated_days, key=lambda item: item[0].first)[1]
            last = max(dated_days, key=lambda item: item[0].last)[1]
            quoted = list({(c.passage, c.start): c for c in (first, last)}.values())
            source = passages[first.passage - 1].chunk.source
            whole = document_text(source) if document_text else None
            dated = [(d, (s, e)) for s, e, sentence in sentences(whole) for d in days(sentence, year=first_year(whole))
                     if d.overlaps(answer)] if whole else []
            if dated:
                other = span([d for d, _ in dated]) or other
                spans = (min(dated, key=lambda item: item[0].first)[1], max(dated, key=lambda item: item[0].last)[1])
                return quoted, other, tuple(dict.fromkeys(spans))
            return quoted, other, tuple(dict.fromkeys((c.start, c.end) for c in quoted))
    return [], None, ()


@dataclass
class ExtractiveAnswerer:
    judges_relevance = True  # chooses sentences by the question: no relevance check after it (rag.answer.flow)
    embedder: Embedder
    min_score: float = 0.37  # below this the best sentence does not answer the question
    keep_ratio: float = 0.75  # further sentences must score this close to the best
    max_sentences: int = 4  # more for a question that asks for several things, and a list's lines
    # strict: a sentence answers a who/when/how-many question only from a passage (with its heading)
    # that names everything the question names; declines more, answers fewer near misses
    strict: bool = False
    name: str = "extractive"
    reader: SpanReader | None = None  # gives the short answer and the confidence, when set
    # a document's text by source: lets a sentence under a dated heading answer "when" (the heading,
    # written before its chunk, is quoted at its own offsets); without it, only headings inside a chunk
    document_text: Callable[[str], str | None] | None = field(default=None, repr=False)
    vectors: VectorCache | None = field(default=None, repr=False)  # sentence vectors; made from the embedder

    def __post_init__(self) -> None:
        self.vectors = self.vectors or VectorCache(self.embedder)
        self._reading = ReadingAnswerer(self.embedder, self.reader, vectors=self.vectors) if self.reader else None

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[Draft]:
        chosen = self.select(question, passages)
        yield self.read(question, passages, chosen)

    def read(self, question: str, passages: Sequence[Hit], chosen: list[Candidate]) -> Draft:
        """The chosen sentences as a draft, with the reader's short answer (the best span inside
        them) and its confidence. When the reader finds, in another document's passage, a value
        with a digit (a date, a number) that differs from the short answer, and is sure of it
        (`SpanReader.sure`), or when another document dates what was asked about over other days
        (`other_days`), the sources disagree: those sentences are quoted as well and the draft
        says so. When the chosen sentences' passages name nothing the question names and the
        reader's confidence is below its fitted threshold, the draft declines (`unnamed`)."""
        if not chosen:
            return Draft("", nearest=self.nearest(question, passages))
        conflict: list[Candidate] = []
        values: list[tuple[str, int, Spans]] = []
        short, confidence = None, None
        best_read = False  # the reader's best span is `best`, named in a later decline's reason (rag.answer.flow)
        if self.reader is not None and len(split_question(question)) == 1:
            found = self.reader.read(question, [c.text for c in chosen])
            readings = sorted(
                (Reading(c.passage, c.start + s.start, c.start + s.end, self.reader.confidence(s.margin),
                         ((c.start, c.end, c.text),), s.text, probability=s.probability) for c, s in zip(chosen, found)),
                key=lambda r: -r.confidence,
            )
            best, confidence = readings[0], readings[0].confidence
            best_read = bool(best.text)
            if confidence < self.reader.threshold and unnamed(question, [passages[c.passage - 1] for c in chosen]):
                return Draft("", confidence=confidence, nearest=(best.passage, best.start, best.end))  # about something else, and the reader finds no answer either
            if "date" in requirements(question):  # "when": the short answer is a date ("24 June 2025", not "first day")
                best = next((r for r in readings if DATE_TOKEN.search(r.text)), best)
            if best.text and PLURAL_QUESTION.search(question):  # a list question: the whole list, never one item
                best = whole_list(best)
            if best.text and (len(best.text.split()) <= SHORT_WORDS or best.whole_list):
                short = (best.passage, best.start, best.end)
                # only another document's value with a digit can disagree: read only those windows
                source = passages[best.passage - 1].chunk.source
                others = {n for n, hit in enumerate(passages, start=1) if hit.chunk.source != source}
                digits = any(ch.isdigit() for ch in best.text)
                elsewhere = self._reading.read(question, passages, among=others) if digits and others and self._reading else []
                taken = {(c.passage, c.start) for c in chosen}
                for other in conflicts([best, *elsewhere], passages, self.reader.sure):
                    start, end, text = other.sentences[0]
                    if (other.passage, start) not in taken:
                        conflict.append(Candidate(other.passage, start, end, text, 0.0, 0.0, 0.0))
                    values = [side(best), side(other)]
                if digits and not conflict:
                    dated, days_, spans = other_days(question, passages, best, self.document_text)
                    conflict = [c for c in dated if (c.passage, c.start) not in taken]
                    if dated and days_ is not None:
                        values = [side(best), (written(days_), dated[0].passage, spans)]
        sureness = best.sureness if short else None
        if self.reader is not None and sureness is not None and sureness < self.reader.bar_for(self.name):
            short = None  # not sure enough for a bold answer: the quotes alone (the reader card's short_answer bar)
        text = cited_lines([(c.text, c.passage, c.list_item) for c in chosen + conflict])
        return Draft(text, short, confidence, bool(conflict), values=tuple(values) if conflict else (),
                     short_confidence=sureness if short else None, nearest=(best.passage, best.start, best.end) if best_read else None)

    def select(self, question: str, passages: Sequence[Hit]) -> list[Candidate]:
        parts = split_question(question)
        if len(parts) > 1:  # two questions in one: each part answered on its own, the answers joined
            picked = {(c.passage, c.start): c for part in parts for c in self._best(part, passages, limit=2)}
            chosen = list(picked.values())
        else:
            limit = self.max_sentences + (1 if PLURAL_QUESTION.search(question) else 0)  # lists spread out
            chosen = self._best(question, passages, limit)
        if not chosen:
            return []
        # read in document order within a passage, passage order otherwise
        chosen = sorted(chosen, key=lambda c: (c.passage, c.start))
        out: list[Candidate] = []
        for c in chosen:
            if c.dated_by and all(o.start != c.dated_by[0] for o in [*out, *chosen]):
                start, end, text = c.dated_by  # the heading that dates it, on a line before it
                out.append(Candidate(c.passage, start, end, text, c.score, c.dense, c.lexical))
            out += [c, *self._list_after(c, passages, chosen)]
        return out

    def _best(self, question: str, passages: Sequence[Hit], limit: int) -> list[Candidate]:
        """The best sentence if it answers well enough, and up to limit - 1 more that score close to it."""
        ranked = self.rank(question, passages)
        if not ranked or ranked[0].score < self.min_score or named_elsewhere(question, passages, ranked):
            return []
        chosen = [ranked[0]]
        for cand in ranked[1:]:
            if len(chosen) >= limit or cand.score < ranked[0].score * self.keep_ratio:
                break
            chosen.append(cand)
        return chosen

    def _list_after(self, cand: Candidate, passages: Sequence[Hit], chosen: list[Candidate]) -> list[Candidate]:
        """A sentence that introduces a list ("...held as follows:") brings the list's lines along."""
        chunk = passages[cand.passage - 1].chunk
        lines = list_after(chunk.text, chunk.start, (cand.start, cand.end, cand.text), {c.start for c in chosen}, MAX_LIST_LINES)
        return [Candidate(cand.passage, start, end, text, cand.score, cand.dense, cand.lexical, list_item=True)
                for start, end, text in lines]

    def nearest(self, question: str, passages: Sequence[Hit], read: int = 3) -> tuple[int, int, int] | None:
        """On a decline, the reader's best span among the `read` sentences ranked closest to the
        question, as (passage, start, end): what the decline's reason names (rag.answer.flow.decline_reason)."""
        ranked = self.rank(question, passages)[:read] if self.reader is not None else []
        if not ranked:
            return None
        assert self.reader is not None
        found = self.reader.read(question, [c.text for c in ranked])
        c, s = max(zip(ranked, found), key=lambda pair: pair[1].margin)
        return (c.passage, c.start + s.start, c.start + s.end) if s.text else None

    def rank(self, question: str, passages: Sequence[Hit], rules: bool = True) -> list[Candidate]:
        """Every sentence of the passages that could answer, best first. Without `rules`, every
        sentence (short ones too) scored by how well it matches the question alone: what
        rag.relevance judges another answerer's quotes by."""
        # n, start, end, text, terms, context terms, passage (with its heading), previous sentence and
        # heading, the heading line it stands under (source offsets, text)
        pool: list[tuple[int, int, int, str, set, set, str, str, tuple[int, int, str] | None]] = []
        seen: set[tuple[str, int]] = set()
        needs = requirements(question)
        dates = rules and "date" in needs  # a sentence may take its date from the heading it stands under
        for n, hit in enumerate(passages, start=1):
            spans = sentences(hit.chunk.text, hit.chunk.start)
            span_terms = [set(terms(text)) for *_, text in spans]
            inside = headings(hit.chunk.text)
            top = title(hit.chunk.text) if hit.chunk.ordinal == 0 else None
            passage = hit.chunk.indexed_text  # the passage with its heading
            outer = self._outer_heading(hit.chunk) if dates else None
            for i, (start, end, text) in enumerate(spans):
                key = (hit.chunk.source, start)
                if key in seen or (rules and len(span_terms[i]) < 3):
                    continue
                seen.add(key)
                heading = _heading(hit.chunk, inside, top, start)
                # a sentence that opens with a pronoun ("He added that...") borrows its subject from
                # before; every sentence, what its title and heading say
                context = (span_terms[i - 1] if i and LEANS_BACK.match(text) else set()) | set(terms(heading))
                previous = spans[i - 1][2] if i else ""
                under = outer
                if dates and (above := [(s, e) for s, e in inside if hit.chunk.start + e <= start]):
                    s, e = above[-1]
                    under = (hit.chunk.start + s, hit.chunk.start + e, hit.chunk.text[s:e])
                pool.append((n, start, end, text, span_terms[i], context - span_terms[i], passage, f"{heading}\n{previous}", under))
        if not pool:
            return []
        q_terms = set(terms(question)) - set_aside(question)
        df = {t: sum(t in row[4] for row in pool) for t in q_terms}
        idf = {t: math.log(1 + len(pool) / (1 + df[t])) for t in q_terms}
        total = sum(idf.values()) or 1.0
        dense = self._vectors([row[3] for row in pool]) @ self._vectors([question], query=True)[0]
        wants_many = bool(PLURAL_QUESTION.search(question))
        agent = agent_pattern(question)
        why = bool(WHY_QUESTION.match(question))
        out = []
        for (n, start, end, text, st, context, passage, previous, under), d in zip(pool, dense):
            dated_by = None
            if rules and not satisfies(text, question, needs, passage, previous):
                if not (under and dated(under[2], question)
                        and satisfies(text, question, tuple(x for x in needs if x != "date"), passage, previous)
                        and shares_predicate(question, text + " " + previous)):
                    continue
                dated_by = under  # "when was X held?": X under the heading "Day Two (25 June 2025)"
            if rules and self.strict and needs and missing_names(question, passage):
                continue  # a value (name, number, date) from a passage that never names what was asked about
            lexical = (sum(idf[t] for t in q_terms & st) + CONTEXT_WEIGHT * sum(idf[t] for t in (q_terms & context) - st)) / total
            score = DENSE_WEIGHT * float(d) + (1 - DENSE_WEIGHT) * lexical + 0.02 / n  # small prior for better passages
            if rules and agent and agent.search(text):
                score += AGENT_BONUS
            if rules and why and CAUSE.search(text):
                score += CAUSE_BONUS
            if rules and wants_many and ENUMERATION.search(body(text)):
                score += ENUMERATION_BONUS
            out.append(Candidate(n, start, end, text, score, float(d), lexical, dated_by=dated_by))
        out.sort(key=lambda c: -c.score)
        return out

    def _outer_heading(self, chunk) -> tuple[int, int, str] | None:
        """The section heading a chunk starts under (the last line of its heading context, written
        before it), at its offsets in the document; None without the document."""
        text = self.document_text(chunk.source) if self.document_text and chunk.heading else None
        found = located(chunk, text) if text is not None else []
        return (*found[-1], text[slice(*found[-1])]) if found and text is not None else None

    def _vectors(self, texts: list[str], query: bool = False) -> np.ndarray:
        """Embeddings, with sentence vectors cached (the same passages come back across questions)."""
        if query:
            return self.embedder.embed(texts, query=True)
        assert self.vectors is not None  # made in __post_init__
        return self.vectors(texts)
