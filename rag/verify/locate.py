"""Find a quote among a page's characters and merge the characters it covers into one box per line.

Pure text and geometry, no PDF: `rag.verify.pageview` reads the characters (pdfium's text layer, or OCR).
The match compares letters and digits only (case-folded, ligatures spelled out), so whitespace, line
breaks, hyphens and punctuation never stop it; it steps over a line of the page the quote lacks (a
running header between its lines) and over a few words the page lacks, within the limits below.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ..types import Box

MAX_GAP = 300  # characters of page text (letters and digits) a quote may step over between two of its pieces
MAX_SKIPPED = 0.2  # at most this share of a quote's letters and digits may be missing from the page
MIN_MATCH = 16  # letters and digits of a quote that must be found, for a quote at least this long
MIN_PIECE = 8  # letters and digits a piece of a quote needs to count when it does not follow the one before


@dataclass(frozen=True)
class Glyph:
    """One character on a page and its box."""

    text: str
    box: Box


def locate(glyphs: tuple[Glyph, ...], quote: str, following: Callable[[], str] = str) -> tuple[Box, ...]:
    """The line boxes of `quote` among `glyphs` (a page's characters in reading order); `following`
    gives the next page's text (as `folded` gives it) for a quote that runs on to it."""
    text, where = folded(glyphs)
    words = [w for w in (fold(word) for word in quote.split()) if w]
    spans = [list(dict.fromkeys(where[lo:hi])) for lo, hi in _match(words, text, following)]
    if spans:  # the quote's opening and closing marks ("(", "“", "."), where the page has marks there too
        opening, closing = _end_marks(quote)
        spans[0][:0] = _marks(glyphs, spans[0][0], -1, opening)
        spans[-1] += _marks(glyphs, spans[-1][-1], 1, closing)
    return tuple(box for span in spans for box in _lines([glyphs[i].box for i in span]))


def _end_marks(quote: str) -> tuple[int, int]:
    """How many punctuation marks open `quote`, and how many close it."""
    text = quote.strip()
    opening = next((n for n, ch in enumerate(text) if ch.isalnum() or ch.isspace()), len(text))
    closing = next((n for n, ch in enumerate(reversed(text)) if ch.isalnum() or ch.isspace()), len(text))
    return opening, closing


def _marks(glyphs: tuple[Glyph, ...], at: int, step: int, count: int) -> list[int]:
    """Up to `count` punctuation glyphs right next to glyph `at` (before it: step -1, after: 1), in page order."""
    found = []
    for _ in range(count):
        at += step
        if not (0 <= at < len(glyphs)) or fold(glyphs[at].text):
            break
        found.append(at)
    return found if step > 0 else found[::-1]


def folded(glyphs: tuple[Glyph, ...]) -> tuple[str, list[int]]:
    """The page's text as the match compares it (`fold`), and the glyph each of its characters comes from."""
    chars, where = [], []
    for i, glyph in enumerate(glyphs):
        for ch in fold(glyph.text):
            chars.append(ch)
            where.append(i)
    return "".join(chars), where


def fold(text: str) -> str:
    """Only what the match compares: letters and digits, case-folded, ligatures spelled out."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def _match(words: list[str], hay: str, following: Callable[[], str] = str) -> list[tuple[int, int]]:
    """Spans of `hay` that hold `words` in order: the whole quote at once, else piece by piece
    (`_pieces`), from the first word or, when that fails, leaving out the first few words."""
    needle = "".join(words)
    if not needle:
        return []
    at = hay.find(needle)
    if at >= 0:
        return [(at, at + len(needle))]
    lead, left_out = 0, 0
    while lead < len(words) and left_out <= MAX_SKIPPED * len(needle):
        spans = _pieces(words, lead, hay, following)
        if spans:
            return spans
        left_out += len(words[lead])
        lead += 1
    return []


def _pieces(words: list[str], lead: int, hay: str, following: Callable[[], str]) -> list[tuple[int, int]]:
    """Spans of `hay` holding words[lead:] piece by piece, each piece at least MIN_PIECE long or
    right after the one before, with at most MAX_GAP between pieces; words[:lead] and the words not
    found count as missing, at most MAX_SKIPPED of the quote. Words left over where the page ends
    count as found when `following()` (the next page's text) goes on with them."""
    total = sum(len(w) for w in words)
    spans: list[tuple[int, int]] = []
    skipped = sum(len(w) for w in words[:lead])
    i, tail, cursor = lead, lead, None  # tail: the first word after the last piece found
    while i < len(words):
        j, at = _longest(words, i, hay, cursor)
        size = sum(len(w) for w in words[i:j])
        if j > i and (at == cursor or size >= min(MIN_PIECE, total)):
            spans.append((at, at + size))
            cursor, i, tail = at + size, j, j
        else:
            skipped += len(words[i])
            i += 1
    matched = sum(hi - lo for lo, hi in spans)
    if cursor is not None and tail < len(words) and len(hay) - cursor <= MAX_GAP:
        rest = _match(words[tail:], following())
        if rest and rest[0][0] <= MAX_GAP:  # the next page goes on with the quote
            skipped -= sum(len(w) for w in words[tail:])
            matched += sum(hi - lo for lo, hi in rest)
    if matched < min(MIN_MATCH, total) or skipped > MAX_SKIPPED * total:
        return []
    return spans


def _longest(words: list[str], i: int, hay: str, cursor: int | None) -> tuple[int, int]:
    """The largest j such that words[i:j] stand together in `hay` (anywhere for the first piece,
    else within MAX_GAP after `cursor`), and where: (i, -1) when not even words[i] does."""

    def find(j: int) -> int:
        piece = "".join(words[i:j])
        if cursor is None:
            return hay.find(piece)
        return hay.find(piece, cursor, cursor + MAX_GAP + len(piece))

    lo, hi, at = i, len(words), -1  # words[i:lo] found (at `at`); is words[i:hi] too?
    while lo < hi:
        mid = (lo + hi + 1) // 2
        found = find(mid)
        if found >= 0:
            lo, at = mid, found
        else:
            hi = mid - 1
    return lo, at


def _lines(boxes: list[Box]) -> list[Box]:
    """Characters merged into one box per line: a character starts a new line when its middle is
    outside the line's height or it stands left of the character before it."""
    lines: list[Box] = []
    prev: Box | None = None
    for box in boxes:
        mid = (box.y0 + box.y1) / 2
        if lines and prev is not None and lines[-1].y0 <= mid <= lines[-1].y1 and box.x0 >= prev.x0 - 0.005:
            line = lines[-1]
            lines[-1] = Box(min(line.x0, box.x0), min(line.y0, box.y0), max(line.x1, box.x1), max(line.y1, box.y1))
        else:
            lines.append(box)
        prev = box
    return lines
