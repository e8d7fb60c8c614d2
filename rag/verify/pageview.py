"""Where a quote stands on its PDF page: the quote found among the page's characters at view time,
its boxes (one per line), and the page rendered as an image with them highlighted.

The quote is matched against what pdfium reads from the page now (or, for a page with no text
layer, what `rag.ingest.ocr` reads from its image), never against how the indexed text was extracted, so
the boxes stay right whatever the loaders do to the text: the match ignores case, whitespace, line
breaks, hyphens and punctuation, and steps over a line the quote lacks (a running header) or a
few words the page lacks. It does not read a page's tables or figures as such.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LoadError, MissingDependencyError, RagError, SourceChangedError
from ..ingest.ocr import ocr_image
from ..ingest.pdf import ENCRYPTED, PASSWORD_ERROR, render_scale
from ..types import Answer, Box, Citation, Document
from .locate import Glyph, fold, folded, locate

if TYPE_CHECKING:
    from PIL.Image import Image

RENDER_WIDTH = 1000  # pixels, the default width of a rendered page
HIGHLIGHT = (253, 224, 71, 110)  # RGBA fill of a highlighted line
HIGHLIGHT_EDGE = (245, 158, 11, 255)
# pdfium keeps global state and is not thread-safe, even across documents: one call at a time.
_PDFIUM_LOCK = threading.Lock()


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


def with_boxes(answer: Answer, boxes_of: Callable[[Citation], tuple[Box, ...]]) -> Answer:
    """`answer` with `boxes_of(citation)` filled into each verified citation that has a page (in
    `citations` and in each claim's); a RagError leaves that citation without boxes and says why in `issues`."""
    import dataclasses

    boxed: dict[Citation, Citation] = {}
    issues = list(answer.issues)

    def fill(c: Citation) -> Citation:
        if c not in boxed:
            boxes: tuple[Box, ...] = ()
            if c.verified and c.page is not None:
                try:
                    boxes = boxes_of(c)
                except RagError as err:
                    issues.append(f"no boxes for [{c.marker}]: {err}")
            boxed[c] = dataclasses.replace(c, boxes=boxes)
        return boxed[c]

    claims = tuple(dataclasses.replace(cl, citations=tuple(map(fill, cl.citations))) for cl in answer.claims)
    citations = tuple(map(fill, answer.citations))
    return dataclasses.replace(answer, citations=citations, claims=claims, issues=tuple(dict.fromkeys(issues)))


def quote_boxes(pdf_path: str | os.PathLike, page: int, quote: str) -> tuple[Box, ...]:
    """The boxes of `quote` on `page` (1-based) of the PDF, one per line it runs over, top-left origin,
    as fractions of the page (cut to it); () when the quote is not on that page. A quote that runs on to the
    next page gets the boxes of its part on this one."""

    def following() -> str:
        try:
            return folded(page_text(pdf_path, page + 1).glyphs)[0]
        except RagError:  # no next page, or one that cannot be read (a scan without OCR installed)
            return ""

    text = page_text(pdf_path, page)
    boxes = (_on_page(_rotate(box, text.rotation)) for box in locate(text.glyphs, quote, following))
    return tuple(box for box in boxes if box is not None)


def _on_page(box: Box) -> Box | None:
    """`box` cut to the page (text may be drawn past its edges, and a glyph's box stand above the
    top); None when nothing of it is on the page."""
    x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in (box.x0, box.y0, box.x1, box.y1))
    return Box(x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def page_text(pdf_path: str | os.PathLike, page: int) -> PageText:
    """The characters of a page in reading order with their boxes: from its text layer, or by OCR
    (`rag.ingest.ocr`) when it has no letter or digit in one. Kept for the last 64 pages read."""
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
            if any(fold(g.text) for g in glyphs):
                return PageText(glyphs, pdf_page.get_rotation())

            # as the loader rendered it for OCR (its pixel cap too), turned as shown
            image = pdf_page.render(scale=render_scale(*pdf_page.get_size())).to_pil()
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
            if not ch.isprintable() or ch.isspace():  # line ends, pdfium's soft-hyphen mark
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
    width, height = image.size
    glyphs = []
    for line in ocr_image(image):
        x0, y0, x1, y1 = line.box
        step = (x1 - x0) / max(len(line.text), 1)
        for k, ch in enumerate(line.text):
            if ch.isspace():
                continue
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

            w, h = pdf_page.get_size()
            image = pdf_page.render(scale=render_scale(w, h, width / w)).to_pil().convert("RGB")  # pixels capped
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
        raise MissingDependencyError("pypdfium2", "pip install pypdfium2") from err
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as err:
        reason = ENCRYPTED if err.err_code == PASSWORD_ERROR else f"corrupt or unreadable PDF ({err}); re-export it"
        raise LoadError(path, reason) from err


def _page(pdf: Any, path: str, page: int) -> Any:
    if not 1 <= page <= len(pdf):
        raise LoadError(path, f"has no page {page} (it has {len(pdf)}); give a page from 1 to {len(pdf)}")
    return pdf[page - 1]
