"""Where a quote stands on its PDF page: the quote found among the page's characters at view time,
its boxes (one per line), and the page rendered as an image with them highlighted.

The quote is matched against what pdfium reads from the page now (or, for a page with no text
layer, what `rag.ocr` reads from its image), never against how the indexed text was extracted, so
the boxes stay right whatever the loaders do to the text: the match ignores case, whitespace, line
breaks, hyphens and punctuation, and steps over a line the quote lacks (a running header) or a
few words the page lacks. It does not read a page's tables or figures as such.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LoadError, MissingDependencyError, SourceChangedError
from .types import Box, Document

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_GAP = 300  # characters of page text (letters and digits) a quote may step over between two of its pieces
MAX_SKIPPED = 0.2  # at most this share of a quote's letters and digits may be missing from the page
MIN_MATCH = 16  # letters and digits of a quote that must be found, for a quote at least this long
MIN_PIECE = 8  # letters and digits a piece of a quote needs to count when it does not follow the one before
RENDER_WIDTH = 1000  # pixels, the default width of a rendered page
HIGHLIGHT = (253, 224, 71, 110)  # RGBA fill of a highlighted line
HIGHLIGHT_EDGE = (245, 158, 11, 255)
# pdfium keeps global state and is not thread-safe, even across documents: one call at a time.
_PDFIUM_LOCK = threading.Lock()


@dataclass(frozen=True)
class Glyph:
    """One character on a page and its box."""

    text: str
    box: Box


@dataclass(frozen=True)
class PageText:
    """A page's characters in reading order, with boxes on the page as it lies before `rotation`
    (degrees clockwise) turns it to how it is shown."""

    glyphs: tuple[Glyph, ...]
    rotation: int = 0


@dataclass(frozen=True)
class PageView:
    """Where a span of an indexed PDF stands: its file, its page (1-based) and the quote's boxes there."""

    path: str
    page: int
    quote: str
    boxes: tuple[Box, ...]


def page_view(doc: Document, start: int, end: int) -> PageView | None:
    """The page and boxes of `doc.text[start:end]`, or None for a document that is not a PDF with pages.
    Raises SourceChangedError when the file it was indexed from is gone or changed."""
    page = doc.page_at(start)
    if page is None or doc.origin is None or not doc.origin.lower().endswith(".pdf"):
        return None
    try:
        changed = hashlib.sha256(Path(doc.origin).read_bytes()).hexdigest() != doc.sha256
    except OSError:
        raise SourceChangedError(f"{doc.source}: its file {doc.origin} is gone; re-index it to see its pages") from None
    if changed:
        raise SourceChangedError(f"{doc.source}: its file changed since it was indexed; re-index it (rag index) to see its pages")
    quote = doc.text[start:end]
    return PageView(doc.origin, page, quote, quote_boxes(doc.origin, page, quote))


def quote_boxes(pdf_path: str | os.PathLike, page: int, quote: str) -> tuple[Box, ...]:
    """The boxes of `quote` on `page` (1-based) of the PDF, one per line it runs over, top-left origin,
    as fractions of the page; () when the quote is not on that page. A quote that runs on to the
    next page gets the boxes of its part on this one."""

    def following() -> str:
        try:
            return _hay(page_text(pdf_path, page + 1).glyphs)[0]
        except LoadError:  # no next page
            return ""

    text = page_text(pdf_path, page)
    return tuple(_rotate(box, text.rotation) for box in locate(text.glyphs, quote, following))


def locate(glyphs: tuple[Glyph, ...], quote: str, following: Callable[[], str] = str) -> tuple[Box, ...]:
    """The line boxes of `quote` among `glyphs` (a page's characters in reading order); `following`
    gives the next page's text (as `_hay` folds it) for a quote that runs on to it."""
    hay, where = _hay(glyphs)
    words = [w for w in (_fold(word) for word in quote.split()) if w]
    boxes: list[Box] = []
    for lo, hi in _match(words, hay, following):
        boxes += _lines([glyphs[i].box for i in dict.fromkeys(where[lo:hi])])
    return tuple(boxes)


def _hay(glyphs: tuple[Glyph, ...]) -> tuple[str, list[int]]:
    """The page's folded text, and the glyph each of its characters comes from."""
    hay, where = [], []
    for i, glyph in enumerate(glyphs):
        for ch in _fold(glyph.text):
            hay.append(ch)
            where.append(i)
    return "".join(hay), where


def _fold(text: str) -> str:
    """Only what the match compares: letters and digits, case-folded, ligatures spelled out."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def _match(words: list[str], hay: str, following: Callable[[], str] = str) -> list[tuple[int, int]]:
    """Spans of `hay` that hold `words` in order: the whole quote at once, or piece by piece, each
    piece at least MIN_PIECE long or right after the one before, with at most MAX_GAP between
    pieces and at most MAX_SKIPPED of the quote not found. Words left over where the page ends
    count as found when `following()` (the next page) starts with them."""
    needle = "".join(words)
    if not needle:
        return []
    at = hay.find(needle)
    if at >= 0:
        return [(at, at + len(needle))]
    spans: list[tuple[int, int]] = []
    skipped, tail, i, cursor = 0, 0, 0, None  # tail: the first word after the last piece found
    while i < len(words):
        j, at = _longest(words, i, hay, cursor)
        size = sum(len(w) for w in words[i:j])
        if j > i and (at == cursor or size >= min(MIN_PIECE, len(needle))):
            spans.append((at, at + size))
            cursor, i, tail = at + size, j, j
        else:
            skipped += len(words[i])
            i += 1
    if cursor is not None and tail < len(words) and len(hay) - cursor <= MAX_GAP:
        rest = _match(words[tail:], following())
        if rest and rest[0][0] <= MAX_GAP:  # the next page goes on with the quote
            skipped -= sum(len(w) for w in words[tail:])
    matched = sum(hi - lo for lo, hi in spans)
    if matched < min(MIN_MATCH, len(needle)) or skipped > MAX_SKIPPED * len(needle):
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


def page_text(pdf_path: str | os.PathLike, page: int) -> PageText:
    """The characters of a page in reading order with their boxes: from its text layer, or by OCR
    (`rag.ocr`) when it has no letter or digit in one. Kept for the last 64 pages read."""
    path = Path(pdf_path)
    try:
        stat = path.stat()
    except OSError as err:
        raise LoadError(str(path), f"cannot read file ({err.strerror})") from err
    return _page_text(str(path.resolve()), page, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _page_text(path: str, page: int, size: int, mtime_ns: int) -> PageText:
    with _PDFIUM_LOCK:
        pdf = _open(path)
        try:
            pdf_page = _page(pdf, path, page)
            glyphs = _text_layer(pdf_page)
            if any(_fold(g.text) for g in glyphs):
                return PageText(glyphs, pdf_page.get_rotation())
            from .ocr import OCR_DPI

            image = pdf_page.render(scale=OCR_DPI / 72).to_pil()  # turned as shown
        finally:
            pdf.close()
    return PageText(_ocr_glyphs(image))


def _text_layer(page: Any) -> tuple[Glyph, ...]:
    from pypdfium2 import raw

    left, bottom, right, top = page.get_bbox()
    width, height = right - left, top - bottom
    text_page = page.get_textpage()
    glyphs = []
    try:
        for i in range(text_page.count_chars()):
            ch = chr(raw.FPDFText_GetUnicode(text_page.raw, i))
            if not _fold(ch):
                continue
            x0, y0, x1, y1 = text_page.get_charbox(i, loose=True)
            box = Box((x0 - left) / width, (top - y1) / height, (x1 - left) / width, (top - y0) / height)
            glyphs.append(Glyph(ch, box))
    finally:
        text_page.close()
    return tuple(glyphs)


def _rotate(box: Box, rotation: int) -> Box:
    """A box on the unrotated page as it stands on the page turned `rotation` degrees clockwise (as shown)."""
    if rotation == 90:
        return Box(1 - box.y1, box.x0, 1 - box.y0, box.x1)
    if rotation == 180:
        return Box(1 - box.x1, 1 - box.y1, 1 - box.x0, 1 - box.y0)
    if rotation == 270:
        return Box(box.y0, 1 - box.x1, box.y1, 1 - box.x0)
    return box


def _ocr_glyphs(image: Image) -> tuple[Glyph, ...]:
    """OCR'd lines as characters; each character gets an equal share of its line's width."""
    from .ocr import ocr_image

    width, height = image.size
    glyphs = []
    for line in ocr_image(image):
        x0, y0, x1, y1 = line.box
        step = (x1 - x0) / max(len(line.text), 1)
        for k, ch in enumerate(line.text):
            box = Box((x0 + k * step) / width, y0 / height, (x0 + (k + 1) * step) / width, y1 / height)
            glyphs.append(Glyph(ch, box))
    return tuple(glyphs)


def render_page(pdf_path: str | os.PathLike, page: int, boxes: tuple[Box, ...] = (), width: int = RENDER_WIDTH) -> Image:
    """Page `page` (1-based) as an RGB image `width` pixels wide, with `boxes` highlighted."""
    from PIL import ImageDraw

    path = str(pdf_path)
    with _PDFIUM_LOCK:
        pdf = _open(path)
        try:
            pdf_page = _page(pdf, path, page)
            image = pdf_page.render(scale=width / pdf_page.get_size()[0]).to_pil().convert("RGB")
        finally:
            pdf.close()
    if boxes:
        overlay = ImageDraw.Draw(image, "RGBA")
        w, h = image.size
        for b in boxes:
            overlay.rectangle((b.x0 * w, b.y0 * h, b.x1 * w, b.y1 * h), fill=HIGHLIGHT, outline=HIGHLIGHT_EDGE)
    return image


def _open(path: str) -> Any:
    try:
        import pypdfium2 as pdfium
    except ImportError as err:
        raise MissingDependencyError("pypdfium2", "pip install 'rag-quotes[pdf]'") from err
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as err:
        raise LoadError(path, f"corrupt or unreadable PDF ({err}); re-export it") from err


def _page(pdf: Any, path: str, page: int) -> Any:
    if not 1 <= page <= len(pdf):
        raise LoadError(path, f"has no page {page} (it has {len(pdf)}); give a page from 1 to {len(pdf)}")
    return pdf[page - 1]
