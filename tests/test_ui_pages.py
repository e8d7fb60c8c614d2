"""The source viewer's PDF page, without a browser: the page image with one highlight per line of the
quote at its boxes, the text view for other files, a one-line note when the file is gone or changed,
the LRU cache of rendered pages, and the /ask endpoint's boxes (fast test double)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

pytest.importorskip("gradio")
pytest.importorskip("pypdfium2")

from pdfs import indexed_pdf, paragraph, text_pdf

from rag import Rag
from ui import render
from ui.handlers import Handlers
from ui.pages import PageImages, page_html

PAGE_ONE = ["The Varn River Office", "Annual report for the year 2031."]
PAGE_TWO = ["The customs office in Lenk collected 4,212 crowns in", "the spring, twice the sum of the year before."]


@pytest.fixture
def indexed(tmp_path, fast_settings):
    return indexed_pdf(tmp_path, fast_settings, "report.pdf", [paragraph(PAGE_ONE), paragraph(PAGE_TWO, y=300)])


def _open(ui: Handlers, source: str, start: int, end: int) -> str:
    html, _ = ui.open_source(json.dumps({"doc": render.doc_key(source), "start": start, "end": end}))
    return html


def _span(rag: Rag, source: str, words: str) -> tuple[int, int]:
    text = rag.document(source).text
    start = text.index(words.split()[0])
    return start, text.index(words.split()[-1], start) + len(words.split()[-1])


def test_a_pdf_citation_shows_its_page_with_a_highlight_per_line_over_the_text(indexed):
    rag, source, _ = indexed
    ui = Handlers(rag)
    start, end = _span(rag, source, "collected 4,212 crowns in the spring")
    html = _open(ui, source, start, end)
    assert 'class="rq-page" data-page="2"' in html and "p. 2 · the quote highlighted" in html
    assert re.search(r'<img class="rq-page-img" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', html)
    boxes = rag.page_view(source, start, end).boxes
    marks = re.findall(r'<div class="rq-hl" style="left:([\d.]+)%;top:([\d.]+)%;width:([\d.]+)%;height:([\d.]+)%"', html)
    assert len(marks) == len(boxes) == 2
    for (left, top, width, height), box in zip(marks, boxes, strict=True):
        assert float(left) == pytest.approx(box.x0 * 100, abs=0.001) and float(top) == pytest.approx(box.y0 * 100, abs=0.001)
        assert float(width) == pytest.approx((box.x1 - box.x0) * 100, abs=0.001) and float(height) > 0
    assert html.index("rq-page") < html.index('<mark id="rq-target"')  # the page above the text, which is still there
    assert "collected 4,212 crowns in" in html


def test_other_files_keep_the_text_view(indexed):
    rag, _, _ = indexed
    notes = next(s for s, _ in rag.documents() if s.endswith("notes.txt"))
    html = _open(Handlers(rag), notes, 4, 14)
    assert "rq-page" not in html and '<mark id="rq-target" class="rq-target">Varn river</mark>' in html


def test_a_pdf_that_changed_or_is_gone_shows_the_text_with_a_one_line_note(indexed):
    rag, source, pdf = indexed
    ui = Handlers(rag)
    start, end = _span(rag, source, "collected 4,212 crowns")
    pdf.write_bytes(pdf.read_bytes() + b"\n% edited\n")
    html = _open(ui, source, start, end)
    assert "rq-page-img" not in html and "rq-hl" not in html
    note = re.search(r'<div class="rq-page-note">(.*?)</div>', html).group(1)
    assert "changed since it was indexed; re-index it" in note and "Showing the indexed text." in note
    assert '<mark id="rq-target" class="rq-target">collected 4,212 crowns</mark>' in html
    pdf.unlink()
    assert "is gone; re-index it" in _open(ui, source, start, end)


def test_rendered_pages_are_cached_most_recently_used_first(indexed):
    _, _, pdf = indexed
    pages = PageImages(size=2, width=300)
    first = pages.png(pdf, 1)
    assert first.startswith(b"\x89PNG") and pages.png(pdf, 1) is first  # served from the cache
    second = pages.png(pdf, 2)
    pages.png(pdf, 1)  # page 1 is now the most recent
    text_pdf(pdf.with_name("other.pdf"), [paragraph(["Another file."])])
    pages.png(pdf.with_name("other.pdf"), 1)  # evicts page 2, the least recent
    assert len(pages) == 2 and pages.png(pdf, 1) is first
    assert pages.png(pdf, 2) is not second  # rendered again


def test_the_ask_endpoint_gives_a_pdf_citation_its_page_and_boxes(indexed):
    rag, source, _ = indexed
    answer = Handlers(rag).ask("How many crowns did the customs office in Lenk collect?")
    cited = [c for c in answer["citations"] if c["source"] == source]
    assert cited and all(c["page"] == 2 and c["boxes"] for c in cited)
    assert all(len(box) == 4 and 0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1 for c in cited for box in c["boxes"])


def test_a_quote_not_found_on_the_page_image_says_so_and_draws_no_highlight(indexed):
    from rag.verify.pageview import PageView

    _, _, pdf = indexed
    html = page_html(PageView(str(pdf), 2, "words the page does not hold", ()), b"png", "report.pdf")
    assert "rq-hl" not in html and 'data-page="2"' in html
    assert "the quote was not found on the page image; it is highlighted in the text below" in html


SCAN = ["Annual Report of the Varn River Office", "The customs office in Lenk collected 4,212 crowns",
        "in the spring of 2031, twice the sum of the year", "before. Fishing licences were shared equally."]


def scanned_document(tmp_path):
    """A scanned one-page PDF (no text layer) and its Document as a loader that OCRs it would make."""
    import hashlib

    from pdfs import scanned_pdf

    from rag.types import Document

    path, drawn = scanned_pdf(tmp_path / "scan.pdf", paragraph(SCAN, y=150))
    text = "\n".join(SCAN)
    doc = Document("scan.pdf", text, hashlib.sha256(path.read_bytes()).hexdigest(), ((0, 1),), str(path.resolve()))
    return doc, drawn


@pytest.mark.slow  # runs Tesseract
def test_a_scanned_page_shows_the_quote_highlighted_where_it_was_drawn(tmp_path, fast_settings):
    if shutil.which("tesseract") is None:
        pytest.skip("OCR needs Debian's tesseract-ocr (scripts/test.sh installs it)")
    doc, drawn = scanned_document(tmp_path)
    rag = Rag(fast_settings)
    rag.add_documents([doc])
    start = doc.text.index("collected")
    end = doc.text.index("of 2031") + len("of 2031")
    html = _open(Handlers(rag), doc.source, start, end)
    assert 'class="rq-page" data-page="1"' in html and "p. 1 · the quote highlighted" in html
    marks = re.findall(r'<div class="rq-hl" style="left:([\d.]+)%;top:([\d.]+)%;width:([\d.]+)%;height:([\d.]+)%"', html)
    assert len(marks) == 2
    (left1, top1, _, height1), (left2, top2, _, _) = ((float(v) / 100 for v in m) for m in marks)
    assert top1 == pytest.approx(drawn[1][1], abs=0.01) and top1 + height1 == pytest.approx(drawn[1][3], abs=0.01)
    assert top2 == pytest.approx(drawn[2][1], abs=0.01) and left2 == pytest.approx(drawn[2][0], abs=0.01)
    assert drawn[1][0] + 0.2 < left1 < drawn[1][2]  # "collected" starts in the middle of its line
