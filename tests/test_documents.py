"""Loaders and the chunker."""

from __future__ import annotations

import pytest

from rag import Document, LoadError
from rag.ingest.chunks import count_tokens, split_document
from rag.ingest.documents import load_file


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (no PDF library needed)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream.decode()}\nendstream")
        content_id = len(objects)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R /Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_pdf_keeps_page_numbers_on_chunks(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(["The first page talks about treaties.", "The second page lists Malaysia and Iran."]))
    doc = load_file(path)
    assert "first page" in doc.text and "second page" in doc.text
    assert [p for _, p in doc.pages] == [1, 2]
    second = doc.text.index("The second page")
    assert doc.page_at(second) == 2 and doc.page_at(0) == 1
    chunks = split_document(doc, max_tokens=16, overlap=0)
    assert {c.page for c in chunks} == {1, 2}
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_an_encrypted_pdf_is_skipped_as_encrypted_not_as_corrupt(tmp_path):
    from rag.verify.pageview import page_text

    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.text(20, 20, "The committee approved a budget of RM4.2 million.")
    pdf.set_encryption(owner_password="owner", user_password="secret")  # opening it needs "secret"
    path = tmp_path / "locked.pdf"
    path.write_bytes(bytes(pdf.output()))
    reason = "locked.pdf: encrypted (password-protected); save an unencrypted copy and index that"
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert str(err.value).endswith(reason) and "corrupt" not in str(err.value)
    with pytest.raises(LoadError, match=r"encrypted \(password-protected\)"):
        page_text(path, 1)  # the source viewer says the same


def test_html_keeps_visible_text_only(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>T</title><style>p{color:red}</style><script>var secret=1;</script></head>"
        "<body><nav><a href='/'>Home</a> | <a href='/about'>About us</a></nav>"
        "<header>Site banner</header><main><h1>Treaties</h1><p>Malaysia has <b>11</b> treaties.</p>"
        "<p>Second paragraph.</p></main><footer>Copyright footer</footer></body></html>"
    )
    text = load_file(path).text
    assert "Malaysia has 11 treaties." in text and "Second paragraph." in text and "Treaties" in text
    for hidden in ("secret", "color:red", "About us", "Site banner", "Copyright footer"):
        assert hidden not in text


def test_docx_paragraphs_and_tables(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("Malaysia signed a treaty with Iran.")
    document.add_paragraph("A second paragraph.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Country"
    table.rows[0].cells[1].text = "Pakistan"
    path = tmp_path / "memo.docx"
    document.save(path)
    text = load_file(path).text
    assert "Malaysia signed a treaty with Iran." in text and "Country | Pakistan" in text


def test_markdown_and_text_keep_exact_text(tmp_path):
    raw = "# Title\n\nSome *markdown* text — with “quotes”.\n"
    (tmp_path / "a.md").write_text(raw)
    assert load_file(tmp_path / "a.md").text == raw


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("empty.txt", b"", "empty"),
        ("nul.txt", b"abc\x00def", "binary"),
        ("bad.txt", b"\xff\xfeabc", "UTF-8"),
        ("x.xlsx", b"PK\x03\x04", "unsupported"),
        ("broken.pdf", b"%PDF-1.7 garbage", "corrupt"),
        ("broken.docx", b"not a zip", "corrupt"),
    ],
)
def test_bad_files_raise_one_line_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError, match=reason) as info:
        load_file(path)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_chunks_respect_token_budget_and_overlap():
    sentences = [f"Sentence number {i} talks about extradition treaty {i} with some padding words." for i in range(60)]
    doc = Document.from_text("t.txt", " ".join(sentences))
    chunks = split_document(doc, max_tokens=64, overlap=16)
    assert len(chunks) > 5
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert count_tokens(chunk.text) <= 64 + 2  # sentence tokens counted apart may merge by a token
        assert chunk.text[0].isupper() and chunk.text.endswith(".")  # whole sentences
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end, "consecutive chunks overlap"
        assert b.start > a.start
    assert chunks[-1].end == len(doc.text)
    assert [c.id for c in split_document(doc, 64, 16)] == [c.id for c in chunks]  # stable ids


def test_overlong_sentence_is_cut_at_words():
    doc = Document.from_text("long.txt", "word " * 500)
    chunks = split_document(doc, max_tokens=50, overlap=0)
    assert len(chunks) >= 9
    assert all(count_tokens(c.text) <= 52 and doc.text[c.start : c.end] == c.text for c in chunks)


def test_paragraph_break_preferred():
    para1 = " ".join(["Alpha beta gamma delta epsilon."] * 12)  # 72 tokens
    para2 = " ".join(["Zeta eta theta iota kappa."] * 8)
    doc = Document.from_text("p.txt", para1 + "\n\n" + para2)
    assert count_tokens(para1) > 60
    chunks = split_document(doc, max_tokens=100, overlap=0)  # room for more, but a paragraph ends
    assert chunks[0].text == para1
