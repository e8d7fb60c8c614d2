"""Where a quote stands on its PDF page (rag.verify.pageview): boxes found by matching the quote among the
page's characters (pdfium's text layer, or OCR for a scan), checked against where the test drew the
text; the rendered page with its highlight; Rag's on-demand boxes for citations."""

from __future__ import annotations

import re
import shutil

import pytest

pytest.importorskip("pypdfium2")

from pdfs import A4, LEADING, SIZE, Line, indexed_pdf, paragraph, scanned_pdf, text_pdf, text_width

from rag import Rag
from rag.errors import LoadError, SourceChangedError
from rag.types import Answer, Box, Citation
from rag.verify.locate import Glyph, locate
from rag.verify.pageview import page_text, quote_boxes, render_page

PAGE_ONE = [
    "The Zorblat treaty was signed in 2031 by Freedonia",
    "and Sylvania. It ended forty years of border dis-",
    "putes along the Varn river. “Quoted” final words.",
]
PAGE_TWO = ["Under the treaty, both countries share the fishing", "grounds and hold a joint customs office in Lenk."]
TOL = 0.012  # of the page: about 7 points across, 10 down


@pytest.fixture
def pdf(tmp_path):
    return text_pdf(tmp_path / "zorblat.pdf", [paragraph(PAGE_ONE), paragraph(PAGE_TWO, y=200)])


def _x(points: float) -> float:
    return points / A4[0]


def _y(points: float) -> float:
    return points / A4[1]


def test_a_quote_on_one_line_gets_one_box_where_it_was_drawn(pdf):
    (box,) = quote_boxes(pdf, 1, "signed in 2031 by Freedonia")
    assert box.x0 == pytest.approx(_x(72 + text_width("The Zorblat treaty was ")), abs=TOL)
    assert box.x1 == pytest.approx(_x(72 + text_width(PAGE_ONE[0])), abs=TOL)
    assert box.y0 < _y(100) < box.y1  # the baseline of the first line runs through it
    assert box.y1 - box.y0 == pytest.approx(_y(SIZE), rel=0.35)


def test_a_quote_over_two_lines_and_a_hyphen_break_gets_one_box_per_line(pdf):
    first, second = quote_boxes(pdf, 1, "It ended forty years of border disputes along the Varn river.")
    assert first.x0 == pytest.approx(_x(72 + text_width("and Sylvania. ")), abs=TOL)
    assert first.x1 == pytest.approx(_x(72 + text_width(PAGE_ONE[1])), abs=TOL)
    assert second.x0 == pytest.approx(_x(72), abs=TOL)
    assert second.x1 == pytest.approx(_x(72 + text_width("putes along the Varn river.")), abs=TOL)
    assert first.y0 < _y(100 + LEADING) < first.y1 and second.y0 < _y(100 + 2 * LEADING) < second.y1
    assert second.y0 >= first.y1 - 0.002  # the second line's box stands below the first


def test_the_match_ignores_case_whitespace_line_breaks_hyphens_punctuation_and_ligatures(pdf):
    spelled = quote_boxes(pdf, 1, "signed  in 2031 by\nFREEDONIA and Syl-\nvania")
    assert len(spelled) == 2 and spelled[0].x0 == pytest.approx(_x(72 + text_width("The Zorblat treaty was ")), abs=TOL)
    assert len(quote_boxes(pdf, 1, '"Quoted" \ufb01nal words')) == 1  # straight quotes, the ﬁ ligature


def test_boxes_of_text_drawn_past_the_page_edges_stay_on_the_page(tmp_path):
    """A line whose glyph boxes stand above the top, and one that runs off the right edge: each box
    is cut to the page, so a viewer never draws outside the page image."""
    edges = text_pdf(tmp_path / "edges.pdf", [[Line("Edge words run off the top of the page here", 72, 4),
                                               Line("and these words run far off the right edge of the sheet", 420, 300)]])
    (top,) = quote_boxes(edges, 1, "Edge words run off the top")
    (right,) = quote_boxes(edges, 1, "run far off the right edge of the sheet")
    for box in (top, right):
        assert 0 <= box.x0 < box.x1 <= 1 and 0 <= box.y0 < box.y1 <= 1
    assert top.y0 == 0 and top.x0 == pytest.approx(_x(72), abs=TOL)
    assert right.x1 == 1 and right.y0 == pytest.approx(_y(300 - SIZE), abs=TOL)


def test_a_quote_not_on_the_page_has_no_boxes(pdf):
    assert quote_boxes(pdf, 1, "Under the treaty, both countries share the fishing grounds") == ()  # it is on page 2
    assert quote_boxes(pdf, 1, "The customs office collected taxes from every ship on the river.") == ()
    assert quote_boxes(pdf, 1, "") == ()
    on_two = quote_boxes(pdf, 2, "Under the treaty, both countries share the fishing grounds")
    assert len(on_two) == 2 and on_two[0].y0 < _y(200) < on_two[0].y1


def test_a_header_line_in_between_is_stepped_over_and_not_highlighted(tmp_path):
    # content order: body line, running header (drawn at the top), next body line, as a loader that
    # drops page furniture gives the quote without the header
    lines = [Line("The delegates agreed to meet again in Putrajaya", 72, 300),
             Line("QUARTERLY BULLETIN OF THE VARN RIVER OFFICE 2031", 72, 40),
             Line("in June, after the monsoon season had ended.", 72, 300 + LEADING)]
    pdf = text_pdf(tmp_path / "header.pdf", [lines])
    boxes = quote_boxes(pdf, 1, "The delegates agreed to meet again in Putrajaya in June, after the monsoon")
    assert len(boxes) == 2
    assert all(b.y0 > _y(200) for b in boxes)  # nothing over the header at the top of the page
    # and a quote that keeps a line the page lacks (a header of another page) is found too
    kept = quote_boxes(pdf, 1, "agreed to meet again in Putrajaya Page 7 of 9 in June, after the monsoon season had ended.")
    assert len(kept) == 2


def test_a_quote_that_runs_on_to_the_next_page_is_boxed_on_its_first(tmp_path):
    pdf = text_pdf(tmp_path / "run-on.pdf", [
        [Line("The customs office in Lenk opens at nine", 72, 780), Line("Page 1", 290, 820)],
        [Line("and closes at five on weekdays.", 72, 100)],
    ])  # fmt: skip
    (box,) = quote_boxes(pdf, 1, "The customs office in Lenk opens at nine and closes at five on weekdays.")
    assert box.y0 < _y(780) < box.y1
    assert quote_boxes(pdf, 1, "The customs office in Lenk opens at ten and closes at noon on Sundays.") == ()


def test_a_rotated_page_gets_its_boxes_as_shown(tmp_path):
    pypdfium2 = pytest.importorskip("pypdfium2")
    path = text_pdf(tmp_path / "plain.pdf", [paragraph(PAGE_ONE)])
    doc = pypdfium2.PdfDocument(str(path))
    doc[0].set_rotation(90)
    doc.save(str(tmp_path / "turned.pdf"))
    doc.close()
    (box,) = quote_boxes(tmp_path / "turned.pdf", 1, "signed in 2031 by Freedonia")
    image = render_page(tmp_path / "turned.pdf", 1, width=800)
    assert image.width == 800 and image.height < image.width  # landscape as shown
    assert _ink(image, box) > 0.05 and _ink(image, Box(box.x0, box.y1 + 0.05, box.x1, box.y1 + 0.1)) < 0.01


def _pixels(image, box: Box):
    """The RGB pixels of `image` inside `box`, as an (n, 3) array."""
    import numpy as np

    w, h = image.size
    crop = image.convert("RGB").crop((round(box.x0 * w), round(box.y0 * h), round(box.x1 * w), round(box.y1 * h)))
    return np.asarray(crop).reshape(-1, 3).astype(int)


def _ink(image, box: Box) -> float:
    """The share of dark pixels of `image` inside `box`."""
    return float((_pixels(image, box).sum(axis=1) < 384).mean())


def _yellow(image, box: Box) -> float:
    """The share of highlight-yellow pixels of `image` inside `box`."""
    p = _pixels(image, box)
    return float(((p[:, 0] > 200) & (p[:, 1] > 180) & (p[:, 2] < 200)).mean())


def test_render_page_draws_the_highlight_over_the_quote(pdf):
    boxes = quote_boxes(pdf, 1, "It ended forty years of border disputes")
    plain = render_page(pdf, 1, width=600)
    lit = render_page(pdf, 1, boxes, width=600)
    assert plain.size == lit.size == (600, round(600 * A4[1] / A4[0]))
    assert len(boxes) == 2
    for box in boxes:
        assert _ink(plain, box) > 0.05 and _yellow(plain, box) == 0  # the text is under the box
        assert _yellow(lit, box) > 0.5  # and the highlight over it
    outside = Box(0.1, 0.3, 0.9, 0.9)
    assert _yellow(lit, outside) == _yellow(plain, outside) == 0


def test_a_page_that_is_not_there_is_a_one_line_error(pdf, tmp_path):
    with pytest.raises(LoadError, match="has no page 3 .it has 2.; give a page from 1 to 2"):
        quote_boxes(pdf, 3, "anything")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(LoadError, match="corrupt or unreadable PDF"):
        quote_boxes(bad, 1, "anything")


def test_locate_merges_characters_into_lines_in_reading_order():
    glyphs = tuple(Glyph(ch, Box(0.1 + 0.01 * i, 0.1, 0.11 + 0.01 * i, 0.12)) for i, ch in enumerate("abc def"))
    glyphs += tuple(Glyph(ch, Box(0.1 + 0.01 * i, 0.13, 0.11 + 0.01 * i, 0.15)) for i, ch in enumerate("ghi"))
    assert [b.to_list() for b in locate(glyphs, "def ghi")] == [[0.14, 0.1, 0.17, 0.12], [0.1, 0.13, 0.13, 0.15]]
    assert locate(glyphs, "xyz") == ()
    # a closing mark is highlighted with the quote when the quote has one, an opening one too
    marked = tuple(Glyph(ch, Box(0.1 + 0.01 * i, 0.1, 0.11 + 0.01 * i, 0.12)) for i, ch in enumerate("a (bcd), efg."))
    assert [b.to_list() for b in locate(marked, "efg.")] == [[0.19, 0.1, 0.23, 0.12]]
    assert [b.to_list() for b in locate(marked, "efg")] == [[0.19, 0.1, 0.22, 0.12]]
    assert [b.to_list() for b in locate(marked, "(bcd)")] == [[0.12, 0.1, 0.17, 0.12]]
    # tight leading: the next line's middle falls inside this line's height, but it starts back at the left
    tight = tuple(Glyph(ch, Box(0.1 + 0.01 * i, 0.10, 0.11 + 0.01 * i, 0.14)) for i, ch in enumerate("abc"))
    tight += tuple(Glyph(ch, Box(0.1 + 0.01 * i, 0.125, 0.11 + 0.01 * i, 0.155)) for i, ch in enumerate("def"))
    assert len(locate(tight, "abc def")) == 2


# a page with no text layer: OCR (rag.ingest.ocr) ---------------------------------------------------------

SCAN = ["Annual Report of the Varn River Office", "The customs office in Lenk collected 4,212 crowns",
        "in the spring of 2031, twice the sum of the year", "before. Fishing licences were shared equally."]


@pytest.mark.slow  # runs Tesseract
def test_a_scanned_page_is_read_by_ocr_and_the_quote_boxed_where_it_was_drawn(tmp_path):
    if shutil.which("tesseract") is None:
        pytest.skip("OCR needs Debian's tesseract-ocr (scripts/test.sh installs it)")
    from rag.ingest.ocr import OCR_DPI, ocr_image

    path, drawn = scanned_pdf(tmp_path / "scan.pdf", paragraph(SCAN, y=150))
    text = page_text(path, 1)
    assert "customsofficeinLenk" in "".join(g.text for g in text.glyphs).replace(" ", "") and text.rotation == 0
    first, second = quote_boxes(path, 1, "The customs office in Lenk collected 4,212 crowns in the spring of 2031")
    for box, ink in ((first, drawn[1]), (second, drawn[2])):
        assert box.y0 == pytest.approx(ink[1], abs=0.01) and box.y1 == pytest.approx(ink[3], abs=0.01)
        assert box.x0 == pytest.approx(ink[0], abs=0.01)
    assert first.x1 == pytest.approx(drawn[1][2], abs=0.01)  # the whole second line
    assert second.x1 < drawn[2][2] - 0.1  # "in the spring of 2031" is only part of the third line
    assert quote_boxes(path, 1, "The harbour master sold the lighthouse to the navy in 1999.") == ()

    import pypdfium2

    image = pypdfium2.PdfDocument(str(path))[0].render(scale=OCR_DPI / 72).to_pil()
    lines = ocr_image(image)
    assert lines == ocr_image(image)  # deterministic
    assert len(lines) == 4 and all(0.5 < line.confidence <= 1 for line in lines)
    x0, _, _, y1 = lines[0].box
    assert x0 == pytest.approx(drawn[0][0] * image.width, abs=10) and y1 == pytest.approx(drawn[0][3] * image.height, abs=10)


# on demand through Rag ----------------------------------------------------------------------------


def test_rag_boxes_a_pdf_citation_on_its_page_and_stops_once_the_file_changes(tmp_path, fast_settings):
    rag, source, path = indexed_pdf(tmp_path, fast_settings, "zorblat.pdf", [paragraph(PAGE_ONE), paragraph(PAGE_TWO, y=200)])
    doc = rag.document(source)
    assert doc is not None
    start = doc.text.index("both countries")
    end = doc.text.index("Lenk.") + len("Lenk.")
    citation = Citation(1, source, start, end, doc.text[start:end], True, page=doc.page_at(start))
    assert citation.page == 2

    view = rag.page_view(source, start, end)
    assert view is not None and view.page == 2 and view.path == str(path.resolve()) and len(view.boxes) == 2
    assert rag.quote_boxes(citation) == view.boxes
    answer = Answer("q", "q", "They share the grounds [1].", (citation,), (), False, "extractive")
    cited = rag.with_boxes(answer).to_dict()["citations"][0]
    assert cited["page"] == 2 and cited["boxes"] == [b.to_list() for b in view.boxes]
    assert all(0 <= v <= 1 for box in cited["boxes"] for v in box)
    assert answer.to_dict()["citations"][0]["boxes"] == []  # nothing is computed unless asked for

    notes = next(s for s, _ in rag.documents() if s.endswith("notes.txt"))
    assert rag.page_view(notes, 0, 10) is None

    path.write_bytes(path.read_bytes() + b"\n% changed\n")
    with pytest.raises(SourceChangedError, match="changed since it was indexed; re-index it"):
        rag.page_view(source, start, end)
    assert rag.quote_boxes(citation) == ()
    path.unlink()
    with pytest.raises(SourceChangedError, match="is gone; re-index it"):
        rag.page_view(source, start, end)


def test_a_page_that_cannot_be_read_leaves_the_answer_standing_and_says_why(tmp_path, fast_settings, monkeypatch):
    from rag.errors import MissingDependencyError
    from rag.verify import pageview

    docs = tmp_path / "docs"
    docs.mkdir()
    text_pdf(docs / "zorblat.pdf", [paragraph(PAGE_ONE)])
    rag = Rag(fast_settings)
    rag.index([docs])
    (source, _), = rag.documents()
    doc = rag.document(source)
    start = doc.text.index("signed")
    citation = Citation(1, source, start, start + 14, doc.text[start:start + 14], True, page=1)
    unverified = Citation(2, source, start, start + 14, "retyped words", False, page=1)
    answer = Answer("q", "q", "Signed [1].", (citation, unverified), (), False, "extractive")
    assert [len(c.boxes) for c in rag.with_boxes(answer).citations] == [1, 0]  # only a verified quote gets boxes

    def missing(path):
        raise MissingDependencyError("pypdfium2", "pip install pypdfium2")

    monkeypatch.setattr(pageview, "_open", missing)
    pageview._page_text.cache_clear()
    boxed = rag.with_boxes(answer)
    assert boxed.citations[0].boxes == () and boxed.text == answer.text
    assert boxed.issues == ("no boxes for [1]: pypdfium2 is not installed: run `pip install pypdfium2`",)


def test_rag_ask_prints_the_page_beside_a_pdf_source_and_json_has_the_boxes(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from conftest import ROOT

    docs = tmp_path / "docs"
    docs.mkdir()
    text_pdf(docs / "zorblat.pdf", [paragraph(PAGE_ONE), paragraph(PAGE_TWO, y=200)])
    index = str(tmp_path / "index")

    def rag_cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "rag.cli", *args, "--index", index, "--model", "test-hash"],
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                              text=True, timeout=120, check=True)
        return done.stdout

    rag_cli("index", str(docs))
    question = "What do both countries share under the treaty?"
    printed = rag_cli("ask", question)
    assert re.search(r"\[1\] docs/zorblat\.pdf( \([^)\n]*\))? p\. 2 chars \d+-\d+ \(verified\)", printed)
    cited = json.loads(rag_cli("ask", question, "--json"))["citations"][0]
    assert cited["page"] == 2 and "both countries share" in cited["quote"]
    assert cited["boxes"] and all(_y(200) - 0.02 < box[1] < _y(200 + 2 * LEADING) for box in cited["boxes"])


def test_a_hostile_page_size_renders_within_the_pixel_limit(tmp_path):
    fpdf = pytest.importorskip("fpdf")
    from rag.ingest.pdf import MAX_PAGE_PIXELS

    pdf = fpdf.FPDF(unit="pt", format=(20, 14400))  # 20 points wide, the tallest page PDF allows
    pdf.add_page()
    path = tmp_path / "ribbon.pdf"
    pdf.output(str(path))
    image = render_page(path, 1, width=1000)  # 1000 px wide would make it 720 million pixels
    assert image.width * image.height <= MAX_PAGE_PIXELS * 1.01
