"""The page of a PDF citation in the source viewer: the page image with the quote's lines
highlighted over it, rendered pages kept in a small LRU cache.

The highlight is a positioned <div> per line over the <img> (percentages of the page, so it
scales with the panel), not pixels drawn into the image: the page a browser shows can be checked.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from collections import OrderedDict
from pathlib import Path

from rag import Rag, RagError
from rag.types import Document
from rag.verify.pageview import PageView, render_page

from .render import esc, short_name

PAGE_WIDTH = 1000  # pixels the page is rendered at; the panel scales it down
CACHED_PAGES = 32
PAGE_COLOURS = 64


class PageImages:
    """PNGs of rendered PDF pages, the CACHED_PAGES most recently shown kept (thread-safe)."""

    def __init__(self, size: int = CACHED_PAGES, width: int = PAGE_WIDTH):
        self.size, self.width = size, width
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def png(self, path: str | os.PathLike, page: int) -> bytes:
        stat = Path(path).stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, page, self.width)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        out = io.BytesIO()
        # 64 colours: a text page's PNG shrinks about tenfold (371 to ~35 KiB at 1000 px), figures stay legible
        render_page(path, page, width=self.width).quantize(PAGE_COLOURS).save(out, format="PNG")
        png = out.getvalue()
        with self._lock:
            self._cache[key] = png
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return png

    def __len__(self) -> int:
        return len(self._cache)

    def page_html(self, rag: Rag, doc: Document | None, start: int, end: int) -> str:
        """The page of `doc` that [start, end) stands on, with the quote highlighted; a one-line
        note when the page cannot be shown (file gone or changed); "" for a document without pages."""
        if doc is None:
            return ""
        try:
            view = rag.page_view(doc.source, start, end)
            if view is None:
                return ""
            png = self.png(view.path, view.page)
        except (RagError, OSError) as err:
            return f'<div class="rq-page-note">⚠ {esc(str(err))}. Showing the indexed text.</div>'
        return page_html(view, png, short_name(doc.source))


def page_html(view: PageView, png: bytes, name: str) -> str:
    """The page image with one highlight <div> per line of the quote."""
    marks = "".join(
        f'<div class="rq-hl" style="left:{b.x0 * 100:.3f}%;top:{b.y0 * 100:.3f}%;'
        f'width:{(b.x1 - b.x0) * 100:.3f}%;height:{(b.y1 - b.y0) * 100:.3f}%"></div>'
        for b in view.boxes
    )
    note = f"p. {view.page} · the quote highlighted" if view.boxes else (
        f"p. {view.page} · the quote was not found on the page image; it is highlighted in the text below"
    )
    image = f'data:image/png;base64,{base64.b64encode(png).decode("ascii")}'
    return (
        f'<div class="rq-page" data-page="{view.page}"><div class="rq-meta rq-page-head">{esc(note)}</div>'
        f'<div class="rq-page-scroll"><div class="rq-page-frame">'
        f'<img class="rq-page-img" src="{image}" alt="page {view.page} of {esc(name)}">{marks}</div></div></div>'
    )
