"""The on-disk index: incremental updates, atomic writes, manifest checks, bad input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag import IndexMismatchError, IndexNotFoundError, Rag, Settings
from rag.cli import EXIT_SKIPPED
from rag.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent


def test_second_run_embeds_nothing(corpus, fast_settings):
    rag = Rag(fast_settings)
    first = rag.index([corpus])
    assert first.documents == 5 and first.embedded == first.chunks > 20
    again = rag.index([corpus])
    assert again.embedded == 0 and again.unchanged == 5 and not again.new and not again.changed
    # nothing changed: not even a new generation on disk
    assert json.loads((Path(fast_settings.index_path) / "manifest.json").read_text())["data"] == "data-000001"


def test_changing_one_file_reembeds_only_its_changed_chunks(corpus, fast_settings):
    rag = Rag(fast_settings)
    rag.index([corpus])
    target = corpus / "003_947c5390494264e3.txt"
    before = dict(rag.documents())
    n_target = before[_source(rag, target)]
    target.write_text(target.read_text() + "\nThe committee will next meet in Zanzibar in 2031.\n")
    report = rag.index([corpus])
    assert report.changed == (_source(rag, target),)
    assert 0 < report.embedded <= n_target + 1
    assert report.embedded + report.reused == dict(rag.documents())[_source(rag, target)]
    assert report.unchanged == 4
    hits = rag.search("Zanzibar 2031", k=1, mode="bm25")
    assert hits and "Zanzibar" in hits[0].chunk.text


def test_deleted_file_leaves_search(corpus, fast_settings):
    rag = Rag(fast_settings)
    rag.index([corpus])
    gone = corpus / "004_d8855185d72b12cf.txt"
    source = _source(rag, gone)
    gone.unlink()
    report = rag.index([corpus])
    assert report.removed == (source,) and report.documents == 4
    for mode in ("dense", "bm25", "hybrid"):
        hits = rag.search("707 Malaysians rescued from job scam syndicates", k=50, mode=mode)
        assert all(not h.chunk.source.endswith(gone.name) for h in hits)
    assert len(rag.backend.opened.vectors) == report.chunks == len(rag.backend.opened.bm25)


def test_remove_api_and_unknown_source(corpus, fast_settings):
    rag = Rag(fast_settings)
    rag.index([corpus])
    source = rag.documents()[0][0]
    assert rag.remove([source]).removed == (source,)
    with pytest.raises(Exception, match="not in the index"):
        rag.remove(["nope.txt"])


def test_chunks_are_exact_spans_with_stable_ids(corpus, fast_settings):
    rag = Rag(fast_settings)
    rag.index([corpus])
    index = rag.backend.opened
    vids, _ = index.chunks.all_chunks()
    first = index.chunks.chunks_by_vid(vids)
    for chunk in first.values():
        assert index.document(chunk.source).text[chunk.start : chunk.end] == chunk.text
    Rag(fast_settings).index([corpus], rebuild=True)
    again = Rag(fast_settings).backend.opened.chunks.chunks_by_vid(vids)
    assert {c.id for c in again.values()} == {c.id for c in first.values()}


def test_other_embedding_model_is_refused(corpus, tmp_path):
    path = str(tmp_path / "index")
    Rag(Settings(index_path=path, embedding_model="test-hash:64")).index([corpus])
    other = Rag(Settings(index_path=path, embedding_model="test-hash:32"))
    with pytest.raises(IndexMismatchError, match=r"built with embedding model 'test-hash:64'.*rebuild"):
        other.search("anything")
    with pytest.raises(IndexMismatchError):
        other.index([corpus])
    assert other.index([corpus], rebuild=True).embedded > 0  # the way out the message names


@pytest.mark.slow
def test_the_model_mismatch_message_suggests_a_model_that_loads(corpus, tmp_path):
    """An index built with a model folder given by a relative path ('bge-small-en-v1.5', here the
    bundled model under that name), then opened from elsewhere: the suggested --model works."""
    import re
    import shlex

    from rag.embed.embedders import resolve_model_path

    models = tmp_path / "models"
    models.mkdir()
    (models / "bge-small-en-v1.5").symlink_to(resolve_model_path("all-MiniLM-L6-v2"), target_is_directory=True)
    index = str(tmp_path / "index")

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rag.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})

    built = run("index", str(corpus), "--index", index, "--model", "bge-small-en-v1.5", cwd=models)
    assert built.returncode == 0, built.stderr
    refused = run("search", "extradition treaties", "--index", index, cwd=ROOT)
    assert refused.returncode == 1 and "built with embedding model" in refused.stderr
    suggested = re.search(r"use --model (\S+),", refused.stderr)
    assert suggested, refused.stderr
    works = run("search", "extradition treaties", "--index", index, "--model", *shlex.split(suggested.group(1)), cwd=ROOT)
    assert works.returncode == 0 and "extradition" in works.stdout.lower(), works.stderr


def test_a_model_that_cannot_load_from_here_is_not_suggested():
    from rag.store.incremental import check_model

    with pytest.raises(IndexMismatchError) as caught:
        check_model({"model": "bge-small-en-v1.5", "dimension": 384}, "all-MiniLM-L6-v2", "index/x", "--index index/x")
    message = str(caught.value)
    assert "use --model bge-small-en-v1.5," not in message
    assert "use --model with the path of the model folder 'bge-small-en-v1.5' (no such folder here)" in message
    assert message.endswith("rebuild with `rag index --rebuild --model all-MiniLM-L6-v2 --index index/x`")
    with pytest.raises(IndexMismatchError, match="use --model test-hash:64, or rebuild"):
        check_model({"model": "test-hash:64", "dimension": 64}, "test-hash:32", "index/x", "--index index/x")


def test_newer_format_is_refused(corpus, fast_settings):
    Rag(fast_settings).index([corpus])
    manifest = Path(fast_settings.index_path) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 99
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match="newer than this version"):
        Rag(fast_settings).search("extradition")


def test_missing_index_says_how_to_build(fast_settings):
    with pytest.raises(IndexNotFoundError, match="rag index"):
        Rag(fast_settings).search("extradition")


KILLED_BUILD = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from rag import Rag, Settings
    from rag.embed.embedders import HashEmbedder
    import rag.store.index as index_module

    class SlowEmbedder(HashEmbedder):
        def embed(self, texts, *, query=False):
            Path(sys.argv[3]).touch()          # tell the parent embedding has started
            time.sleep(0.5)
            return super().embed(texts, query=query)

    if sys.argv[4] == "before-commit":         # die at the worst moment: data written, manifest not yet
        real_replace = os.replace
        def dying_replace(src, dst):
            if str(dst).endswith("manifest.json"):
                os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst)
        index_module.os.replace = dying_replace
    settings = Settings(index_path=sys.argv[1], embedding_model="test-hash", embedding_batch_size=1)
    Rag(settings, embedder=SlowEmbedder(64, "test-hash")).index([sys.argv[2]])
    """
)


@pytest.mark.parametrize("moment", ["while-embedding", "before-commit"])
def test_build_killed_halfway_leaves_previous_index(corpus, fast_settings, tmp_path, moment):
    rag = Rag(fast_settings)
    rag.index([corpus])
    query = "which countries have extradition treaties with Malaysia?"
    before = [(h.chunk.id, round(h.score, 6)) for h in rag.search(query, k=5)]
    manifest_before = (Path(fast_settings.index_path) / "manifest.json").read_text()
    for i in range(30):  # a big change, so the child is busy long enough to be killed
        (corpus / f"extra_{i}.txt").write_text(f"Extra document {i} about fisheries in the Pacific. " * 40)
    started = tmp_path / "started"
    script = tmp_path / "child.py"
    script.write_text(KILLED_BUILD)
    child = subprocess.Popen(
        [sys.executable, str(script), fast_settings.index_path, str(corpus), str(started), moment],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if moment == "while-embedding":
        deadline = time.time() + 60
        while not started.exists() and child.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the child never started embedding"
        child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=120) == -signal.SIGKILL
    assert (Path(fast_settings.index_path) / "manifest.json").read_text() == manifest_before
    reopened = Rag(fast_settings)
    assert [(h.chunk.id, round(h.score, 6)) for h in reopened.search(query, k=5)] == before
    assert len(reopened.documents()) == 5
    # and the next run recovers: it finishes the job and cleans up the debris
    report = reopened.index([corpus])
    assert report.documents == 35 and len(report.new) == 30
    leftovers = [p.name for p in Path(fast_settings.index_path).iterdir() if p.name.startswith(("data-", ".data-"))]
    assert leftovers == [json.loads((Path(fast_settings.index_path) / "manifest.json").read_text())["data"]]


def test_bad_inputs_are_skipped_with_reasons(corpus, fast_settings, capsys):
    (corpus / "empty.txt").write_text("")
    (corpus / "blank.md").write_text("   \n\n")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00" * 10)
    (corpus / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (corpus / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (corpus / "archive.zip").write_bytes(b"PK\x03\x04")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    missing = corpus / "does-not-exist.txt"
    code = cli(["index", str(corpus), str(missing), "--index", fast_settings.index_path, "--model", "test-hash"])
    out, err = capsys.readouterr()
    assert code == EXIT_SKIPPED
    assert out.rstrip().endswith("8 files skipped; vectors by test double")  # the summary says what embedded
    expectations = {
        "empty.txt": "empty",
        "blank.md": "empty",
        "binary.txt": "binary",
        "latin1.txt": "UTF-8",
        "image.png": "unreadable image (UnidentifiedImageError); re-save it as PNG",
        "archive.zip": "unsupported file type '.zip'",
        "broken.pdf": "corrupt or unreadable PDF",
        "does-not-exist.txt": "no such file",
    }
    lines = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert len(lines) == len(expectations)
    for name, reason in expectations.items():
        assert any(name in line and reason in line for line in lines), (name, lines)
    assert len(Rag(fast_settings).documents()) == 5  # the good files are all indexed


def test_bad_input_keeps_what_was_indexed(corpus, fast_settings, tmp_path):
    rag = Rag(fast_settings)
    rag.index([corpus])
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00\x00")
    report = rag.index([bad], prune=False)
    assert report.skipped and report.documents == 5


def _source(rag: Rag, path: Path) -> str:
    return next(s for s, _ in rag.documents() if s.endswith(path.name))


def test_chunks_keep_their_headings_and_an_index_from_before_headings_is_rebuilt(corpus, fast_settings):
    from rag.ingest.sections import Outline

    rag = Rag(fast_settings)
    built = rag.index([corpus])
    chunks = rag.backend.opened.chunks.chunks_by_vid(rag.backend.opened.chunks.all_chunks()[0]).values()
    assert any("Day Two (25 June 2025)" in c.heading for c in chunks)
    for chunk in chunks:
        assert chunk.heading == Outline(rag.document(chunk.source).text).context(chunk.start)
    # words found only in a chunk's heading find it: its heading is searched with it
    hits = rag.search("Day Three Leadership Multilateral", k=3, mode="bm25")
    assert any("Day Three" in h.chunk.heading and "Day Three" not in h.chunk.text for h in hits)

    # the same index as the previous release wrote it: no heading column, no "context" in the manifest
    path = Path(fast_settings.index_path)
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["chunking"]["context"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with sqlite3.connect(path / manifest["data"] / "chunks.sqlite") as db:
        db.execute("ALTER TABLE chunks DROP COLUMN heading")
    old = Rag(fast_settings)
    assert old.search("extradition treaties", k=3) and all(h.chunk.heading == "" for h in old.search("Day Two", k=5))
    rebuilt = old.index([corpus])
    assert rebuilt.embedded == rebuilt.chunks == built.chunks
    assert any(h.chunk.heading for h in Rag(fast_settings).search("Day Two", k=5))
