"""Hostile input to the loaders and a damaged index on disk (issue #14): each case is one file's
skip with its reason, or a one-line error that names the fix; never a traceback, never a quietly
empty index, never a file written outside the index folder."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from rag import IndexMismatchError, LoadError, Rag, Settings
from rag.cli import EXIT_SKIPPED
from rag.ingest.documents import docx_xml_bytes, load_file

ROOT = Path(__file__).resolve().parent.parent
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args, "--model", "test-hash"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120, **kwargs,
    )


def make_docx(path: Path, document_xml=None) -> Path:
    """A .docx from python-docx; `document_xml` (bytes, or a function writing to a stream) replaces
    word/document.xml."""
    docx = pytest.importorskip("docx")
    template = path.with_suffix(".template.docx")
    document = docx.Document()
    document.add_paragraph("Malaysia signed a treaty with Iran.")
    document.save(template)
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename != "word/document.xml" or document_xml is None:
                out.writestr(info.filename, src.read(info.filename))
            elif callable(document_xml):
                with out.open(info.filename, "w") as stream:
                    document_xml(stream)
            else:
                out.writestr(info.filename, document_xml)
    template.unlink()
    return path


# 1. a parser error is one file's skip, not the run's end


def test_malformed_docx_is_skipped_and_the_good_files_are_indexed(corpus, fast_settings):
    make_docx(corpus / "bad.docx", b"<w:document><w:body><w:p>not closed")
    make_docx(corpus / "good.docx")
    done = run_cli("index", str(corpus), "--index", fast_settings.index_path)
    assert done.returncode == EXIT_SKIPPED, done.stderr
    assert "Traceback" not in done.stderr
    skipped = [line for line in done.stderr.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and "bad.docx: corrupt or unreadable .docx (XMLSyntaxError)" in skipped[0]
    sources = [source for source, _ in Rag(fast_settings).documents()]
    assert len(sources) == 6 and any(s.endswith("good.docx") for s in sources)


# 2. size limits: checked before parsing where possible


def test_docx_zip_bomb_is_skipped_before_parsing(tmp_path):
    def bomb(stream):  # 64 MiB of well-formed XML that deflates to about 200 KB
        stream.write(f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body>'.encode())
        row = b"<w:p><w:r><w:t>aaaaaaaaaaaaaaaa</w:t></w:r></w:p>" * 20_000
        for _ in range(64 * 2**20 // len(row) + 1):
            stream.write(row)
        stream.write(b"</w:body></w:document>")

    path = make_docx(tmp_path / "bomb.docx", bomb)
    assert path.stat().st_size < 500_000
    started = time.perf_counter()
    with pytest.raises(LoadError, match=r"document too large: its XML unzips to 6\d\.\d MB \(limit 32 MB\)"):
        load_file(path)
    assert time.perf_counter() - started < 1.0
    # the same text under another name counts too: the parser reads any part a relationship names
    renamed = tmp_path / "renamed.zip"
    with zipfile.ZipFile(renamed, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("word/media/image1.png", b"\0" * 40 * 2**20)
    assert docx_xml_bytes(renamed.read_bytes()) == 40 * 2**20


def understate(data: bytes, member: str, size: int) -> bytes:
    """The zip with `member`'s uncompressed size rewritten to `size` in its local header and its
    central directory entry (the CRC and the compressed data left as they were)."""
    out = bytearray(data)
    name = member.encode()
    for signature, size_at, length_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        at = out.find(signature)
        while at >= 0:
            length = int.from_bytes(out[at + length_at : at + length_at + 2], "little")
            if bytes(out[at + name_at : at + name_at + length]) == name:
                out[at + size_at : at + size_at + 4] = size.to_bytes(4, "little")
            at = out.find(signature, at + 4)
    return bytes(out)


def test_docx_whose_zip_understates_a_part_is_refused_in_bounded_memory(tmp_path):
    import tracemalloc

    def bomb(stream):  # 128 MiB of XML
        stream.write(f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body>'.encode())
        row = b"<w:p><w:r><w:t>aaaaaaaaaaaaaaaa</w:t></w:r></w:p>" * 20_000
        for _ in range(128 * 2**20 // len(row) + 1):
            stream.write(row)
        stream.write(b"</w:body></w:document>")

    path = make_docx(tmp_path / "forged.docx", bomb)
    path.write_bytes(understate(path.read_bytes(), "word/document.xml", 4096))
    assert docx_xml_bytes(path.read_bytes()) < 2**20  # the zip directory is fooled
    tracemalloc.start()
    try:
        with pytest.raises(LoadError, match=r"document too large: part word/document.xml unzips to more than the 4,096 bytes its zip entry declares"):
            load_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # a megabyte inflated at a time (zipfile alone inflated all 128 MiB at once)
    # a part of another name that inflates past its declared size is stopped the same way
    renamed = tmp_path / "renamed.docx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(renamed, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename) if info.filename != "word/document.xml" else b"<x/>")
        out.writestr("word/media/image1.png", b"\0" * 40 * 2**20)
    renamed.write_bytes(understate(renamed.read_bytes(), "word/media/image1.png", 100_000))
    with pytest.raises(LoadError, match=r"part word/media/image1.png unzips to more than the 100,000 bytes"):
        load_file(renamed)


def test_overlong_documents_are_skipped_with_the_limit(corpus, tmp_path):
    from test_documents import make_pdf

    settings = Settings(index_path=str(tmp_path / "index"), embedding_model="test-hash", max_document_chars=3000)
    folder = tmp_path / "in"
    folder.mkdir()
    for file in sorted(corpus.iterdir())[:2]:
        (folder / file.name).write_text(file.read_text()[:2500])
    (folder / "long.txt").write_text("Word " * 700)  # 3500 characters: decoded, then refused
    (folder / "huge.txt").write_text("Word " * 5000)  # more bytes than 4 per allowed character: refused unread
    (folder / "long.pdf").write_bytes(make_pdf(["Treaty text " * 150, "More treaty text " * 100]))
    report = Rag(settings).index([folder])
    assert report.documents == 2
    reasons = {Path(s.source).name: s.reason for s in report.skipped}
    assert reasons["long.txt"] == "document too large: 3,500 characters of text (limit 3,000); split it into smaller files"
    assert reasons["huge.txt"].startswith("document too large:") and "limit 3,000 characters" in reasons["huge.txt"]
    assert reasons["long.pdf"].startswith("document too large:") and "(limit 3,000)" in reasons["long.pdf"]


def test_default_limit_admits_5m_characters_and_refuses_one_more(tmp_path):
    limit = Settings().max_document_chars
    (tmp_path / "fits.txt").write_text("a" * limit)
    (tmp_path / "over.txt").write_text("a" * (limit + 1))
    assert len(load_file(tmp_path / "fits.txt").text) == limit
    with pytest.raises(LoadError, match="document too large: 5,000,001 characters of text"):
        load_file(tmp_path / "over.txt")


# links and special files: only regular files whose real path stays under the folder, unless asked


def test_links_out_of_the_folder_loops_and_pipes_are_skipped_each_with_its_reason(corpus, fast_settings, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.txt").write_text("root:x:0:0:the secret password is swordfish:/root:/bin/bash\n")
    (outside / "notes.txt").write_text("The outside notes say the vault code is 4471.\n")
    first = sorted(corpus.iterdir())[0]
    (corpus / "passwd.txt").symlink_to(outside / "passwd.txt")  # ln -s /etc/passwd docs/passwd.txt
    (corpus / "same.txt").symlink_to(first)  # a link that stays inside: indexed like the file
    (corpus / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "linked").symlink_to(outside, target_is_directory=True)
    os.mkfifo(corpus / "pipe.txt")
    done = run_cli("index", str(corpus), "--index", fast_settings.index_path)
    assert done.returncode == EXIT_SKIPPED and "Traceback" not in done.stderr, done.stderr
    reasons = dict(line.removeprefix("skipped ").split(": ", 1) for line in done.stderr.splitlines() if line.startswith("skipped "))
    reasons = {Path(source).name: reason for source, reason in reasons.items()}
    assert reasons == {
        "passwd.txt": f"a symbolic link to a file outside {corpus}; not followed (--follow-links indexes it)",
        "dangling.txt": "a broken symbolic link (its target does not exist)",
        "loop.txt": "a symbolic link loop; not followed",
        "linked": "a symbolic link to a folder; not followed (--follow-links follows it)",
        "pipe.txt": "not a regular file (a named pipe (FIFO)); only regular files are indexed",
    }
    sources = [source for source, _ in Rag(fast_settings).documents()]
    assert len(sources) == 5 and not any("passwd" in s or "notes" in s for s in sources)  # same.txt is its seed's file
    assert not any("swordfish" in hit.chunk.text for hit in Rag(fast_settings).search("secret password swordfish", k=20))

    followed = run_cli("index", str(corpus), "--index", fast_settings.index_path, "--follow-links")
    assert followed.returncode == EXIT_SKIPPED, followed.stderr
    skipped = {Path(line.removeprefix("skipped ").split(": ", 1)[0]).name for line in followed.stderr.splitlines() if line.startswith("skipped ")}
    assert skipped == {"dangling.txt", "loop.txt", "pipe.txt"}
    texts = [hit.chunk.text for hit in Rag(fast_settings).search("secret password swordfish vault code", k=20)]
    assert any("swordfish" in t for t in texts) and any("4471" in t for t in texts)


def test_a_link_loop_through_folders_is_followed_once(tmp_path):
    from rag.ingest.documents import discover

    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("Alpha.\n")
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)
    files, skipped = discover([folder], follow_links=True)
    assert [f.name for f in files] == ["a.txt"]
    assert [(Path(s.source).name, s.reason) for s in skipped] == [("up", "a symbolic link back to a folder already indexed; not followed")]


# bounded parsing: work linear in the input (counted in traced Python lines, never timed), and a
# time budget per document that makes a file that stalls a parser one skipped file


def traced_lines(function, *args) -> int:
    """How many Python lines `function(*args)` runs: a count of its work that no machine's speed changes."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        function(*args)
    finally:
        sys.settrace(None)
    return count


HOSTILE_HTML = {
    "nested": lambda n: "<div>x " * n + "</div>" * n,
    "unclosed": lambda n: "<div><b>x " * n,
    "stray end tags": lambda n: "<div>" * n + "x" + "</span>" * n,
    "hidden and nested": lambda n: "<nav>" * n + "x" + "</nav>" * n + "shown",
    "unterminated tags": lambda n: "<a" * n,
    "quotes that swallow tags": lambda n: '<p title="x>' * n,
}


@pytest.mark.parametrize("form", list(HOSTILE_HTML))
def test_html_work_grows_linearly_with_the_page(form):
    from rag.ingest.htmltext import html_to_text

    make = HOSTILE_HTML[form]
    html_to_text(make(10))  # first calls compile patterns: not the page's work
    small, large = traced_lines(html_to_text, make(500)), traced_lines(html_to_text, make(2000))
    assert large < 5 * small, (small, large)  # 4 times the page, about 4 times the work (16 when quadratic)


def test_deep_and_broken_html_reads_as_a_browser_shows_it():
    from rag.ingest.htmltext import html_to_text

    assert html_to_text("<div>" * 100_000 + "deep" + "</div>" * 100_000 + "<p>after</p>") == "deep\nafter"
    assert html_to_text("<nav>" * 50_000 + "menu" + "</nav>" * 50_000 + "<p>body</p>") == "body"
    assert html_to_text("<a" * 100_000) == ""  # one unterminated tag
    assert html_to_text('<p title="a>b">text</p><!-- no end') == "text"


def test_markdown_headings_chunk_in_linear_work():
    from rag.ingest.chunks import split_document
    from rag.ingest.metadata import with_title
    from rag.types import Document

    def index_work(text: str) -> None:
        split_document(Document.from_text("h.md", text))
        with_title({}, text, markdown=True)

    def headings(n: int) -> str:
        return "".join("#" * (1 + i % 6) + f" Section {i} Title\n\nBody {i}.\n" for i in range(n))

    index_work(headings(10))  # the tokenizer loads, patterns compile: not the document's work
    small, large = traced_lines(index_work, headings(500)), traced_lines(index_work, headings(2000))
    assert large < 5 * small, (small, large)


def test_a_markdown_heading_on_a_long_line_is_read_in_one_pass(tmp_path, fast_settings):
    """The title pattern backtracked over a heading line's spaces (20,000 took 3.8 s, a million would
    take hours: regex work, which no traced line counts; the CLI's timeout is the guard), and tiktoken
    panicked (stack overflow) on the run of spaces before the "b"."""
    from rag.ingest.metadata import with_title

    assert with_title({}, "# Budget " + " " * 50 + "x\n", markdown=True)["title"] == "Budget " + " " * 50 + "x"
    assert with_title({}, "## Minutes of the meeting ##\n", markdown=True)["title"] == "Minutes of the meeting"
    folder = tmp_path / "md"
    folder.mkdir()
    (folder / "long.md").write_text("# a" + " " * 1_000_000 + "b\n\nThe committee met on Monday.\n")
    done = run_cli("index", str(folder), "--index", fast_settings.index_path)
    assert done.returncode == 0, done.stderr
    ((source, chunks),) = Rag(fast_settings).documents()
    assert source.endswith("long.md") and chunks >= 1
    assert any("committee met" in hit.chunk.text for hit in Rag(fast_settings).search("when did the committee meet", k=3))


def test_documents_with_no_word_bm25_keeps_are_indexed(tmp_path, fast_settings):
    """What 10 MB of '<div>x ' leaves: lines of 'x', which BM25's tokenizer drops, like stopwords."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "x.html").write_text("<div>x " * 300 + "</div>" * 300)
    (folder / "the.txt").write_text("The and of a an the.\n")
    done = run_cli("index", str(folder), "--index", fast_settings.index_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    rag = Rag(fast_settings)
    assert len(rag.documents()) == 2 and len({h.chunk.source for h in rag.search("x marks the spot", k=5)}) == 2
    assert rag.backend.opened.bm25.search("x the", 5)[1].size == 0


class Clock:
    """time.monotonic for rag.ingest.budget that moves a second at every look: budgets run out by count."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def test_a_file_past_its_time_budget_is_one_skip_with_its_reason(corpus, fast_settings, monkeypatch):
    import rag.ingest.budget

    (corpus / "slow.html").write_text("<div>x " * 200_000)  # 1.4 MB: 12 s at 5 s per MB... by the fake clock
    monkeypatch.setattr(rag.ingest.budget, "time", Clock())
    monkeypatch.setattr(rag.ingest.budget, "CHECK_EVERY", 10_000)
    report = Rag(fast_settings).index([corpus])
    assert report.documents == 5
    (skip,) = report.skipped
    assert skip.source.endswith("slow.html")
    assert skip.reason == "reading took longer than its time budget (10 s for 1.34 MB at 5 s per MB); simplify or split the file"


def test_chunking_past_its_time_budget_skips_the_document_and_indexes_the_others(fast_settings, monkeypatch):
    import rag.ingest.budget
    from rag import Document

    monkeypatch.setattr(rag.ingest.budget, "time", Clock())
    monkeypatch.setattr(rag.ingest.budget, "CHECK_EVERY", 100)
    long = Document.from_text("long.txt", "A sentence about treaties. " * 40_000)  # 1.03 MB: 10 s, 10 looks at the clock
    short = Document.from_text("short.txt", "Malaysia signed a treaty.")
    report = Rag(fast_settings).add_documents([long, short])
    assert report.documents == 1 and report.new == ("short.txt",)
    assert [(s.source, s.reason.split(" (")[0]) for s in report.skipped] == [("long.txt", "chunking took longer than its time budget")]


def test_the_time_budget_is_a_setting():
    from rag import ConfigError

    assert Settings().document_seconds_per_mb == 5.0
    with pytest.raises(ConfigError, match="document_seconds_per_mb must be above 0"):
        Settings(document_seconds_per_mb=0)


# 3. a damaged index is a one-line error naming the fix, and a reader writes nothing


def _built(corpus: Path, settings: Settings) -> tuple[Path, Path]:
    Rag(settings).index([corpus])
    index = Path(settings.index_path)
    return index, index / json.loads((index / "manifest.json").read_text())["data"]


def test_deleted_chunk_store_is_an_error_through_the_cli_and_a_rebuild_fixes_it(corpus, fast_settings):
    index, data = _built(corpus, fast_settings)
    (data / "chunks.sqlite").unlink()
    fix = f"rebuild it with `rag index --rebuild [PATH ...] --index {index}`"
    for command in (["ask", "which countries have extradition treaties with Malaysia?"], ["docs"]):
        done = run_cli(*command, "--index", str(index))
        assert done.returncode == 1, done
        assert done.stdout == ""
        assert done.stderr == f"error: {index} is damaged (chunks.sqlite is missing); {fix}\n"
    assert not (data / "chunks.sqlite").exists()  # reading created no empty database
    done = run_cli("index", str(corpus), "--rebuild", "--index", str(index))
    assert done.returncode == 0, done.stderr
    assert len(Rag(fast_settings).documents()) == 5


def _delete_one_chunk(data: Path) -> None:
    import sqlite3

    with sqlite3.connect(data / "chunks.sqlite") as db:
        db.execute("DELETE FROM chunks WHERE vid = (SELECT MIN(vid) FROM chunks)")


DAMAGE = {
    "garbage chunks.sqlite": (lambda d: (d / "chunks.sqlite").write_bytes(b"not a database " * 300),
                              "chunks.sqlite is not a readable SQLite database: file is not a database"),
    "empty chunks.sqlite": (lambda d: (d / "chunks.sqlite").write_bytes(b""), "chunks.sqlite holds no chunk tables"),
    "a chunk row deleted": (_delete_one_chunk, "chunks.sqlite holds "),
    "missing vectors": (lambda d: (d / "vectors.faiss").unlink(), "vectors.faiss is missing"),
    "garbage vectors": (lambda d: (d / "vectors.faiss").write_bytes(b"\0" * 100), "vectors.faiss is unreadable"),
    "missing BM25": (lambda d: (d / "bm25" / "vids.npy").unlink(), "the BM25 index in bm25/ is missing or unreadable"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_files_are_one_line_errors(corpus, fast_settings, damage):
    index, data = _built(corpus, fast_settings)
    harm, what = DAMAGE[damage]
    harm(data)
    with pytest.raises(IndexMismatchError) as info:
        Rag(fast_settings).search("extradition")
    message = str(info.value)
    assert message.startswith(f"{index} is damaged ({what}") and "\n" not in message
    assert message.endswith(f"rebuild it with `rag index --rebuild [PATH ...] --index {index}`")
    with pytest.raises(IndexMismatchError, match="is damaged"):  # an update refuses too ...
        Rag(fast_settings).index([corpus])
    assert Rag(fast_settings).index([corpus], rebuild=True).documents == 5  # ... and a rebuild repairs it
    assert Rag(fast_settings).search("extradition")


@pytest.mark.parametrize("data", ["OUTSIDE", "../x", "data-000001/../../y", ".", "", None, 7])
def test_manifest_pointing_outside_the_index_is_refused_and_nothing_is_created(corpus, fast_settings, tmp_path, data):
    index, _ = _built(corpus, fast_settings)
    outside = tmp_path / "outside"
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["data"] = str(outside) if data == "OUTSIDE" else data
    (index / "manifest.json").write_text(json.dumps(manifest))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(IndexMismatchError, match=r"manifest.json names .*, not a data-NNNNNN folder of the index"):
        Rag(fast_settings).search("extradition")
    done = run_cli("ask", "extradition?", "--index", str(index))
    assert done.returncode == 1 and done.stderr.startswith(f"error: {index} is damaged") and done.stderr.count("\n") == 1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not outside.exists() and not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# 4. a second indexer says why it waits


def test_second_indexer_says_it_waits_for_the_lock(corpus, fast_settings, tmp_path):
    index, _ = _built(corpus, fast_settings)
    (corpus / "new.txt").write_text("The lock test adds one document about Zanzibar.")
    log = tmp_path / "stderr.txt"
    with open(index / ".lock", "w") as lock, open(log, "w") as err:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running `rag index` holds it
        child = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "index", str(corpus), "--index", str(index), "--model", "test-hash"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=err, text=True,
        )
        deadline = time.time() + 60
        while "waiting" not in log.read_text() and child.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert f"waiting for another indexer to finish with {index} ...\n" in log.read_text().splitlines(keepends=True)
        assert child.poll() is None  # still waiting
        fcntl.flock(lock, fcntl.LOCK_UN)
        assert child.wait(timeout=60) == 0
    assert "1 new" in child.stdout.read()
    assert len(Rag(fast_settings).documents()) == 6


# 5. a long-running reader sees what another process committed


def test_reader_sees_documents_another_writer_added(corpus, fast_settings, tmp_path):
    server = Rag(fast_settings)
    server.index([corpus])
    assert len(server.documents()) == 5 and server.backend.opened is server.backend.opened  # no reopening while unchanged
    extra = tmp_path / "zanzibar.txt"
    extra.write_text("The committee will next meet in Zanzibar in 2031.")
    Rag(fast_settings).index([extra], prune=False)  # another process, as far as `server` knows
    assert len(server.documents()) == 6
    hits = server.search("Zanzibar 2031", k=1, mode="bm25")
    assert hits and hits[0].chunk.source.endswith("zanzibar.txt")
    Rag(fast_settings).remove([hits[0].chunk.source])
    assert len(server.documents()) == 5
