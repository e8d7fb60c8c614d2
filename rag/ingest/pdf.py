"""PDF pages and image files to text, with pypdfium2 for the text layer and Tesseract (rag.ingest.ocr)
for pages that have none.

A page's text is read from its positioned characters, laid out by rag.ingest.layout: reading order
across columns, table rows with their headers, page furniture left out, hyphenated words joined.
Words are split where the PDF has a space character or a gap wider than the line's letter spacing
(`_line`): a browser's print to PDF draws no space characters at all.
A page without a text layer is rendered at `OCR_DPI` (`page.render(scale=OCR_DPI / 72)`, pdfium's
defaults) and OCR'd, pages in parallel; its text is `rag.ingest.layout.page_text` of `rag.ingest.ocr.ocr_image`'s
lines less the furniture, and its spans are recorded in `Extracted.ocr` with each line's confidence. Without the OCR extra, a PDF with no
text layer at all is skipped ("no text layer; install rag-quotes[ocr]"); one with some text
keeps the pages that have it.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from ..errors import LoadError, MissingDependencyError
from . import ocr
from .budget import too_large
from .layout import Extracted, Line, PageText, Piece, furniture, page_text, reading_order
from .metadata import pdf_properties

NO_TEXT_LAYER = "no text layer; install rag-quotes[ocr]"
ENCRYPTED = "encrypted (password-protected); save an unencrypted copy and index that"
PASSWORD_ERROR = 4  # pdfium's FPDF_ERR_PASSWORD: the file needs a password to open
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
WORD_EXCESS = 0.1  # of the line's height: a gap this much wider than the line's gaps between letters is a space
GENERATED_EXCESS = 0.05  # ... or this much, where pdfium put a word break
WORD_GAP = 0.25  # of the line's height: a line whose gaps are all this wide or wider, and alike, is one-letter words
MIN_GAPS = 4  # gaps between letters a line needs for its letter spacing to be measured (else 0)
PIECE_GAP = 1.5  # of the line's height: a wider gap ends a piece (a column gutter, a table cell)
MAX_PAGE_PIXELS = 40_000_000  # an A3 page at 200 dpi is 7.8 million


def pdf_to_text(data: bytes, source: str, max_chars: int, *, progress: bool = False) -> Extracted:
    document = _open(data, source)
    try:
        properties = pdf_properties(document)
        pages = _text_layer(document, source, max_chars)
        scanned = [n for n, (lines, _) in enumerate(pages) if not lines]
        if scanned and not ocr.available():
            if len(scanned) == len(pages):
                raise LoadError(source, NO_TEXT_LAYER)
            scanned = []  # the pages with text are indexed; the image-only ones cannot be read
        if scanned:
            scales = {n: render_scale(*document[n].get_size()) for n in scanned}
            images = (document[n].render(scale=scales[n]).to_pil() for n in scanned)
            for n, read in zip(scanned, _ocr(images, len(scanned), source, progress)):
                pages[n] = (read, pages[n][1] * scales[n])
    except LoadError:
        raise
    except Exception as err:
        raise LoadError(source, f"corrupt or unreadable PDF ({err.__class__.__name__}); re-export it") from err
    finally:
        document.close()
    return replace(assemble(lay_out(pages, set(scanned))), properties=properties)


def _open(data: bytes, source: str):
    try:
        import pypdfium2 as pdfium
    except ImportError as err:  # pragma: no cover - pypdfium2 is a core dependency
        raise MissingDependencyError("pypdfium2", "pip install pypdfium2") from err
    try:
        return pdfium.PdfDocument(data)
    except Exception as err:  # pdfium raises PdfiumError on a hostile file; this file's problem only
        raise LoadError(source, unreadable(err)) from err


def unreadable(err: Exception) -> str:
    """Why pdfium could not open a PDF, as a skip reason that says what to do."""
    if getattr(err, "err_code", None) == PASSWORD_ERROR:
        return ENCRYPTED
    return f"corrupt or unreadable PDF ({err.__class__.__name__}); re-export it"


def _text_layer(document, source: str, max_chars: int) -> list[tuple[Sequence[Piece], float]]:
    """(text-layer pieces, height in points) of every page; stops once the text passes `max_chars`."""
    pages: list[tuple[Sequence[Piece], float]] = []
    total = 0
    for number in range(len(document)):
        page = document[number]
        height = page.get_size()[1]
        lines = text_lines(page, height)
        total += sum(len(line.text) for line in lines)
        if total > max_chars:
            raise too_large(source, total, max_chars)
        pages.append((lines, height))
    return pages


def render_scale(width: float, height: float, scale: float | None = None) -> float:
    """Pixels per point to render a page at: `scale` (default `OCR_DPI`, for OCR), less for a page
    so large that it would pass `MAX_PAGE_PIXELS` (a hostile MediaBox must not allocate gigabytes)."""
    scale = ocr.OCR_DPI / 72 if scale is None else scale
    pixels = width * height * scale * scale
    return scale if pixels <= MAX_PAGE_PIXELS else scale * (MAX_PAGE_PIXELS / pixels) ** 0.5


def image_to_text(data: bytes, source: str, *, progress: bool = False) -> Extracted:
    """An image file (each frame of a TIFF a page), OCR'd."""
    try:
        from PIL import Image, ImageSequence
    except ImportError as err:
        raise LoadError(source, NO_TEXT_LAYER) from err
    try:
        with Image.open(io.BytesIO(data)) as image:
            frames = [frame.convert("L") for frame in ImageSequence.Iterator(image)]
    except Exception as err:  # PIL's errors, a decompression bomb among them
        raise LoadError(source, f"unreadable image ({err.__class__.__name__}); re-save it as PNG") from err
    if not ocr.available():
        raise LoadError(source, NO_TEXT_LAYER)
    pages: list[tuple[Sequence[Piece], float]] = []
    for frame, lines in zip(frames, _ocr(iter(frames), len(frames), source, progress)):
        pages.append((lines, float(frame.height)))
    return assemble(lay_out(pages, set(range(len(pages)))))


def _ocr(images, total: int, source: str, progress: bool) -> list[tuple[ocr.OcrLine, ...]]:
    try:
        return ocr.ocr_pages(images, total, progress=progress)
    except LoadError as err:
        raise LoadError(source, err.reason) from err


@dataclass(frozen=True)
class PageLayout:
    """One page as indexed: its pieces in reading order (furniture left out), their text, and where
    that text starts in the document's (None: the page gave none)."""

    number: int
    pieces: tuple[Piece, ...]
    text: PageText
    start: int | None
    ocr: bool


def lay_out(pages: Sequence[tuple[Sequence[Piece], float]], scanned: set[int]) -> list[PageLayout]:
    """Pages of pieces to laid-out pages: furniture out, reading order, text; pages joined by a blank line."""
    drop = furniture(pages)
    layouts: list[PageLayout] = []
    offset = 0
    for number, ((pieces, _), dropped) in enumerate(zip(pages, drop)):
        kept = [p for i, p in enumerate(pieces) if i not in dropped]
        ordered = kept if number in scanned else reading_order(kept)  # OCR lines come in reading order
        laid: PageText = page_text(ordered)
        start = None
        if laid.text.strip():
            start = offset + 2 if offset else 0
            offset = start + len(laid.text)
        layouts.append(PageLayout(number + 1, tuple(ordered), laid, start, number in scanned))
    return layouts


def assemble(layouts: Sequence[PageLayout]) -> Extracted:
    parts: list[str] = []
    starts: list[tuple[int, int]] = []
    ocr_spans: list[tuple[int, int, float]] = []
    rows: list[tuple[int, int]] = []
    for page in layouts:
        if page.start is None:
            continue
        parts.append(page.text.text)
        starts.append((page.start, page.number))
        if page.ocr:
            for piece, span in zip(page.pieces, page.text.spans):
                if span is not None:
                    ocr_spans.append((page.start + span[0], page.start + span[1], float(getattr(piece, "confidence", 1.0))))
        rows += [(page.start + s, page.start + e) for s, e in page.text.rows]
    return Extracted("\n\n".join(parts), tuple(starts), tuple(ocr_spans), tuple(rows))


class _Char(NamedTuple):  # a tuple, not a dataclass: one is made per character of every page
    """A character of a piece being read, and what stands between it and the one before: a space
    character, a word break pdfium generated, and the gap between their boxes."""

    text: str
    box: tuple[float, float, float, float]
    space: bool = False
    generated: bool = False
    gap: float = 0.0


def text_lines(page, height: float) -> list[Line]:
    """The page's text layer as pieces: characters on one baseline, split at wide gaps."""
    from pypdfium2 import raw

    textpage = page.get_textpage()
    try:
        pieces: list[list[_Char]] = []
        box = (0.0, 0.0, 0.0, 0.0)  # of the piece being read
        space = generated = False
        for i in range(textpage.count_chars()):
            code = raw.FPDFText_GetUnicode(textpage.raw, i)
            if raw.FPDFText_IsGenerated(textpage.raw, i) == 1:
                generated = generated or code in (9, 10, 13, 32)  # pdfium's guess, judged by its font's space width
                continue
            if code == 2:  # pdfium's mark for a hyphen that ends a line
                code = ord("-")
            if code <= 32 or code == 0xFFFE or 0xD800 <= code <= 0xDFFF:
                space = space or code in (9, 10, 13, 32)
                continue
            left, bottom, right, top = textpage.get_charbox(i, loose=True)  # advance widths: no gaps inside words
            x0, y0, x1, y1 = left, height - top, right, height - bottom
            if pieces:
                size = max(y1 - y0, box[3] - box[1], 1e-6)
                same_line = abs((y0 + y1) / 2 - (box[1] + box[3]) / 2) < size / 2
                gap = x0 - box[2]
                if same_line and x0 >= box[0] and gap <= PIECE_GAP * size:  # a ligature's letters share one box
                    pieces[-1].append(_Char(chr(code), (x0, y0, x1, y1), space, generated, gap))
                    box = (min(box[0], x0), min(box[1], y0), max(box[2], x1), max(box[3], y1))
                    space = generated = False
                    continue
            pieces.append([_Char(chr(code), (x0, y0, x1, y1))])
            box, space, generated = (x0, y0, x1, y1), False, False
        return [_line(chars) for chars in pieces]
    finally:
        textpage.close()


def _line(chars: list[_Char]) -> Line:
    """A piece's characters as text, with a space where the PDF has one, or where the gap before a
    character is a word's: wider than the line's usual gap between letters (its letter spacing, the
    median) by `WORD_EXCESS` of its height, or by `GENERATED_EXCESS` where pdfium saw a word break
    too. A browser draws no space character between words, and in letter-spaced text the gaps
    inside words are wide (pdfium sees word breaks there). A line whose gaps are all alike and
    wider than `WORD_GAP` is words of one letter ("a b c"): each gap is a space."""
    x0, y0 = min(c.box[0] for c in chars), min(c.box[1] for c in chars)
    x1, y1 = max(c.box[2] for c in chars), max(c.box[3] for c in chars)
    size = max(y1 - y0, 1e-6)
    letter_gaps = [c.gap for c in chars[1:] if not c.space]
    spacing = statistics.median(letter_gaps) if len(letter_gaps) >= MIN_GAPS else 0.0
    if spacing > WORD_GAP * size and max(letter_gaps) <= spacing + WORD_EXCESS * size:
        spacing = 0.0
    text = []
    for n, c in enumerate(chars):
        excess = (c.gap - spacing) / size
        if n and (c.space or excess > WORD_EXCESS or (c.generated and excess > GENERATED_EXCESS)):
            text.append(" ")
        text.append(c.text)
    return Line("".join(text), (x0, y0, x1, y1))
