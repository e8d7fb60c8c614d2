"""The PostgreSQL + pgvector index against a real server: the seed corpus with the real model, the
CLI, incremental runs, a server killed between and during queries, and a killed indexing run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pgserver import start_server

from rag import IndexMismatchError, IndexNotFoundError, Rag, RagError, Settings, StoreError
from rag.embed.embedders import HashEmbedder, make_embedder
from rag.errors import ConfigError

pytest_plugins = ["pgserver"]  # the pg_server and pg_url fixtures
ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
QUESTION = "which countries have extradition treaties with Malaysia?"
ANSWER_FILE = "000_802fec47948a7749.txt"

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def minilm():
    return make_embedder("all-MiniLM-L6-v2")


def assert_answers(hits) -> None:
    top = hits[0]
    assert top.chunk.source.endswith(ANSWER_FILE), [h.chunk.source for h in hits]
    assert "11 extradition treaties" in top.chunk.text
    assert (SEEDS / ANSWER_FILE).read_text()[top.chunk.start : top.chunk.end] == top.chunk.text


@pytest.mark.slow
def test_seed_corpus_with_the_real_model(pg_url, minilm):
    rag = Rag(Settings(store="pgvector", store_url=pg_url), embedder=minilm)
    first = rag.index([SEEDS])
    assert (first.documents, len(first.new)) == (5, 5)
    assert first.embedded == first.chunks > 5
    for mode in ("hybrid", "dense"):
        hits = rag.search(QUESTION, k=5, mode=mode)
        assert_answers(hits)
        assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    hybrid = rag.search(QUESTION, k=5)
    assert set(hybrid[0].scores) == {"dense_rank", "bm25_rank", "dense", "bm25"}
    assert hybrid[0].scores["dense"] > 0.5
    # chunks keep the title and section heading they stand under, and are searched with it
    listed = rag.search("Day Two Consultations with ASEAN Dialogue Partners", k=5, mode="bm25")
    assert any(h.chunk.heading.endswith("Day Two (25 June 2025): Consultations with ASEAN Dialogue Partners") for h in listed)

    again = rag.index([SEEDS])
    assert (again.embedded, again.unchanged, again.chunks) == (0, 5, first.chunks)
    assert [h.chunk.id for h in rag.search(QUESTION, k=5)] == [h.chunk.id for h in hybrid]
    source = hybrid[0].chunk.source
    assert rag.document(source).text == (SEEDS / ANSWER_FILE).read_text()


@pytest.mark.slow
def test_killed_server_gives_a_clear_error_and_the_index_survives(minilm):
    server = start_server()  # its own server: this test kills it
    try:
        url = server.create_database()
        rag = Rag(Settings(store="pgvector", store_url=url), embedder=minilm)
        report = rag.index([SEEDS])
        before = [(h.chunk.id, round(h.score, 6)) for h in rag.search(QUESTION)]
        documents = rag.documents()

        # killed while a client keeps querying: every failure is a StoreError
        failures: list[BaseException] = []
        started = threading.Event()

        def query_until_it_fails():
            try:
                while True:
                    rag.search(QUESTION, k=3)
                    started.set()
            except BaseException as err:  # noqa: BLE001 - the test inspects it
                failures.append(err)
                started.set()

        worker = threading.Thread(target=query_until_it_fails)
        worker.start()
        assert started.wait(60)
        server.stop("immediate")
        worker.join(60)
        assert not worker.is_alive()
        assert len(failures) == 1 and isinstance(failures[0], StoreError), failures
        # and between queries, on a server that is gone
        for call in (lambda: rag.search(QUESTION), rag.documents, lambda: rag.index([SEEDS])):
            with pytest.raises(StoreError, match="is the server running") as caught:
                call()
            message = str(caught.value)
            assert "\n" not in message and "127.0.0.1" in message

        server.start()
        assert rag.documents() == documents
        assert [(h.chunk.id, round(h.score, 6)) for h in rag.search(QUESTION)] == before
        assert_answers(rag.search(QUESTION))
        assert rag.index([SEEDS]).embedded == 0
        assert report.chunks == sum(n for _, n in documents)
    finally:
        server.destroy()


@pytest.mark.slow
def test_cli_index_and_search(pg_url):
    def rag_cli(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "rag.cli", *args, "--store", "pgvector", "--store-url", pg_url]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    indexed = rag_cli("index", "seeds", "--json")
    assert indexed.returncode == 0, indexed.stderr
    report = json.loads(indexed.stdout)
    assert report["documents"] == 5 and report["embedded"] == report["chunks"] > 5
    assert json.loads(rag_cli("index", "seeds", "--json").stdout)["embedded"] == 0

    searched = rag_cli("search", QUESTION, "--json", "-k", "3")
    assert searched.returncode == 0, searched.stderr
    hits = json.loads(searched.stdout)
    assert hits[0]["source"] == f"seeds/{ANSWER_FILE}" and "11 extradition treaties" in hits[0]["text"]
    assert [h["rank"] for h in hits] == [1, 2, 3]

    listed = rag_cli("docs")
    assert listed.returncode == 0 and "5 documents" in listed.stdout


def test_cli_error_when_the_server_is_unreachable(pg_server):
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/nothing"
    command = [
        sys.executable,
        "-m",
        "rag.cli",
        "search",
        "anything",
        "--model",
        "test-hash",
        "--store",
        "pgvector",
        "--store-url",
        url,
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:")
    assert "is the server running?" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- fast tests with the hashing embedder ------------------------------------------------------


def small_corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a.txt").write_text("Otters hold hands while they sleep so they do not drift apart.")
    (folder / "b.txt").write_text("The Danube flows through ten countries before reaching the Black Sea.")
    (folder / "c.txt").write_text("Copper turns green as it oxidizes, which is why old roofs look teal.")
    return folder


class Exploding(HashEmbedder):
    """Dies on the first document embedding: an indexing run killed half way."""

    def embed(self, texts, *, query=False):
        if not query:
            raise KeyboardInterrupt
        return super().embed(texts, query=query)


def test_interrupted_run_leaves_the_previous_index(tmp_path, pg_url):
    corpus = small_corpus(tmp_path / "corpus")
    settings = Settings(store="pgvector", store_url=pg_url, embedding_model="test-hash")
    rag = Rag(settings)
    rag.index([corpus])
    before_docs = rag.documents()
    before_hits = [(h.chunk.id, h.score) for h in rag.search("otters sleep")]

    (corpus / "a.txt").write_text("Sea otters use rocks as tools to open shellfish.")
    (corpus / "d.txt").write_text("Basalt columns form when thick lava cools slowly.")
    (corpus / "b.txt").unlink()
    broken = Rag(settings, embedder=Exploding(model_id="test-hash"))
    with pytest.raises(KeyboardInterrupt):
        broken.index([corpus])
    assert rag.documents() == before_docs
    assert [(h.chunk.id, h.score) for h in rag.search("otters sleep")] == before_hits

    report = rag.index([corpus])
    assert (len(report.new), len(report.changed), len(report.removed), report.unchanged) == (1, 1, 1, 1)
    assert report.embedded == 2 and report.documents == 3
    assert "rocks as tools" in rag.search("otters rocks tools", k=1)[0].chunk.text


def test_add_remove_and_documents(tmp_path, pg_url):
    from rag import Document

    rag = Rag(Settings(store="pgvector", store_url=pg_url, embedding_model="test-hash"))
    report = rag.add_documents(
        [
            Document.from_text("notes/x.txt", "Glaciers carve U-shaped valleys."),
            Document.from_text("notes/y.txt", "Sand dunes migrate with the wind."),
        ]
    )
    assert (report.documents, report.embedded, report.new) == (2, 2, ("notes/x.txt", "notes/y.txt"))
    assert rag.documents() == [("notes/x.txt", 1), ("notes/y.txt", 1)]
    assert rag.document("notes/y.txt").text == "Sand dunes migrate with the wind."
    assert rag.document("notes/none.txt") is None
    with pytest.raises(RagError, match="not in the index: notes/none.txt"):
        rag.remove(["notes/none.txt"])
    report = rag.remove(["notes/x.txt"])
    assert report.removed == ("notes/x.txt",) and report.documents == 1 and report.chunks == 1
    assert [h.chunk.source for h in rag.search("glaciers valleys", mode="bm25")] == []


def test_mismatched_model_and_chunking(tmp_path, pg_url):
    corpus = small_corpus(tmp_path / "corpus")
    settings = Settings(store="pgvector", store_url=pg_url, embedding_model="test-hash")
    Rag(settings).index([corpus])
    other = Rag(settings.with_(embedding_model="test-hash:32"))
    for call in (lambda: other.search("otters"), other.documents, lambda: other.index([corpus])):
        with pytest.raises(
            IndexMismatchError, match="built with embedding model 'test-hash' .64 dims., not 'test-hash:32'"
        ):
            call()
    rebuilt = other.index([corpus], rebuild=True)
    assert rebuilt.embedded == 3 and len(rebuilt.new) == 3
    assert other.search("otters hold hands", k=1)[0].chunk.source.endswith("a.txt")
    rechunked = Rag(settings.with_(embedding_model="test-hash:32", chunk_tokens=100, chunk_overlap=10)).index([corpus])
    assert len(rechunked.new) == 3 and rechunked.embedded == 3  # new chunking: everything is rebuilt


def test_configuration_errors(pg_url):
    with pytest.raises(ConfigError, match="needs a database URL"):
        Rag(Settings(store="pgvector", embedding_model="test-hash"))
    empty = Rag(Settings(store="pgvector", store_url=pg_url, embedding_model="test-hash"))
    with pytest.raises(
        IndexNotFoundError, match="no index in postgresql://postgres@127.0.0.1:.*build one with `rag index"
    ):
        empty.search("anything")
    with pytest.raises(ConfigError, match="unknown retrieval mode 'fuzzy'"):
        empty.search("anything", mode="fuzzy")
    secret = pg_url.replace("postgres@", "postgres:hunter2@").rsplit(":", 1)[0] + f":{_closed_port()}/db"
    gone = Rag(Settings(store="pgvector", store_url=secret, embedding_model="test-hash"))
    with pytest.raises(StoreError, match="cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:") as caught:
        gone.documents()
    assert "hunter2" not in str(caught.value)


def test_tables_from_before_headings_still_search_and_are_rebuilt(tmp_path, pg_url):
    import psycopg

    corpus = small_corpus(tmp_path / "corpus")
    rivers = "The Danube has many tributaries. It drains a large basin across central Europe.\n"
    (corpus / "d.txt").write_text("Notes on Rivers\n" + rivers * 3)
    settings = Settings(store="pgvector", store_url=pg_url, embedding_model="test-hash", chunk_tokens=16, chunk_overlap=0)
    built = Rag(settings).index([corpus])
    assert any(h.chunk.heading == "Notes on Rivers" for h in Rag(settings).search("rivers basin", k=4))
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the tables as release 0.1 wrote them
        conn.execute("ALTER TABLE rag_chunks DROP COLUMN tsv, DROP COLUMN heading")
        conn.execute("ALTER TABLE rag_chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED")
        conn.execute("UPDATE rag_meta SET value = value #- '{context}' WHERE key = 'chunking'")
    old = Rag(settings)
    hits = old.search("rivers basin", k=4)
    assert hits and all(h.chunk.heading == "" for h in hits)
    rebuilt = old.index([corpus])
    assert rebuilt.embedded == rebuilt.chunks == built.chunks
    assert any(h.chunk.heading == "Notes on Rivers" for h in Rag(settings).search("rivers basin", k=4))
