"""Answering: standalone query -> retrieve -> answer (extractive or LLM) -> verify -> Answer.

Streams typed events (rag.types) so every interface shows the same thing in the same order:
    QueryEvent(query)        the standalone query searched
    PassagesEvent(passages)  the numbered passages
    TokenEvent(text)         zero or more pieces of an LLM's unchecked draft
    AnswerEvent(answer)      the verified Answer, always last
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from ..text import sentences, split_question, terms
from ..types import (
    Answer,
    AnswerEvent,
    Citation,
    Claim,
    ConflictValue,
    Draft,
    Event,
    Hit,
    PassagesEvent,
    QueryEvent,
    ShortAnswer,
    TokenEvent,
)
from ..verify.claims import verify, verify_structured
from .english import missing_names, question_names
from .prompt import ABSTAIN

NOT_FOUND = "The documents do not contain an answer to this question."
FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|so|what about|how about|then)\b|\b(those|these|they|them|their|theirs|it|its|that one|this one|he|she|his|her|there|the same)\b",
    re.IGNORECASE,
)


@runtime_checkable
class Answerer(Protocol):
    """One swappable part: turns a question and its numbered passages into an answer draft."""

    name: str

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[str | Draft]:
        """Answer text with [n] markers (n = 1-based passage number; `assemble` renumbers them 1..n
        in the order the answer shows them), in pieces, or one `Draft`
        (text with markers, and a short answer and confidence where the answerer has them);
        empty text = declined. An answerer whose class sets `judges_relevance = True` has chosen
        its sentences by the question already; the others' claims go through the relevance check."""
        ...


def judges_relevance(answerer: object) -> bool:
    """Does the answerer choose its sentences by how well they answer the question (the extractive
    ones set `judges_relevance = True`)? Then the relevance check after verification is skipped."""
    return getattr(answerer, "judges_relevance", False) is True


@runtime_checkable
class Condenser(Protocol):
    """An answerer that can also rewrite a follow-up question into a standalone one (an LLM)."""

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str: ...


CONNECTIVE = re.compile(r"^\s*(and|but|also|so|then)\b[\s,]*", re.IGNORECASE)
WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<other>.+?)\s*\??\s*$", re.IGNORECASE)
PRONOUN = re.compile(r"\b(?P<plural>those|these|they|them|their)\b|\b(?P<one>it|its|that one|this one|the same)\b", re.IGNORECASE)
WHICH_NOUN = re.compile(r"^(?:which|what)\s+(?P<noun>[a-z]+s)\s+(?P<rest>.+)$", re.IGNORECASE)  # "which countries have ..."
# what a question asks about: "the meeting in Kota Kinabalu", "the 25th SOMTC"
TOPIC = re.compile(r"\bthe\s+(?:[a-z][\w-]*\s+){0,2}?(?:(?:in|of|at|on|for|with)\s+)?(?:\d+(?:st|nd|rd|th)?\s+)?"
                   r"[A-Z][\w'&-]*(?:\s+(?:of\s+)?(?:[A-Z][\w'&-]*|\d+))*")


def standalone_query(question: str, history: Sequence[tuple[str, str]]) -> str:
    """A follow-up that leans on the previous question, rewritten to stand alone (deterministic;
    an LLM answerer condenses instead):
    - "what about Singapore?" after "How many treaties does Malaysia have?": the previous question
      with its last name replaced ("How many treaties does Singapore have?");
    - "and who chaired it?" after "When was the 25th SOMTC held?": the pronoun replaced by what
      the previous question asked about ("who chaired the 25th SOMTC?"); "those" after "which
      countries have ...?" by "the countries that have ...";
    - otherwise what the previous question asked about added in brackets, so retrieval finds it.
    The rewrite is what is searched for and read: the answer is the follow-up's, not the earlier turn's."""
    question = question.strip()
    if not history or not FOLLOW_UP.search(question):
        return question
    previous = history[-1][0].strip().rstrip("?").strip()
    names = question_names(previous)
    other = WHAT_ABOUT.match(question)
    if other and names:
        return re.sub(rf"\b{re.escape(names[-1])}\b", other.group("other"), previous) + "?"
    body = CONNECTIVE.sub("", question, count=1).strip()
    pronoun = PRONOUN.search(body)
    which = WHICH_NOUN.match(previous)
    listed = f"the {which.group('noun')} that {which.group('rest')}" if which else ""
    topic = TOPIC.search(previous)
    if pronoun:
        referent = listed if pronoun.group("plural") and listed else topic.group(0) if topic else names[0] if names else ""
        if referent:
            word = pronoun.group(0).lower()
            possessive = word in ("its", "their")
            replacement = f"{referent}'s" if possessive else referent
            rest = body[pronoun.end():]
            if which and referent == listed:  # "those countries": the noun is in the referent already
                rest = re.sub(rf"^\s+{re.escape(which.group('noun'))}\b", "", rest, flags=re.IGNORECASE)
            return _capitalized(body[: pronoun.start()] + replacement + rest)
    referent = listed or (topic.group(0) if topic else ", ".join(names) or previous)
    return _capitalized(f"{body.rstrip('?')} ({referent})?")


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def merged_search(query: str, search: Callable[[str], list[Hit]]) -> list[Hit]:
    """Hits for the whole query; for a question that asks two things, the hits of each part are
    interleaved with them, so that evidence for every part reaches the answerer."""
    parts = split_question(query)
    hits = search(query)
    if len(parts) < 2:
        return hits
    rankings = [hits] + [search(part) for part in parts]
    merged: dict[str, Hit] = {}
    for position in range(max(len(r) for r in rankings)):
        for ranking in rankings:
            if position < len(ranking):
                merged.setdefault(ranking[position].chunk.id, ranking[position])
    return [replace(hit, rank=rank) for rank, hit in enumerate(list(merged.values())[: len(hits)], start=1)]


def run(
    question: str,
    *,
    history: Sequence[tuple[str, str]],
    search: Callable[[str], list[Hit]],
    answerer: Answerer,
    source_text: Callable[[str], str | None],
    condense: Callable[[str, Sequence[tuple[str, str]]], str] | None = None,
    relevance: Callable[[str, Sequence[Claim], Sequence[Hit]], Sequence[Claim]] | None = None,
    judge: Callable[[str, Sequence[Claim], Sequence[Hit]], tuple[tuple[Claim, ...], float | None]] | None = None,
) -> Iterator[Event]:
    """The events of one answer. `relevance` (rag.answer.relevance.RelevanceCheck) judges the verified
    claims against the question, for answerers that do not choose their sentences by it; `judge`
    (rag.answer.judge.JudgeCheck) then withholds an answer, whoever wrote it, whose quotes do not
    answer the question, and gives its probability that they do."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    question = question.strip()
    if history and condense is not None and FOLLOW_UP.search(question):
        query = condense(question, history)
    else:
        query = standalone_query(question, history)
    timings["condense"] = time.perf_counter() - t0
    yield QueryEvent(query)

    t = time.perf_counter()
    hits = merged_search(query, search) if terms(query) else []
    timings["retrieve"] = time.perf_counter() - t
    yield PassagesEvent(tuple(hits))

    t = time.perf_counter()
    pieces: list[str] = []
    draft = None
    if hits:
        for piece in answerer.stream(query, hits):
            if isinstance(piece, Draft):  # a structured answer: the whole of it at once
                draft = piece
                continue
            pieces.append(piece)
            yield TokenEvent(piece)
    draft = draft or Draft("".join(pieces))
    text = draft.text.strip()
    timings["answer"] = time.perf_counter() - t

    t = time.perf_counter()
    if draft.claims is not None:  # structured: each claim names its sentence
        claims = verify_structured(draft.claims, hits, source_text).claims
    else:
        declined = not text or ABSTAIN in text
        claims = verify(text, hits, source_text).claims if not declined else ()
    if relevance is not None:
        claims = tuple(relevance(query, claims, hits))
    judged = None
    if judge is not None:
        claims, judged = judge(query, claims, hits)
    timings["verify"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    answer = assemble(question, query, claims, hits, answerer.name, timings, draft, source_text)
    if judged is not None and answer.abstained and not answer.reason:  # the judge withheld it: say what it was
        reason = decline_reason(query, hits, replace(draft, nearest=draft.nearest or draft.short)) if draft.nearest or draft.short else ""
        quote = next((c.quote for claim in claims for c in claim.citations if c.verified), "")
        if quote and not reason:
            reason = f"the closest quote found, “{_clipped(quote)}”, does not answer this question"
        answer = replace(answer, reason=reason)
    yield AnswerEvent(replace(answer, judged=judged))


def _clipped(text: str, words: int = 16) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def assemble(question: str, query: str, claims: Sequence[Claim], hits: Sequence[Hit], answerer: str,
             timings: dict | None = None, draft: Draft | None = None,
             source_text: Callable[[str], str | None] | None = None) -> Answer:
    """The answer the user sees: supported claims only, each with the markers of its verified
    quotes; what could not be verified is withheld (kept on the Answer, never in its text). With
    no supported claim the answer is an abstention. A short answer is kept only when it stands
    inside one of the verified quotes and equals the source text at its offsets, and only when the
    quotes' passages write every name the question asks about: otherwise the answer names those it
    does not write (`unmentioned`), and no span is offered as *the* answer. The span's own passage
    must write them too: Malaysia's 11, quoted beside a passage that names Singapore, is not
    Singapore's."""
    claims = renumber(claims)
    shown = [c for c in claims if c.supported]
    text = "".join(("\n" if c.new_line else " ") * (i > 0) + c.render() for i, c in enumerate(shown))
    citations = tuple(dict.fromkeys(cite for c in shown for cite in c.citations if cite.verified))
    issues = tuple(p for c in claims for p in c.problems)
    short = None
    unmentioned = tuple(_unmentioned(query, citations, hits)) if shown else ()
    if draft and draft.short and shown and source_text and not unmentioned:
        n, start, end = draft.short
        source = hits[n - 1].chunk.source if 1 <= n <= len(hits) else None
        document = source_text(source) if source else None
        inside = any(c.source == source and c.start <= start and end <= c.end for c in citations)
        named = 1 <= n <= len(hits) and not missing_names(query, hits[n - 1].chunk.indexed_text)
        if source and document is not None and inside and named and start < end:
            short = ShortAnswer(document[start:end], source, start, end, draft.short_confidence)
    values = _conflict_values(draft, hits, citations) if draft and draft.conflict and shown else ()
    reason = decline_reason(query, hits, draft) if not shown else ""
    if draft and draft.conflict:
        short = None  # one side's value in bold would pick a side: the values are stated together instead
    return Answer(question, query, text or NOT_FOUND, citations, tuple(hits), not shown, answerer, dict(timings or {}),
                  issues, tuple(claims), short, draft.confidence if draft else None, bool(draft and draft.conflict and shown),
                  unmentioned, values, reason)


YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def decline_reason(question: str, hits: Sequence[Hit], draft: Draft | None) -> str:
    """Why the documents were taken not to answer, from what a person can check in the passages:
    the question's names (and years) that no passage found writes; else, where the reader's
    closest span stands in a sentence that names someone (or a year) the question does not and
    lacks one it does, that it is their value and not the one asked about ("the nearest passage
    gives “11” for Malaysia, not for Singapore"); else that the closest span does not answer."""
    if not hits:
        return ""
    asked = [*question_names(question), *YEAR.findall(question)]
    everywhere = "\n".join(h.chunk.indexed_text for h in hits)
    absent = [n for n in asked if n in missing_names(question, everywhere) or (YEAR.fullmatch(n) and n not in everywhere)]
    if absent:
        return f"no passage found mentions {_listed(absent)}"
    if draft is None or draft.nearest is None or not 1 <= draft.nearest[0] <= len(hits):
        return ""
    n, start, end = draft.nearest
    chunk = hits[n - 1].chunk
    span = chunk.text[start - chunk.start : end - chunk.start]
    sentence = next((t for a, b, t in sentences(chunk.text, chunk.start) if a <= start < b), span)
    lacking = [w for w in asked if w in missing_names(question, sentence) or (YEAR.fullmatch(w) and w not in sentence)]
    own = [w for w in dict.fromkeys([*re.findall(r"(?<=\w )[A-Z][\w’'-]+", sentence), *YEAR.findall(sentence)])
           if w not in question and w.lower() not in question.lower()]
    if span and lacking and own:
        return f"the nearest passage gives “{span}” for {own[0]}, not for {_listed(lacking)}"
    if span:
        return f"the nearest passage gives “{span}”, which does not answer this question closely enough"
    return ""


def _listed(names: Sequence[str], joiner: str = "or") -> str:
    return ", ".join(names[:-1]) + f" {joiner} " + names[-1] if len(names) > 1 else names[0]


def _conflict_values(draft: Draft, hits: Sequence[Hit], citations: Sequence[Citation]) -> tuple[ConflictValue, ...]:
    """Each side's value with the markers of the verified quotes of its source that hold its spans
    (a side's dates may span sentences beyond the passages read: at least one must be quoted);
    none unless at least two sides are so quoted."""
    out = []
    for text, n, spans in draft.values:
        if not 1 <= n <= len(hits):
            continue
        source = hits[n - 1].chunk.source
        markers = [next((c.marker for c in citations if c.source == source and c.start <= a and b <= c.end), None)
                   for a, b in spans]
        if any(m is not None for m in markers):
            out.append(ConflictValue(text, source, tuple(spans), tuple(dict.fromkeys(m for m in markers if m is not None))))
    return tuple(out) if len(out) >= 2 else ()


def renumber(claims: Sequence[Claim]) -> tuple[Claim, ...]:
    """The claims with their citations numbered 1..n in the order the answer shows them.

    An answerer's [n] names the n-th retrieved passage, so the shown markers skip ([1][3][5]) where
    passages go uncited. Here each passage cited by a verified quote of a supported claim gets the
    next number in reading order; the citations of withheld claims follow (never shown as markers).
    Quotes, offsets and passages are untouched; two quotes from one passage share its number."""
    order: dict[int, int] = {}
    for wanted in (True, False):
        for claim in claims:
            if claim.supported == wanted:
                for cite in claim.citations:
                    if cite.verified or not wanted:
                        order.setdefault(cite.marker, len(order) + 1)
    for claim in claims:  # unverified citations of a supported claim: numbered last
        for cite in claim.citations:
            order.setdefault(cite.marker, len(order) + 1)
    return tuple(
        replace(claim, citations=tuple(replace(c, marker=order[c.marker]) for c in claim.citations)) for claim in claims
    )


def unmentioned_note(names: Sequence[str]) -> str:
    """How CLI and UI word `Answer.unmentioned`."""
    listed = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
    return f"the quoted passages never mention {listed}, so they may be about something else."


def _unmentioned(question: str, citations: Sequence[Citation], hits: Sequence[Hit]) -> list[str]:
    """The question's names (rag.answer.english.question_names) that no quote's passage, with its
    title and heading, writes; a name of several words ("Kota Kinabalu") whole when none of its
    words is written."""
    context = [h.chunk.indexed_text for h in hits
               if any(c.source == h.chunk.source and h.chunk.start <= c.start < h.chunk.end for c in citations)]
    missing = missing_names(question, "\n".join([*context, *(c.quote for c in citations)]))
    out: list[str] = []
    for run in re.findall(r"[A-Z][\w’'-]*(?: [A-Z][\w’'-]*)*", question):
        words = run.split()
        if len(words) > 1 and all(w in missing for w in words):
            out.append(run)
        else:
            out += [w for w in words if w in missing]
    return list(dict.fromkeys(out))
