"""PDFs from the programs staff's files come from (rag.bench.producers: Chromium's print to PDF,
fpdf2, Ghostscript, groff, pdfTeX, LibreOffice) read back through the loader with known text: at most 1%
of words wrong, blocks in reading order, running headers and page numbers left out. And a
browser-printed minutes document answered by the real pipeline."""

from __future__ import annotations

import functools

import pytest

from rag.bench import producers
from rag.bench.pdf import in_order, wer
from rag.ingest.documents import load_file

MAX_WER = 0.01


@functools.cache
def made(producer: str) -> dict[str, producers.Made] | str:
    """The producer's documents by name, or why it cannot run here (made once per test run)."""
    try:
        produce = producers.chromium_styles if producer == "chromium-styles" else producers.PRODUCERS[producer]
        return {m.producer: m for m in produce()}
    except producers.Unavailable as err:
        return str(err)


def document(producer: str, name: str) -> producers.Made:
    docs = made(producer)
    if isinstance(docs, str):
        pytest.skip(f"{producer}: {docs} (scripts/test.sh installs it)")
    return docs[name]


CASES = [
    ("chromium", "chromium"), ("chromium", "chromium-columns"), ("chromium", "chromium-table"),
    ("fpdf2", "fpdf2"), ("ps2pdf", "ps2pdf"), ("groff", "groff"), ("groff", "groff-columns"), ("pdftex", "pdftex"),
    ("libreoffice", "libreoffice-docx"), ("libreoffice", "libreoffice-odt"),
    *(("chromium-styles", f"chromium-{style}") for style in producers.STYLES),
]  # fmt: skip


def _case(producer: str, name: str):
    return pytest.param(producer, name, id=name, marks=[pytest.mark.browser] if producer.startswith("chromium") else [])


@pytest.mark.parametrize(("producer", "name"), [_case(*case) for case in CASES])
def test_every_producer_reads_back_with_at_most_one_percent_word_errors_in_reading_order(tmp_path, producer, name):
    doc = document(producer, name)
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(doc.data)
    text = load_file(path).text
    edits, words = wer(text, doc.text)
    assert words > 80
    assert edits / words <= MAX_WER, f"{name}: {edits} of {words} words wrong:\n{text}"
    assert in_order(text, doc.blocks), text
    assert producers.HEADER not in text and "Page 1" not in text  # running header and page numbers left out
    assert "\ufb01" not in text and "\u00ad" not in text  # ligatures spelled out, soft hyphens gone


@pytest.mark.browser
def test_a_browser_printed_page_keeps_the_spaces_that_it_draws_as_gaps(tmp_path):
    """Chromium draws no space glyph between words; with Ghostscript's narrow URW fonts a word gap
    is under a quarter of a line's height. Read by gaps alone this page was one long word."""
    doc = document("chromium", "chromium")
    path = tmp_path / "minutes.pdf"
    path.write_bytes(doc.data)
    assert producers.BUDGET in load_file(path).text


def test_word_error_rate_counts_words_and_reading_order_sees_a_swap():
    assert wer("the cat sat on mat", "the cat sat on the mat") == (1, 6)
    assert wer("thecat sat", "the cat sat") == (2, 3)  # one word for two: a substitution and a deletion
    assert wer("it’s here", "it's here") == (0, 2)
    blocks = ("One two three four five", "Six seven eight nine ten")
    assert in_order("One two three four five Six seven eight nine ten", blocks)
    assert not in_order("Six seven eight nine ten One two three four five", blocks)


@pytest.mark.slow
@pytest.mark.browser
def test_browser_printed_minutes_answer_the_budget_question(tmp_path):
    """The issue's case: a two-page minutes document printed by Chromium, indexed with the real
    model and asked with the default extractive answerer, answers with the amount and quotes it,
    and the quote is highlighted on its page."""
    from rag import Rag, Settings

    doc = document("chromium", "chromium")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "minutes.pdf").write_bytes(doc.data)
    rag = Rag(Settings(index_path=str(tmp_path / "index")))
    report = rag.index([docs])
    assert report.documents == 1
    answer = rag.ask("What budget did the committee approve?")
    assert not answer.abstained
    assert "RM4.2 million" in answer.text
    cited = next(c for c in answer.citations if "RM4.2 million" in c.quote and c.verified)
    assert cited.page == 1
    (box,) = rag.quote_boxes(cited)  # the source viewer finds the quote on the page: one line, on the page
    assert 0 <= box.x0 < box.x1 <= 1 and 0 <= box.y0 < box.y1 <= 1


def test_rag_bench_pdf_prints_a_row_per_document_and_names_a_missing_producer(tmp_path, monkeypatch, capsys):
    from rag.cli import main

    def missing() -> list[producers.Made]:
        raise producers.Unavailable("needs nothing-here: apt-get install nothing-here")

    monkeypatch.setattr(producers, "PRODUCERS", {"fpdf2": producers.PRODUCERS["fpdf2"], "absent": missing})
    if isinstance(made("fpdf2"), str):
        pytest.skip(made("fpdf2"))
    assert main(["bench", "pdf", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| producer | pages | words | WER | reading order ok | seconds |")
    assert "| fpdf2 | 2 | 279 | 0.00% | yes |" in out
    assert "skipped absent: needs nothing-here: apt-get install nothing-here" in out
    assert (tmp_path / "fpdf2.pdf").read_bytes().startswith(b"%PDF")
