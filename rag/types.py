"""The frozen records that flow between pipeline stages. Every one knows where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """A loaded source file. `text` is the full text every offset in the system refers to."""

    source: str
    text: str
    sha256: str
    # (char_start, page_number) pairs, ascending; empty for formats without pages.
    pages: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_text(cls, source: str, text: str) -> "Document":
        import hashlib

        return cls(source=source, text=text, sha256=hashlib.sha256(text.encode()).hexdigest())

    def page_at(self, offset: int) -> int | None:
        page = None
        for start, number in self.pages:
            if start > offset:
                break
            page = number
        return page


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

    @property
    def indexed_text(self) -> str:
        return indexed_text(self.heading, self.text)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its score and, for fused retrieval, its per-method ranks."""

    chunk: Chunk
    score: float
    rank: int
    scores: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Citation:
    """A quote backing one answer sentence: `quote == document text[start:end]` when verified."""

    marker: int
    source: str
    start: int
    end: int
    quote: str
    verified: bool
    page: int | None = None
    sentence: str = ""


@dataclass(frozen=True)
class Answer:
    question: str
    query: str
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Hit, ...]
    abstained: bool
    answerer: str
    timings: dict = field(default_factory=dict, compare=False, hash=False)
    issues: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "query": self.query,
            "answer": self.text,
            "abstained": self.abstained,
            "answerer": self.answerer,
            "citations": [
                {
                    "marker": c.marker,
                    "source": c.source,
                    "start": c.start,
                    "end": c.end,
                    "quote": c.quote,
                    "verified": c.verified,
                    "page": c.page,
                    "sentence": c.sentence,
                }
                for c in self.citations
            ],
            "passages": [hit_to_dict(h) for h in self.passages],
            "issues": list(self.issues),
            "timings": dict(self.timings),
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
        "text": c.text,
    }
