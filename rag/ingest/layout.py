"""Page layout: from positioned line pieces (a PDF's text layer, OCR) to the text a reader reads.

- Reading order: columns one after another (recursive XY cut: split at vertical gutters first,
  else at the widest horizontal gap), a table as one block read row by row.
- Tables: consecutive rows of two or more aligned, short pieces; the first row is the header, and
  each later row becomes one line carrying its headers ("Country: Indonesia | Treaty signed: 1974").
- Page furniture: lines in the top or bottom margin band that repeat, digits aside, at the same
  height on most pages (running headers, footers, page numbers) are left out.
- Paragraphs: lines are joined by spaces, a word hyphenated at a line end is joined whole, and a
  paragraph ends at a wide vertical gap or after a line that stops short of the column's width.
- Characters: ligatures are spelled out (ﬁ: fi), and a soft hyphen is dropped unless it ends a line,
  where it is the hyphen drawn there.
Boxes are (x0, y0, x1, y1) with the origin top-left, in any unit (points, pixels).
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Protocol, TypeVar

HYPHENATED = re.compile(r"[^\W\d_]-$")
LIGATURES = {code: unicodedata.normalize("NFKC", chr(code)) for code in range(0xFB00, 0xFB07)}  # ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ
SOFT_HYPHEN = "\u00ad"
DIGITS = re.compile(r"\d+")
MARGIN_BAND = 0.15  # furniture lives in the top and bottom 15% of a page
FURNITURE_SHARE = 0.5  # ... and repeats on at least half the pages (two at least)
MIN_TABLE_ROWS = 3  # a header and two rows
ROOM = 0.95  # a line that would still be narrower than this share of a full one with the next word: ended
MAX_CELL_WORDS = 4  # the median cell holds at most this many words
TABLE_FILL = 0.7  # table cells fill under this share of their column's slot; text columns fill it


class Piece(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def box(self) -> tuple[float, float, float, float]: ...


P = TypeVar("P", bound=Piece)


@dataclass(frozen=True)
class Line:
    """A piece of a PDF's text layer: text on one baseline, no wide gap inside."""

    text: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class Extracted:
    """A file's text as loaded: `pages` (char_start, page number), `ocr` (start, end, confidence)
    of each OCR'd line, `rows` (start, end) of each table row, and the `properties` its format
    stores (a PDF's or .docx's title, author, subject, created: rag.ingest.metadata reads them)."""

    text: str
    pages: tuple[tuple[int, int], ...] = ()
    ocr: tuple[tuple[int, int, float], ...] = ()
    rows: tuple[tuple[int, int], ...] = ()
    properties: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class PageText:
    """A page's text and where each piece landed in it: `spans[i]` is the (start, end) of piece i's
    text (a table cell: its value), None for a piece left out; `rows` are the table rows' spans."""

    text: str
    spans: tuple[tuple[int, int] | None, ...]
    rows: tuple[tuple[int, int], ...]


def clean(text: str) -> str:
    """A piece's text as read: whitespace runs as one space, ligatures spelled out, soft hyphens
    dropped but one that ends the piece, which is the hyphen drawn at a line's end."""
    text = " ".join(text.translate(LIGATURES).split())
    broken = text.endswith(SOFT_HYPHEN)
    text = text.replace(SOFT_HYPHEN, "").rstrip()
    return f"{text}-" if broken and text else text


def _height(pieces: Sequence[Piece]) -> float:
    heights = [p.box[3] - p.box[1] for p in pieces if p.box[3] > p.box[1]]
    return statistics.median(heights) if heights else 1.0


def _rows(pieces: Sequence[P], height: float) -> list[list[P]]:
    """Pieces grouped by line (their vertical centres within half a line height), top to bottom,
    each row left to right."""
    rows: list[list[P]] = []
    centres: list[float] = []
    for piece in sorted(pieces, key=lambda p: (p.box[1] + p.box[3]) / 2):
        centre = (piece.box[1] + piece.box[3]) / 2
        if rows and abs(centre - centres[-1]) <= height / 2:
            rows[-1].append(piece)
        else:
            rows.append([piece])
            centres.append(centre)
    return [sorted(row, key=lambda p: p.box[0]) for row in rows]


def _aligned(a: Sequence[Piece], b: Sequence[Piece]) -> bool:
    return len(a) == len(b) and all(x.box[0] < y.box[2] and y.box[0] < x.box[2] for x, y in zip(a, b))


def tables(pieces: Sequence[P]) -> list[list[list[P]]]:
    """The tables among `pieces`: each a list of rows (the header first), each row its cells."""
    height = _height(pieces)
    found: list[list[list[P]]] = []
    run: list[list[P]] = []
    for row in [*_rows(pieces, height), []]:
        if len(row) >= 2 and (not run or _aligned(run[-1], row)):
            run.append(row)
            continue
        if len(run) >= MIN_TABLE_ROWS and _short_cells(run):
            found.append(run)
        run = [row] if len(row) >= 2 else []
    return found


def _short_cells(rows: list[list[P]]) -> bool:
    """Cells of a few words that leave most of their column's slot empty; lines of text columns
    hold more words and fill their column."""
    if statistics.median(len(cell.text.split()) for row in rows for cell in row) > MAX_CELL_WORDS:
        return False
    widths, slots = [], []
    for row in rows:
        for cell, after in pairwise(row):
            widths.append(cell.box[2] - cell.box[0])
            slots.append(after.box[0] - cell.box[0])
    return statistics.median(widths) < TABLE_FILL * statistics.median(slots)


def reading_order(pieces: Sequence[P]) -> list[P]:
    """`pieces` in reading order: columns left to right, each top to bottom; a table row by row."""
    blocks: list[list[P]] = [[cell for row in table for cell in row] for table in tables(pieces)]
    in_table = {id(p) for block in blocks for p in block}
    blocks += [[p] for p in pieces if id(p) not in in_table]
    height = _height(pieces)
    return [p for block in _xycut(blocks, height) for p in block]


def _box(block: Sequence[Piece]) -> tuple[float, float, float, float]:
    return (min(p.box[0] for p in block), min(p.box[1] for p in block), max(p.box[2] for p in block), max(p.box[3] for p in block))


def _gaps(intervals: list[tuple[float, float]], least: float) -> list[float]:
    """Where the union of `intervals` has holes at least `least` wide: each hole's middle."""
    cuts: list[float] = []
    intervals = sorted(intervals)
    end = intervals[0][1]
    for start, stop in intervals[1:]:
        if start - end >= least:
            cuts.append((start + end) / 2)
        end = max(end, stop)
    return cuts


@dataclass(frozen=True)
class _Block:
    block: list
    box: tuple[float, float, float, float]

    @property
    def text(self) -> str:
        return ""


def _xycut(blocks: list[list[P]], height: float) -> list[list[P]]:
    if len(blocks) <= 1:
        return blocks
    boxes = [_box(b) for b in blocks]
    columns = _gaps([(b[0], b[2]) for b in boxes], height)
    if columns:
        edges = [float("-inf"), *columns, float("inf")]
        parts = [[blk for blk, box in zip(blocks, boxes) if lo < (box[0] + box[2]) / 2 < hi] for lo, hi in pairwise(edges)]
        return [b for part in parts for b in _xycut(part, height)]
    spaced = sorted(zip(boxes, range(len(blocks))), key=lambda t: t[0][1])
    widest, at = 0.0, 0
    end = spaced[0][0][3]
    for i in range(1, len(spaced)):
        gap = spaced[i][0][1] - end
        if gap > widest:
            widest, at = gap, i
        end = max(end, spaced[i][0][3])
    if widest <= 0:  # each block overlaps the next vertically (a skewed scan): by line, each left to right
        rows = _rows([_Block(block, box) for block, box in zip(blocks, boxes)], height)
        return [b.block for row in rows for b in row]
    top, bottom = [blocks[i] for _, i in spaced[:at]], [blocks[i] for _, i in spaced[at:]]
    return _xycut(top, height) + _xycut(bottom, height)


def furniture(pages: Sequence[tuple[Sequence[Piece], float]]) -> list[set[int]]:
    """For each page (its pieces, its height), the indices of pieces that are page furniture
    (never a table's cell: a table's header repeated on each page stays its header)."""
    def key(piece: Piece, page_height: float) -> tuple[str, int] | None:
        centre = (piece.box[1] + piece.box[3]) / 2 / page_height
        if MARGIN_BAND < centre < 1 - MARGIN_BAND:
            return None
        return DIGITS.sub("#", " ".join(piece.text.split()).lower()), round(centre * 100)

    def cells(pieces: Sequence[Piece]) -> set[int]:  # a table's header repeated on each page is no furniture
        return {id(cell) for table in tables(pieces) for row in table for cell in row}

    keys: list[list[tuple[str, int] | None]] = []
    for pieces, page_height in pages:
        in_table = cells(pieces)
        keys.append([None if id(p) in in_table else key(p, page_height) for p in pieces])
    counts: dict[tuple[str, int], int] = {}
    for page_keys in keys:
        for k in set(filter(None, page_keys)):
            for near in (k, (k[0], k[1] - 1), (k[0], k[1] + 1)):  # a scan's skew moves a line a little
                counts[near] = counts.get(near, 0) + 1
    least = max(2, int(len(pages) * FURNITURE_SHARE + 0.999))
    return [{i for i, k in enumerate(page_keys) if k is not None and counts[k] >= least} for page_keys in keys]


def page_text(pieces: Sequence[Piece]) -> PageText:
    """The text of a page's pieces (in reading order): table rows as lines that carry their
    headers, other lines joined into paragraphs (one per line of the result)."""
    cells: dict[int, tuple[str, int, int]] = {}  # id(piece) -> header, table number, row number
    row_of: dict[int, list[Piece]] = {}
    for t, table in enumerate(tables(pieces)):
        header = table[0]
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                cells[id(cell)] = (clean(header[c].text), t, r)
                row_of[id(cell)] = row
    height = _height(pieces)
    prose = [p for p in pieces if id(p) not in cells]
    steps = [_centre(b) - _centre(a) for a, b in pairwise(prose) if height / 2 < _centre(b) - _centre(a) < 3 * height]
    # a line's usual step: the lower quartile, as pages of one-line paragraphs (lists) have more gaps than steps
    paragraph_step = (sorted(steps)[len(steps) // 4] if steps else height) + height / 2
    widths = sorted(p.box[2] - p.box[0] for p in prose)
    full = widths[int(len(widths) * 0.8)] if widths else 0.0  # a line that fills its column
    text = ""
    spans: list[tuple[int, int] | None] = [None] * len(pieces)
    index = {id(p): i for i, p in enumerate(pieces)}
    rows: list[tuple[int, int]] = []
    previous: Piece | None = None
    done: set[int] = set()
    for i, piece in enumerate(pieces):
        if id(piece) in done:
            continue
        words = clean(piece.text)
        if not words:
            continue
        if id(piece) in cells:
            _, t, r = cells[id(piece)]
            row = row_of[id(piece)]
            done.update(id(c) for c in row)
            previous = None
            if r == 0:
                continue  # the header: its words stand in every row
            text += "\n" if text else ""
            start = len(text)
            for c, cell in enumerate(row):
                text += " | " if c else ""
                text += f"{cells[id(cell)][0]}: "
                value = clean(cell.text)
                spans[index[id(cell)]] = (len(text), len(text) + len(value))
                text += value
            rows.append((start, len(text)))
            continue
        if previous is None:
            text += "\n" if text else ""
        elif HYPHENATED.search(text) and words[0].islower():
            text = text[:-1]
            last = spans[index[id(previous)]]
            if last is not None:
                spans[index[id(previous)]] = (last[0], last[1] - 1)
        elif _new_paragraph(previous, piece, paragraph_step, full):
            text += "\n"
        else:
            text += " "
        spans[i] = (len(text), len(text) + len(words))
        text += words
        previous = piece
    return PageText(text, tuple(spans), tuple(rows))


def _centre(piece: Piece) -> float:
    return (piece.box[1] + piece.box[3]) / 2


def _new_paragraph(above: Piece, below: Piece, paragraph_step: float, full: float) -> bool:
    """A paragraph ends where the next line stands lower than lines usually follow by half a line
    (centre to centre: a skewed scan's boxes overlap), or after a line that had room for the next
    line's first word (it did not wrap: it ended)."""
    if _centre(below) - _centre(above) > paragraph_step:
        return True
    words = below.text.split()
    per_char = (below.box[2] - below.box[0]) / max(len(below.text), 1)
    first_word = (len(words[0]) + 1) * per_char if words else 0.0
    return above.box[2] - above.box[0] + first_word < full * ROOM
