"""One conformance suite for the index backends (rag.store.backend): the same tests, through `Rag`, on the
folder (FAISS + SQLite + BM25) and on PostgreSQL + pgvector: incremental updates and their reports,
documents, search modes, removal, refusals that name the fix, reranking, and stale sources."""

from __future__ import annotations

import datetime
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import by_score

from rag import Document, IndexMismatchError, IndexNotFoundError, Rag, RagError, Settings
from rag.errors import ConfigError
from rag.ingest.documents import display_path
from rag.search.retrieve import MODES
from rag.settings import STORES
from rag.store.backend import BACKENDS
from rag.store.incremental import FORMAT_VERSION

pytest_plugins = ["pgserver"]  # the pg_server and pg_url fixtures

CORPUS = {
    "volcanoes.txt": "Volcanoes erupt when magma rises through the crust. Lava flows and ash clouds follow an "
    "eruption.\n\nMount Etna in Sicily is one of the most active volcanoes in Europe.",
    "bees.md": "Honey bees live in colonies with a single queen. Worker bees collect nectar and pollen from "
    "flowers.\n\nA colony can hold tens of thousands of bees in summer.",
    "trains.txt": "The first public railway opened in 1825. Steam locomotives pulled coal wagons between "
    "towns.\n\nHigh speed trains now run at over 300 kilometres per hour in Japan and France.",
    "bread.txt": "Bread rises because yeast ferments sugar and releases carbon dioxide. Sourdough uses a wild "
    "starter.\n\nBaking at a high temperature gives the crust its colour.",
    "tides.txt": "Tides are caused by the gravity of the moon and the sun. Spring tides happen at new and full "
    "moon.\n\nThe Bay of Fundy in Canada has the highest tides in the world.",
}
REPORT = "The committee met in Geneva in March.\nMalaysia currently has 11 extradition treaties.\nThe next meeting is in Oslo.\n"
QUESTION = "How many extradition treaties does Malaysia have?"


@pytest.fixture(params=["faiss", pytest.param("pgvector", marks=pytest.mark.postgres)])
def settings(request, tmp_path) -> Settings:
    """Settings for an empty index of each backend (pgvector: in a fresh database)."""
    base = Settings(embedding_model="test-hash", chunk_tokens=24, chunk_overlap=4)
    if request.param == "faiss":
        return base.with_(index_path=str(tmp_path / "index"))
    return base.with_(store="pgvector", store_url=request.getfixturevalue("pg_url"))


@pytest.fixture
def topics(tmp_path) -> Path:
    """A folder of five short documents, one topic each."""
    folder = tmp_path / "topics"
    folder.mkdir()
    for name, text in CORPUS.items():
        (folder / name).write_text(text)
    return folder


def source(topics: Path, name: str) -> str:
    return display_path(topics / name)


def options(settings: Settings) -> str:
    """How the command line names this index, as the errors say."""
    return f"--index {settings.index_path}" if settings.store == "faiss" else "--store pgvector --store-url URL"


def alter_store(settings: Settings, sqlite_sql: str, postgres_sql: str) -> None:
    """Run one statement on the stored index: the folder's chunks.sqlite, or the PostgreSQL tables."""
    if settings.store == "faiss":
        index = Path(settings.index_path)
        data = json.loads((index / "manifest.json").read_text())["data"]
        with sqlite3.connect(index / data / "chunks.sqlite") as db:
            db.execute(sqlite_sql)
    else:
        with psycopg().connect(settings.store_url, autocommit=True) as conn:
            conn.execute(postgres_sql)


def drop_origins(settings: Settings) -> None:
    """The stored index as release 0.2 wrote it: documents without their origin."""
    alter_store(settings, "ALTER TABLE documents DROP COLUMN origin", "ALTER TABLE rag_documents DROP COLUMN origin")


def set_format_version(settings: Settings, version: int) -> None:
    if settings.store == "faiss":
        manifest = Path(settings.index_path) / "manifest.json"
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": version}))
    else:
        with psycopg().connect(settings.store_url, autocommit=True) as conn:
            conn.execute("UPDATE rag_meta SET value = to_jsonb(%s::int) WHERE key = 'format_version'", (version,))


def psycopg():
    import psycopg

    return psycopg


def test_every_store_has_a_backend():
    assert set(BACKENDS) == set(STORES)


def test_updates_embed_only_what_changed(settings, topics):
    rag = Rag(settings)
    first = rag.index([topics])
    assert first.documents == 5 and first.new == tuple(sorted(source(topics, n) for n in CORPUS))
    assert first.embedded == first.chunks > 5 and first.reused == 0 and not first.changed and not first.removed
    again = rag.index([topics])
    assert (again.documents, again.chunks, again.embedded, again.new, again.changed, again.removed, again.unchanged) == (
        5, first.chunks, 0, (), (), (), 5)

    reader = Rag(settings)  # another process, as far as `rag` knows
    assert reader.documents() == rag.documents()
    (topics / "bees.md").write_text(CORPUS["bees.md"] + "\n\nBumblebees are larger and hairier than honey bees.")
    (topics / "tides.txt").unlink()
    (topics / "trains.txt").write_text("")  # unreadable now: skipped, and kept in the index
    (topics / "otters.txt").write_text("Otters hold hands while they sleep so they do not drift apart.")
    report = rag.index([topics])
    assert report.new == (source(topics, "otters.txt"),) and report.changed == (source(topics, "bees.md"),)
    assert report.removed == (source(topics, "tides.txt"),) and report.unchanged == 2
    assert [s.source for s in report.skipped] == [source(topics, "trains.txt")]
    bees = dict(rag.documents())[source(topics, "bees.md")]
    assert report.reused > 0 and report.embedded == bees - report.reused + 1  # the new chunks, and the otters' one
    assert report.documents == 5 and report.chunks == sum(n for _, n in rag.documents())
    assert reader.documents() == rag.documents()
    assert "Bumblebees" in reader.search("bumblebees hairier", k=1, mode="bm25")[0].chunk.text
    for mode in MODES:
        assert not any(h.chunk.source.endswith("tides.txt") for h in reader.search("tides moon gravity", k=20, mode=mode))


def test_documents_keep_their_text_hash_and_origin(settings, topics):
    rag = Rag(settings)
    rag.index([topics])
    listed = rag.documents()
    assert [s for s, _ in listed] == sorted(source(topics, n) for n in CORPUS) and all(n >= 1 for _, n in listed)
    bees = rag.document(source(topics, "bees.md"))
    assert bees.text == CORPUS["bees.md"] and bees.origin == str((topics / "bees.md").resolve())
    assert bees.sha256 == hashlib.sha256((topics / "bees.md").read_bytes()).hexdigest()
    assert rag.document("nowhere.txt") is None

    note = Document.from_text("notes/x.txt", "Glaciers carve U-shaped valleys.")
    report = rag.add_documents([note])
    assert (report.new, report.embedded, report.documents, report.unchanged) == (("notes/x.txt",), 1, 6, 0)
    assert rag.document("notes/x.txt") == note and note.origin is None
    assert rag.add_documents([note]).embedded == 0


def test_search_modes(settings, topics):
    rag = Rag(settings)
    chunks = rag.index([topics]).chunks
    detail = {"dense": {"dense_rank", "dense"}, "bm25": {"bm25_rank", "bm25"}}
    for mode in MODES:
        hits = rag.search("which volcano is active in Sicily", k=2, mode=mode)  # BM25 finds 2 chunks
        assert [h.rank for h in hits] == [1, 2] and hits[0].chunk.source.endswith("volcanoes.txt")
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        for hit in hits:
            assert rag.document(hit.chunk.source).text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
            assert set(hit.scores) == detail[mode] if mode in detail else set(hit.scores) & {"dense_rank", "bm25_rank"}
    assert set(rag.search("which volcano is active in Sicily", k=1, mode="hybrid")[0].scores) == detail["dense"] | detail["bm25"]
    every = rag.search("bees", k=100, mode="dense")
    assert len(every) == len({h.chunk.id for h in every}) == chunks  # k past the chunk count: each chunk once
    assert all(h.chunk.source.endswith("bees.md") for h in rag.search("bees", k=100, mode="bm25"))
    with pytest.raises(ConfigError, match="unknown retrieval mode 'fuzzy'; known: dense, bm25, hybrid"):
        rag.search("bees", mode="fuzzy")


def test_remove(settings):
    rag = Rag(settings)
    docs = [Document.from_text(f"{name}.txt", f"The {name} {text}.") for name, text in
            [("zebra", "grazes on the savanna"), ("walrus", "rests on the arctic ice"), ("heron", "waits in shallow water")]]
    rag.add_documents(docs)
    with pytest.raises(RagError, match=r"^not in the index: nope.txt \(see `rag docs` for the indexed documents\)$"):
        rag.remove(["zebra.txt", "nope.txt"])
    assert len(rag.documents()) == 3  # nothing was removed
    report = rag.remove(["heron.txt"])
    assert (report.removed, report.documents, report.chunks, report.embedded) == (("heron.txt",), 2, 2, 0)
    assert rag.document("heron.txt") is None and [s for s, _ in rag.documents()] == ["walrus.txt", "zebra.txt"]
    for mode in MODES:
        assert not any(h.chunk.source == "heron.txt" for h in rag.search("heron shallow water", k=5, mode=mode))


def test_chunks_keep_their_ocr_mark_and_confidence(settings):
    text = "A typed cover note about zebras.\n\nThe scanned letter says the walrus rests on the arctic ice."
    scanned = text.index("The scanned")
    letter = Document(source="letter.pdf", text=text, sha256="1", pages=((0, 1), (scanned, 2)),
                      ocr=((scanned, len(text) - 20, 0.9), (len(text) - 20, len(text), 0.6)))
    rag = Rag(settings)
    rag.add_documents([letter, Document.from_text("typed.txt", "Zebras graze on the savanna.")])
    for mode in MODES:
        chunks = {h.chunk.page: h.chunk for h in rag.search("walrus arctic ice zebras cover note", k=5, mode=mode)
                  if h.chunk.source == "letter.pdf"}
        length = len(text) - scanned  # 20 characters read at 0.6, the rest at 0.9: the mean by character
        assert chunks[2].ocr and chunks[2].ocr_confidence == round(((length - 20) * 0.9 + 20 * 0.6) / length, 4)
        assert not chunks[1].ocr and chunks[1].ocr_confidence is None


def test_another_model_or_format_is_refused_with_the_fix(settings, topics):
    Rag(settings).index([topics])
    other = Rag(settings.with_(embedding_model="test-hash:32"))
    for call in (lambda: other.search("bees"), other.documents, lambda: other.document("x"), lambda: other.index([topics])):
        with pytest.raises(IndexMismatchError) as caught:
            call()
        message = str(caught.value)
        assert "\n" not in message and "built with embedding model 'test-hash' (64 dims), not 'test-hash:32'" in message
        assert message.endswith(f"use --model test-hash, or rebuild with `rag index --rebuild --model test-hash:32 {options(settings)}`")
    rebuilt = other.index([topics], rebuild=True)
    assert len(rebuilt.new) == 5 and rebuilt.embedded == rebuilt.chunks
    assert other.search("which volcano is active in Sicily", k=1)[0].chunk.source.endswith("volcanoes.txt")
    rechunked = Rag(settings.with_(embedding_model="test-hash:32", chunk_tokens=100, chunk_overlap=10)).index([topics])
    assert len(rechunked.new) == 5 and rechunked.embedded == rechunked.chunks < rebuilt.chunks  # other chunks: all anew

    newer = settings.with_(embedding_model="test-hash:32", chunk_tokens=100, chunk_overlap=10)
    refusals = [
        (99, f"uses index format 99, newer than this version of rag reads ({FORMAT_VERSION}): upgrade rag, or rebuild with "),
        # from before chunks recorded OCR: read and updated alike, refused with the fix
        (1, f"uses index format 1, older than this version of rag reads ({FORMAT_VERSION}): rebuild it with "),
    ]
    for version, says in refusals:
        set_format_version(settings, version)
        for call in (lambda: Rag(newer).search("bees"), lambda: Rag(newer).index([topics])):
            with pytest.raises(IndexMismatchError) as caught:
                call()
            assert str(caught.value).endswith(f"{says}`rag index --rebuild {options(settings)}`")
    assert Rag(newer).index([topics], rebuild=True).documents == 5


def test_no_index_yet_says_how_to_build_one(settings):
    rag = Rag(settings)
    for call in (lambda: rag.search("anything"), rag.documents, lambda: rag.document("x")):
        with pytest.raises(IndexNotFoundError, match=r"^no index (at|in) .*: build one with `rag index \[PATH \.\.\.\] ") as caught:
            call()
        assert str(caught.value).endswith(f"{options(settings)}`")
    with pytest.raises(RagError, match="not in the index: x.txt"):
        rag.remove(["x.txt"])
    report = rag.add_documents([])  # an empty index, which answers with nothing
    assert (report.documents, report.chunks) == (0, 0) and rag.documents() == []
    assert all(rag.search("anything", mode=mode) == [] for mode in MODES)


class Reversed:
    """A reranker that turns the first stage's order around."""

    def score(self, query, passages):
        return [float(i) for i in range(len(passages))]


def test_reranking_follows_the_first_stage_of_any_backend(settings, topics):
    Rag(settings).index([topics])
    query = "bees collect nectar from flowers"
    first = Rag(settings).search(query, k=settings.candidates)  # what the reranker is given
    reranked = Rag(settings, reranker=Reversed())
    hits = reranked.search(query, k=3)
    assert [h.chunk.id for h in hits] == [h.chunk.id for h in reversed(first)][:3] and [h.rank for h in hits] == [1, 2, 3]
    assert [h.scores["first_stage"] for h in hits] == [h.score for h in reversed(first)][:3]
    assert reranked.retriever().search(query, k=3) == hits


def test_an_in_memory_document_is_never_compared_with_a_file_of_its_name(settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a different report.txt (CRLF line ends: other bytes) lies
    (tmp_path / "report.txt").write_bytes(REPORT.replace("\n", "\r\n").encode())
    rag = Rag(settings)
    rag.add_documents([Document.from_text("report.txt", REPORT)])
    answer = rag.ask(QUESTION)
    assert not answer.abstained and not answer.withheld and "11 extradition treaties" in answer.text
    assert answer.citations and all(c.verified for c in answer.citations)
    assert rag.source_text("report.txt") == REPORT


def test_a_file_changed_after_indexing_is_stale_wherever_rag_runs(settings, tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "report.txt").write_text(REPORT)
    rag = Rag(settings)
    rag.index([folder])
    name = source(folder, "report.txt")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the file is found where it was loaded from, not by its name
    assert rag.source_text(name) == REPORT and not rag.ask(QUESTION).abstained

    (folder / "report.txt").write_text(REPORT.replace("11", "12"))  # edited after indexing
    assert rag.source_text(name) is None
    stale = rag.ask(QUESTION)
    assert stale.abstained and "11 extradition" not in stale.text
    assert any("no longer matches the index" in p for claim in stale.withheld for p in claim.problems)
    assert rag.index([folder]).changed == (name,)
    assert "12 extradition treaties" in rag.ask(QUESTION).text


def test_an_index_from_before_origins_reads_and_is_brought_up_to_date(settings, topics):
    rag = Rag(settings)
    built = rag.index([topics])
    drop_origins(settings)
    old = Rag(settings)
    bees = old.document(source(topics, "bees.md"))
    assert bees.origin is None and bees.text == CORPUS["bees.md"]
    assert old.search("which volcano is active in Sicily", k=1)[0].chunk.source.endswith("volcanoes.txt")
    report = old.index([topics])
    assert (report.new, report.changed, report.unchanged, report.embedded, report.chunks) == ((), (), 5, 0, built.chunks)
    assert old.document(source(topics, "bees.md")).origin == str((topics / "bees.md").resolve())
    (topics / "bees.md").write_text("Bees dance to tell the hive where flowers are.")
    assert old.source_text(source(topics, "bees.md")) is None  # stale files are caught again


# --- both backends side by side: same vectors in, same answers out ------------------------------

QUERIES = [
    "which volcano is active in Sicily",
    "what do worker bees collect",
    "how fast are high speed trains",
    "why does bread rise",
]


@pytest.mark.postgres
def test_both_backends_give_the_same_answers(topics, tmp_path, pg_url):
    settings = Settings(embedding_model="test-hash", chunk_tokens=24, chunk_overlap=4)
    faiss = Rag(settings.with_(index_path=str(tmp_path / "index")))
    pg = Rag(settings.with_(store="pgvector", store_url=pg_url))

    first = [rag.index([topics]) for rag in (faiss, pg)]
    assert first[0].chunks == first[1].chunks > len(CORPUS)
    assert first[0].new == first[1].new and first[0].embedded == first[1].embedded == first[0].chunks
    assert faiss.documents() == pg.documents()

    for query in QUERIES:
        a, b = (rag.search(query, k=4, mode="dense") for rag in (faiss, pg))
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)
        assert by_score(a) == by_score(b)
        assert a[0].chunk == b[0].chunk and a[0].score > a[1].score
        assert set(b[0].scores) == {"dense_rank", "dense"}

    topic = {q: name for q, name in zip(QUERIES, ["volcanoes.txt", "bees.md", "trains.txt", "bread.txt"])}
    for query, name in topic.items():
        for rag in (faiss, pg):
            hits = rag.search(query, k=3, mode="hybrid")
            assert hits[0].chunk.source.endswith(name), (query, [h.chunk.source for h in hits])
            assert [h.rank for h in hits] == [1, 2, 3]
            assert hits[0].scores["dense_rank"] >= 1 and hits[0].scores["bm25_rank"] >= 1
            assert hits[0].score == pytest.approx(1 / 61 * 2, rel=0.2)  # ranked near the top by both
        lexical = pg.search(query, k=3, mode="bm25")
        assert lexical[0].chunk.source.endswith(name) and set(lexical[0].scores) == {"bm25_rank", "bm25"}

    # update one document, delete another: both stores report and answer the same
    (topics / "bees.md").write_text(CORPUS["bees.md"] + "\n\nBumblebees are larger and hairier than honey bees.")
    (topics / "tides.txt").unlink()
    second = [rag.index([topics]) for rag in (faiss, pg)]
    for report in second:
        assert len(report.changed) == 1 and report.changed[0].endswith("bees.md")
        assert report.removed[0].endswith("tides.txt") and len(report.removed) == 1
        assert report.reused > 0 and 0 < report.embedded < first[0].chunks
    counts = [(r.documents, r.chunks, r.embedded, r.reused) for r in second]
    assert counts[0] == counts[1]
    assert faiss.documents() == pg.documents()
    assert not any(s.endswith("tides.txt") for s, _ in pg.documents())
    for rag in (faiss, pg):
        hits = rag.search("bumblebees hairier", k=1, mode="hybrid")
        assert "Bumblebees" in hits[0].chunk.text
        assert not any(h.chunk.source.endswith("tides.txt") for h in rag.search("tides moon gravity", k=5))
    bees = next(s for s, _ in pg.documents() if s.endswith("bees.md"))
    assert pg.document(bees) == faiss.document(bees)
    assert pg.document(bees).text.endswith("hairier than honey bees.")


# --- metadata and filters: the same documents kept, the same errors, on every backend -------------

def tagged_documents() -> list[Document]:
    """Five documents with typed metadata: a team (text), a year (number), a published date."""
    tags = {
        "reports/volcanoes.txt": ("volcanoes.txt", {"team": "geo", "year": 2024, "published": datetime.date(2025, 5, 2)}),
        "reports/bees.md": ("bees.md", {"team": "bio", "year": 2025, "published": datetime.date(2025, 6, 15)}),
        "notes/trains.txt": ("trains.txt", {"team": "transport", "year": 2025, "published": datetime.date(2025, 7, 1)}),
        "notes/bread.txt": ("bread.txt", {"team": "bio", "year": 2023, "author": "Jane Doe"}),
        "tides.txt": ("tides.txt", {}),
    }
    return [Document.from_text(source, CORPUS[name], meta) for source, (name, meta) in tags.items()]


FILTERED = [  # filter -> the sources it keeps
    ("team=bio", {"reports/bees.md", "notes/bread.txt"}),
    ("team in geo, transport", {"reports/volcanoes.txt", "notes/trains.txt"}),
    ({"team": ["geo", "transport"]}, {"reports/volcanoes.txt", "notes/trains.txt"}),
    ("year>=2025", {"reports/bees.md", "notes/trains.txt"}),
    ({"year": {">": 2023, "<": 2025}}, {"reports/volcanoes.txt"}),
    ("year=2025", {"reports/bees.md", "notes/trains.txt"}),
    ("published>=2025-06-01", {"reports/bees.md", "notes/trains.txt"}),
    ({"published": datetime.date(2025, 5, 2)}, {"reports/volcanoes.txt"}),
    ("source=reports/*", {"reports/volcanoes.txt", "reports/bees.md"}),
    ("source=notes/b?ead.txt", {"notes/bread.txt"}),
    ("source in tides.txt, notes/trains.txt", {"tides.txt", "notes/trains.txt"}),
    (["source=notes/*", "team=bio"], {"notes/bread.txt"}),  # conditions AND together
    ("author=Jane*", {"notes/bread.txt"}),
]


def test_metadata_is_stored_and_returned_with_every_hit(settings):
    rag = Rag(settings)
    docs = tagged_documents()
    rag.add_documents(docs)
    bees = rag.document("reports/bees.md")
    assert bees.metadata == {"team": "bio", "year": 2025, "published": datetime.date(2025, 6, 15)}  # a first sentence is no title
    assert rag.metadata_keys() == ["author", "published", "team", "year"]
    assert rag.metadata() == {d.source: d.metadata for d in docs if d.metadata}
    for mode in MODES:
        hits = rag.search("bees volcanoes trains bread tides", k=20, mode=mode)
        assert len({h.chunk.source for h in hits}) >= 4
        assert all(h.chunk.metadata == rag.document(h.chunk.source).metadata for h in hits)
    titled = rag.add_documents([Document.from_text("guide.md", "# Field Guide\n\nVolcanoes erupt when magma rises.")])
    assert titled.new == ("guide.md",) and rag.document("guide.md").metadata == {"title": "Field Guide"}
    assert rag.search("magma field guide", k=1, filters="source=guide.md")[0].chunk.title == "Field Guide"


@pytest.mark.parametrize(("spec", "kept"), FILTERED, ids=[str(s) for s, _ in FILTERED])
def test_filters_keep_the_same_documents_in_every_mode(settings, spec, kept):
    rag = Rag(settings)
    rag.add_documents(tagged_documents())
    n_chunks = {s: n for s, n in rag.documents()}
    for mode in ("dense", "hybrid"):  # dense ranks every chunk: all kept chunks come back, none other
        hits = rag.search("bees volcanoes trains bread tides", k=100, mode=mode, filters=spec)
        assert {h.chunk.source for h in hits} == kept, (mode, spec)
        assert len(hits) == sum(n_chunks[s] for s in kept)
        hits = rag.search("bees volcanoes trains bread tides", k=2, mode=mode, filters=spec)
        assert len(hits) == 2 and {h.chunk.source for h in hits} <= kept  # k come back, not fewer
    lexical = rag.search("bees volcano magma trains railway bread yeast tides moon", k=100, mode="bm25", filters=spec)
    assert lexical and {h.chunk.source for h in lexical} <= kept
    answer = rag.ask("What do worker bees collect?", filters=spec)
    assert {h.chunk.source for h in answer.passages} <= kept


def test_a_filter_that_keeps_nothing_is_an_empty_result_and_an_unknown_key_an_error(settings):
    rag = Rag(settings)
    rag.add_documents(tagged_documents())
    for spec in ("team=chemistry", "year>2030", "source=elsewhere/*", ["team=geo", "year=2025"]):
        assert all(rag.search("bees", k=5, mode=mode, filters=spec) == [] for mode in MODES)
        answer = rag.ask("What do worker bees collect?", filters=spec)
        assert answer.abstained and answer.passages == () and not answer.citations
    for call in (lambda: rag.search("bees", filters="colour=red"), lambda: rag.ask("bees?", filters={"colour": "red"})):
        with pytest.raises(ConfigError) as caught:
            call()
        assert str(caught.value) == "unknown filter key 'colour'; this index knows: author, published, source, team, year"
    bad = {"year>=soon": "a range needs a number or a date", "source>a": "source takes = or in", "team": "cannot read the filter",
           "=bio": "cannot read the filter"}
    for spec, message in bad.items():
        with pytest.raises(ConfigError, match=message):
            rag.search("bees", filters=spec)


def test_new_metadata_on_unchanged_text_is_stored_without_embedding(settings, topics):
    rag = Rag(settings)
    rag.index([topics], metadata={"team": "geo"})
    bees = source(topics, "bees.md")
    assert rag.document(bees).metadata["team"] == "geo" and rag.document(bees).metadata["modified"] == datetime.date.today()
    report = rag.index([topics], metadata={"team": "bio", "reviewed": datetime.date(2025, 9, 1)})
    assert (report.embedded, report.unchanged, report.new, report.changed) == (0, 5, (), ())
    assert rag.search("bees", k=1, filters=["team=bio", "reviewed<=2025-09-01"])[0].chunk.metadata["team"] == "bio"
    assert rag.search("bees", k=1, filters="team=geo") == []
    rag.remove([bees])
    assert bees not in rag.metadata() and rag.search("bees", k=20, filters=f"source={bees}") == []
    with pytest.raises(ConfigError, match="metadata key 'source' must be"):
        rag.index([topics], metadata={"source": "x"})


def drop_metadata(settings: Settings) -> None:
    """The stored index as release 0.2 wrote it: no metadata table."""
    alter_store(settings, "DROP TABLE metadata", "DROP TABLE rag_metadata")


def test_an_index_from_before_metadata_reads_and_gains_it(settings, topics):
    Rag(settings).index([topics])
    drop_metadata(settings)
    old = Rag(settings)
    bees = source(topics, "bees.md")
    assert old.document(bees).metadata == {} and old.metadata() == {} and old.metadata_keys() == []
    assert {h.chunk.source for h in old.search("bees", k=50, filters=f"source={bees}")} == {bees}
    with pytest.raises(ConfigError, match="unknown filter key 'modified'; this index knows: source$"):
        old.search("bees", filters="modified>=2020-01-01")
    report = old.index([topics])
    assert report.embedded == 0 and old.document(bees).metadata["modified"] == datetime.date.today()
    assert len(old.search("bees", k=50, filters="modified>=2020-01-01")) == sum(n for _, n in old.documents())


def test_a_selective_filter_still_returns_k(settings):
    """1% of 2,000 one-chunk documents kept: k come back from inside the search (FAISS restricted to
    the allowed ids; pgvector's HNSW scan iterating past ef_search), in every mode."""
    words = ["amber", "basalt", "cedar", "delta", "ember", "fjord", "granite", "harbor", "island", "juniper"]
    docs = [Document.from_text(f"many/{i:04d}.txt", f"Note {i} about {words[i % 10]} and {words[(i * 7) % 10]} near the {words[(i * 3) % 10]}.",
                               {"group": i % 100}) for i in range(2000)]
    rag = Rag(settings)
    rag.add_documents(docs)
    for mode in MODES:
        hits = rag.search("amber basalt cedar delta ember fjord granite harbor island juniper", k=10, mode=mode, filters="group=42")
        assert len(hits) == 10 and {h.chunk.metadata["group"] for h in hits} == {42}, mode
        assert all(int(h.chunk.source[5:9]) % 100 == 42 for h in hits)
    if settings.store == "pgvector":  # pgvector before 0.8 (no iterative scan): an exact scan of the kept rows
        assert rag.backend._iterative is True
        rag.backend._iterative = False
        hits = rag.search("amber basalt cedar", k=10, mode="dense", filters="group=42")
        assert len(hits) == 10 and {h.chunk.metadata["group"] for h in hits} == {42}
