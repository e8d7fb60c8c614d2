"""OCR of pages without a text layer: the character error rate on a generated 200-dpi scan, the
interface the source viewer uses (rag.ingest.ocr), OCR'd chunks marked in the index, and the skip
reason when the OCR extra is missing."""

from __future__ import annotations

import importlib.util
import io

import pytest
from conftest import SEEDS

from rag import Rag
from rag.bench.ocr import cer
from rag.bench.scans import scan_pdf, seed_texts
from rag.cli import main
from rag.errors import MissingDependencyError
from rag.ingest import ocr as ocr_module
from rag.ingest.chunks import split_document
from rag.ingest.documents import load_file, load_paths
from rag.ingest.layout import page_text
from rag.types import hit_to_dict
from rag.verify.align import edit_distance, locate

pytest.importorskip("matplotlib")  # sets the generated pages in its DejaVu Sans
needs_tesseract = pytest.mark.skipif(not ocr_module.available(), reason="OCR needs the tesseract-ocr program (scripts/test.sh installs it)")
ARTICLE = "001_62e5abbb574a7512"  # one page when scanned
TWO_PAGES = "000_802fec47948a7749"


@pytest.fixture(scope="module")
def scans():
    texts = seed_texts(SEEDS)
    return {stem: scan_pdf(texts[stem], seed=i) for i, stem in enumerate((ARTICLE, TWO_PAGES))}


def test_edit_distance_counts_insertions_deletions_and_substitutions():
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3 and edit_distance("abc", "abc") == 0
    assert cer("a  b\nc", "a b c") == (0, 5)
    text = "The minister said that Malaysia has 11 extradition treaties with other countries."
    assert locate("Malaysia has 11 extradition", text) == (23, 50)
    assert locate("Ma1aysia has 1l extradition", text) == (23, 50)  # an OCR'd copy: two characters differ
    assert locate("Singapore signed no treaty", text) is None


def test_without_the_ocr_extra_a_scanned_pdf_is_skipped_with_the_reason(tmp_path, scans, monkeypatch):
    monkeypatch.setattr(ocr_module.shutil, "which", lambda name: None)  # no tesseract program
    (tmp_path / "scan.pdf").write_bytes(scans[ARTICLE].data)
    from PIL import Image

    Image.new("L", (40, 20), 255).save(tmp_path / "page.png")
    (tmp_path / "notes.txt").write_text("Text files still load.")
    documents, skipped = load_paths([tmp_path])
    assert [d.source.rsplit("/", 1)[-1] for d in documents] == ["notes.txt"]
    assert sorted((s.source.rsplit("/", 1)[-1], s.reason) for s in skipped) == [
        ("page.png", "no text layer; install rag-quotes[ocr]"), ("scan.pdf", "no text layer; install rag-quotes[ocr]")]
    with pytest.raises(MissingDependencyError) as caught:
        ocr_module.ocr_image(Image.new("L", (10, 10), 255))
    assert "\n" not in str(caught.value) and "`pip install rag-quotes[ocr]`" in str(caught.value)


@needs_tesseract
def test_a_scanned_page_reads_within_two_percent_and_is_marked_as_ocr(tmp_path, scans):
    path = tmp_path / "scan.pdf"
    path.write_bytes(scans[ARTICLE].data)
    doc = load_file(path)
    edits, chars = cer(doc.text, scans[ARTICLE].pages[0].text)
    assert edits / chars <= 0.02, (edits, chars)
    assert doc.pages == ((0, 1),) and doc.ocr and all(0 < c <= 1 for _, _, c in doc.ocr)
    assert sum(e - s for s, e, _ in doc.ocr) > 0.9 * len(doc.text.replace("\n", ""))  # every line is OCR'd text
    chunks = split_document(doc, max_tokens=64, overlap=8)
    assert all(c.ocr and 0.5 < c.ocr_confidence <= 1 for c in chunks)


@needs_tesseract
def test_ocr_image_gives_lines_in_reading_order_that_rebuild_the_page_text(scans):
    import pypdfium2

    page = pypdfium2.PdfDocument(scans[ARTICLE].data)[0]
    image = page.render(scale=ocr_module.OCR_DPI / 72).to_pil()  # as the source viewer renders it
    lines = ocr_module.ocr_image(image)
    assert lines == ocr_module.ocr_image(image)  # deterministic
    assert all(0 <= l.box[0] < l.box[2] <= image.width and 0 <= l.box[1] < l.box[3] <= image.height for l in lines)
    assert all(0 <= l.confidence <= 1 for l in lines)
    assert [l.box[1] for l in lines] == sorted(l.box[1] for l in lines)  # one column: top to bottom
    doc = load_file_from(scans[ARTICLE].data)
    assert page_text(lines).text == doc.text  # what the viewer rebuilds is what was indexed


def load_file_from(data: bytes):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scan.pdf"
        path.write_bytes(data)
        return load_file(path)


@needs_tesseract
def test_an_image_file_is_ocrd(tmp_path, scans):
    import pypdfium2

    image = pypdfium2.PdfDocument(scans[ARTICLE].data)[0].render(scale=200 / 72, grayscale=True).to_pil()
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    (tmp_path / "letter.png").write_bytes(buffer.getvalue())
    doc = load_file(tmp_path / "letter.png")
    edits, chars = cer(doc.text, scans[ARTICLE].pages[0].text)
    assert edits / chars <= 0.02 and doc.pages == ((0, 1),) and doc.ocr


@needs_tesseract
def test_scanned_chunks_are_stored_with_their_page_and_ocr_mark(tmp_path, scans, fast_settings, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(scans[TWO_PAGES].data)
    (folder / "typed.txt").write_text("Malaysia currently has 11 extradition treaties, the minister said in a typed note.")
    rag = Rag(fast_settings)
    assert rag.index([folder]).documents == 2
    second_page = scans[TWO_PAGES].pages[1].text.split(".")[0]  # a sentence set on page 2 of the scan
    hits = rag.search(second_page, k=10, mode="bm25")
    top = hits[0].chunk
    assert top.source.endswith("scan.pdf") and top.page == 2 and top.ocr and 0.5 < top.ocr_confidence <= 1
    assert hit_to_dict(hits[0])["ocr"] is True
    main(["search", second_page, "-k", "1", "--retrieval", "bm25", "--index", fast_settings.index_path, "--model", "test-hash"])
    if importlib.util.find_spec("langchain_core"):
        from rag.integrations.langchain import RagRetriever, document_to_hit

        (document,) = RagRetriever(rag=rag, k=1, retrieval="bm25").invoke(second_page)
        assert document.metadata["ocr"] is True and document_to_hit(document, 1).chunk == top
    first = capsys.readouterr().out.splitlines()[0]
    assert f"scan.pdf p. 2 chars {top.start}-{top.end}" in first and first.endswith(f"OCR, confidence {top.ocr_confidence:.2f}")
    typed = next(h.chunk for h in rag.search("typed note", k=10, mode="bm25") if h.chunk.source.endswith("typed.txt"))
    assert not typed.ocr and typed.ocr_confidence is None
    answer = rag.ask("How many extradition treaties does Malaysia currently have?")
    document = {c.source: rag.document(c.source) for c in answer.citations}
    assert answer.citations and all(document[c.source].text[c.start : c.end] == c.quote for c in answer.citations)
    assert any(c.source.endswith("scan.pdf") and c.page in (1, 2) for c in answer.citations)
    main(["ask", "How many extradition treaties does Malaysia currently have?", "--index", fast_settings.index_path,
          "--model", "test-hash"])
    printed = [line for line in capsys.readouterr().out.splitlines() if "scan.pdf" in line and "chars" in line]
    assert printed and all(", read by OCR, confidence 0." in line for line in printed)  # the CLI says a quote was OCR'd


def test_tesseract_words_become_line_pieces_split_at_wide_gaps_without_noise_stops():
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"

    def word(line: int, n: int, left: int, text: str, conf: float) -> str:
        return f"5\t1\t1\t1\t{line}\t{n}\t{left}\t100\t{10 * len(text)}\t30\t{conf}\t{text}"

    tsv = "\n".join([header, word(1, 1, 0, "Malaysia.", 25.0), word(1, 2, 100, "is", 96.0), word(1, 3, 130, "here.", 95.0),
                     word(1, 4, 400, "Country", 96.0),  # 210 px after "here." ends: another piece (a table cell)
                     word(2, 1, 0, "circumstances.", 94.0), word(2, 2, 150, "bootstrap", 96.0)])
    lines = ocr_module._lines(tsv)
    assert [line.text for line in lines] == ["Malaysia is here.", "Country", "circumstances. bootstrap"]
    assert lines[0].box == (0.0, 100.0, 180.0, 130.0) and lines[0].confidence == pytest.approx((0.25 + 0.96 + 0.95) / 3, abs=1e-4)


def test_a_huge_page_is_rendered_for_ocr_within_the_pixel_limit():
    from rag.ingest.pdf import MAX_PAGE_PIXELS, render_scale

    assert render_scale(612, 792) * 72 == ocr_module.OCR_DPI  # a letter page at OCR_DPI
    scale = render_scale(14400, 14400)  # the largest page PDF allows, 200 inches a side
    assert (14400 * scale) ** 2 == pytest.approx(MAX_PAGE_PIXELS)


@needs_tesseract
def test_answers_from_the_scanned_seeds_score_as_the_text_does(real_rag, tmp_path):
    """The issue's bar: fact recall within 0.05 of the text index, every quote the OCR'd text at its offsets."""
    from rag import Settings
    from rag.bench.scans import write_corpus
    from rag.evaluation.evaluate import evaluate, load_qa

    made = write_corpus(SEEDS, tmp_path / "scans", kind="scan")
    (tmp_path / "scans" / "table.pdf").unlink()
    scanned = Rag(Settings(index_path=str(tmp_path / "index")))
    report = scanned.index([tmp_path / "scans"])
    assert report.documents == 5 and not report.skipped and sum(len(g.pages) for g in made.values()) == 14
    items = load_qa(SEEDS.parent / "eval" / "qa.jsonl")
    text, scan = evaluate(real_rag, items, "extractive")["summary"], evaluate(scanned, items, "extractive")["summary"]
    assert scan["quote_validity"] == 1.0 and scan["hit_at_k"] >= text["hit_at_k"] - 0.05
    assert scan["fact_recall"] >= text["fact_recall"] - 0.05, (scan, text)
