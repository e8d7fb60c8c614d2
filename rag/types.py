"""The frozen records that flow between pipeline stages. Every one knows where it came from."""

from __future__ import annotations

import datetime
import hashlib
import math
import re
from dataclasses import dataclass, field

from .errors import ConfigError

# A metadata value: text, a number or a date (rag.ingest.metadata says where each comes from).
MetaValue = str | int | float | datetime.date
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
RESERVED = frozenset({"source"})  # the document's own field, filterable without being metadata
MAX_TEXT = 1_000  # characters of one text value


def checked(values: dict) -> dict[str, MetaValue]:
    """Metadata as the index keeps it: names of letters, digits, `_.-`; values text, numbers or dates
    (a datetime keeps its date; a bool becomes "true"/"false"). Anything else is a one-line ConfigError."""
    out: dict[str, MetaValue] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not KEY.fullmatch(key) or key in RESERVED:
            raise ConfigError(f"metadata key {key!r} must be a name of letters, digits, _ . - (and not 'source')")
        out[key] = value_of(key, value)
    return out


def value_of(key: str, value: object) -> MetaValue:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"metadata {key} must be a finite number, not {value!r}")
        return value
    if isinstance(value, str):
        return value.strip()[:MAX_TEXT]
    raise ConfigError(f"metadata {key} must be text, a number or a date, not {type(value).__name__}")


@dataclass(frozen=True)
class Document:
    """A loaded source file. `text` is the full text every offset in the system refers to."""

    source: str
    text: str
    sha256: str  # of the file's bytes when loaded from a file (`origin`), else of the text
    # (char_start, page_number) pairs, ascending; empty for formats without pages.
    pages: tuple[tuple[int, int], ...] = ()
    origin: str | None = None  # the absolute path of the file it was loaded from; None when made in memory
    # title, author, created, modified, front matter, user values (rag.ingest.metadata); filterable
    metadata: dict[str, MetaValue] = field(default_factory=dict, hash=False)
    ocr: tuple[tuple[int, int, float], ...] = ()  # (start, end, confidence 0..1) of each OCR'd line
    rows: tuple[tuple[int, int], ...] = ()  # (start, end) of each table row: never split across chunks

    @classmethod
    def from_text(cls, source: str, text: str, metadata: dict[str, MetaValue] | None = None) -> Document:
        return cls(source=source, text=text, sha256=hashlib.sha256(text.encode()).hexdigest(), metadata=checked(metadata or {}))

    def page_at(self, offset: int) -> int | None:
        page = None
        for start, number in self.pages:
            if start > offset:
                break
            page = number
        return page

    def ocr_at(self, start: int, end: int) -> float | None:
        """The mean OCR confidence of the lines that [start, end) overlaps; None when none of them
        was read by OCR (a quote from a text layer)."""
        found = [confidence for a, b, confidence in self.ocr if a < end and start < b]
        return sum(found) / len(found) if found else None


def indexed_text(heading: str, text: str) -> str:
    """What is embedded and searched for a chunk: its heading, then its text."""
    return f"{heading}\n{text}" if heading else text


@dataclass(frozen=True)
class Chunk:
    """A span of a document: `text == document.text[start:end]`."""

    id: str
    source: str
    start: int
    end: int
    text: str
    ordinal: int
    page: int | None = None
    n_tokens: int = 0
    heading: str = ""  # the document's title and the section heading the chunk starts under (context, not text)
    ocr: bool = False  # some of its text was read by OCR from a page image
    ocr_confidence: float | None = None  # then: the OCR's mean confidence over that text, 0..1
    metadata: dict[str, MetaValue] = field(default_factory=dict, compare=False, hash=False)  # its document's: context, not identity

    @property
    def indexed_text(self) -> str:
        return indexed_text(self.heading, self.text)

    @property
    def title(self) -> str:
        """Its document's title: the metadata's, else the first line of its heading (the first heading)."""
        return str(self.metadata.get("title") or self.heading.split("\n", 1)[0])


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its score and, for fused retrieval, its per-method ranks."""

    chunk: Chunk
    score: float
    rank: int
    scores: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Box:
    """A rectangle on a page, as fractions of the page's width and height with the origin at its
    top-left corner, so it scales to any rendering of the page."""

    x0: float
    y0: float
    x1: float
    y1: float

    def to_list(self) -> list[float]:
        return [round(v, 4) for v in (self.x0, self.y0, self.x1, self.y1)]


@dataclass(frozen=True)
class Citation:
    """A quote backing one answer sentence: `quote == document text[start:end]` when verified.
    `boxes`: where the quote stands on its PDF page, one per line; filled on demand
    (`Rag.with_boxes`), empty otherwise."""

    marker: int
    source: str
    start: int
    end: int
    quote: str
    verified: bool
    page: int | None = None
    sentence: str = ""
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer and what backs it: the unit every answerer produces and the
    verifier judges. `supported` is true when at least one citation is verified; only supported
    claims make up `Answer.text`, the others are withheld and say why in `problems`."""

    text: str  # the sentence as the answerer wrote it, without its [n] markers
    citations: tuple[Citation, ...] = ()
    supported: bool = False
    problems: tuple[str, ...] = ()
    new_line: bool = False  # the answerer started it on a line of its own (a list item, a heading)

    def render(self) -> str:
        """The claim with the markers of its verified citations: "... [1][3]"."""
        markers = "".join(f"[{m}]" for m in dict.fromkeys(c.marker for c in self.citations if c.verified))
        return f"{self.text} {markers}" if markers else self.text

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "supported": self.supported,
            "citations": [citation_to_dict(c) for c in self.citations],
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class ShortAnswer:
    """The words that answer ("1169", "Ögedei"): `text == document text[start:end]`, inside a
    verified quote of the answer."""

    text: str
    source: str
    start: int
    end: int
    confidence: float | None = None  # that this span is the answer (the short-answer bar is set on it)

    def to_dict(self) -> dict:
        return {"text": self.text, "source": self.source, "start": self.start, "end": self.end,
                "confidence": None if self.confidence is None else round(self.confidence, 4)}


@dataclass(frozen=True)
class ConflictValue:
    """One document's value where the documents disagree, with `marker`, the [n] of the verified
    quote that holds it. `spans` are its source offsets: one span whose text is `text` when the
    source writes the value in one place, or the sentences whose dates, from the first day to the
    last, make it ("24–26 June 2025" from "Day One (24 June 2025)" ... "Day Three (26 June 2025)")."""

    text: str
    source: str
    spans: tuple[tuple[int, int], ...]
    markers: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return {"text": self.text, "source": self.source, "markers": list(self.markers),
                "spans": [{"start": a, "end": b} for a, b in self.spans]}


@dataclass(frozen=True)
class Draft:
    """What an answerer proposes, before verification: text with `[n]` markers and, where the
    answerer reads spans, the short answer (by passage number and source offsets), how sure it is
    that the passages answer (0..1), and whether the passages that answer disagree."""

    text: str
    short: tuple[int, int, int] | None = None  # (passage number, start, end) in the source text
    confidence: float | None = None
    conflict: bool = False
    # how sure the answerer is that `short` is the answer (rag.answer.reading.Reading.sureness)
    short_confidence: float | None = None
    # the closest reading: (passage number, start, end) of the span the reader liked best; a decline
    # (the draft's own, or a later check's: rag.answer.judge) names it in its reason
    nearest: tuple[int, int, int] | None = None
    # when the documents disagree: each side's value as (text, passage number, source spans)
    values: tuple[tuple[str, int, tuple[tuple[int, int], ...]], ...] = ()
    # structured answers: (claim text, passage P, sentence S of that passage), both 1-based; the
    # quote of each is that sentence. None: the text's [n] markers say what each sentence cites.
    claims: tuple[tuple[str, int, int], ...] | None = None


@dataclass(frozen=True)
class Answer:
    """What an answerer said, after verification. `text` holds only supported claims (with their
    markers); `citations` are the verified quotes behind them; `withheld` are the claims that
    could not be verified, never part of `text`. An abstention has no supported claim."""

    question: str
    query: str
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Hit, ...]
    abstained: bool
    answerer: str
    timings: dict = field(default_factory=dict, compare=False, hash=False)
    issues: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()
    short_answer: ShortAnswer | None = None
    confidence: float | None = None  # the answerer's probability that the passages answer the question
    conflict: bool = False  # the passages that answer give different values; each is quoted
    # names the question asks about that neither a quote nor the passage it stands in writes: the
    # quotes may be about something else ("Malaysia has 11 treaties" for "...does Singapore have?")
    unmentioned: tuple[str, ...] = ()
    # the disagreeing values, each in a verified quote (then there is no `short_answer`: it would pick a side)
    conflict_values: tuple[ConflictValue, ...] = ()
    # why an abstention declined, in words a person can check against the passages
    # ("the nearest passage gives “11” for Malaysia, not for Singapore")
    reason: str = ""
    # the answer judge's probability that the best of the quotes answers this question
    # (rag.answer.judge); None where no judge read them
    judged: float | None = None

    @property
    def withheld(self) -> tuple[Claim, ...]:
        return tuple(c for c in self.claims if not c.supported)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "query": self.query,
            "answer": self.text,
            "short_answer": self.short_answer.to_dict() if self.short_answer else None,
            "abstained": self.abstained,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "conflict": self.conflict,
            "conflict_values": [v.to_dict() for v in self.conflict_values],
            "reason": self.reason or None,
            "judged": None if self.judged is None else round(self.judged, 4),
            "unmentioned": list(self.unmentioned),
            "answerer": self.answerer,
            "citations": [citation_to_dict(c) for c in self.citations],
            "claims": [c.to_dict() for c in self.claims if c.supported],
            "withheld": [c.to_dict() for c in self.withheld],
            "passages": [hit_to_dict(h) for h in self.passages],
            "issues": list(self.issues),
            "timings": dict(self.timings),
        }


def citation_to_dict(c: Citation) -> dict:
    return {
        "marker": c.marker,
        "source": c.source,
        "start": c.start,
        "end": c.end,
        "quote": c.quote,
        "verified": c.verified,
        "page": c.page,
        "sentence": c.sentence,
        "boxes": [b.to_list() for b in c.boxes],
    }


def hit_to_dict(hit: Hit) -> dict:
    c = hit.chunk
    return {
        "rank": hit.rank,
        "score": round(float(hit.score), 6),
        "scores": {k: (round(float(v), 6) if isinstance(v, float) else v) for k, v in hit.scores.items()},
        "id": c.id,
        "source": c.source,
        "start": c.start,
        "end": c.end,
        "page": c.page,
        "title": c.title,
        "metadata": {k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in c.metadata.items()},
        "text": c.text,
        "ocr": c.ocr,
        "ocr_confidence": c.ocr_confidence,
    }


# Stream events: what `Rag.ask_stream` yields, in this order: one QueryEvent, one PassagesEvent,
# TokenEvents while an LLM writes (unchecked draft text), one AnswerEvent (always last).
@dataclass(frozen=True)
class QueryEvent:
    query: str  # the standalone query that was searched (a follow-up rewritten)
    type: str = field(default="query", init=False)


@dataclass(frozen=True)
class PassagesEvent:
    passages: tuple[Hit, ...]
    type: str = field(default="passages", init=False)


@dataclass(frozen=True)
class TokenEvent:
    text: str  # a piece of an LLM's draft, not yet verified
    type: str = field(default="token", init=False)


@dataclass(frozen=True)
class AnswerEvent:
    answer: Answer  # verified
    type: str = field(default="answer", init=False)


Event = QueryEvent | PassagesEvent | TokenEvent | AnswerEvent

