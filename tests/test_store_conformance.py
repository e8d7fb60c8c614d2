"""One conformance suite for every vector store (FAISS, pgvector), then the same corpus through `Rag`
on each store: same vectors in, same neighbours out."""

from __future__ import annotations

import numpy as np
import pytest

from rag import Rag, Settings
from rag.store import FaissStore

pytest_plugins = ["pgserver"]  # the pg_server and pg_url fixtures

DIM = 32
STORES = ["faiss", pytest.param("pgvector", marks=pytest.mark.postgres)]


def unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int):
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]


@pytest.fixture(params=STORES)
def store(request):
    """An empty store of each kind (pgvector: in a fresh database)."""
    if request.param == "faiss":
        yield FaissStore(DIM)
        return
    from rag.pgstore import PgVectorStore

    store = PgVectorStore(request.getfixturevalue("pg_url"), DIM)
    yield store
    store.close()


def test_search_matches_exact_inner_product(store):
    vectors, ids = unit(300, 1), np.arange(1000, 1300, dtype=np.int64)
    store.add(ids, vectors)
    assert len(store) == 300
    queries = unit(8, 2)
    scores, found = store.search(queries, 10)
    want_scores, want_ids = exact(vectors, ids, queries, 10)
    assert found.shape == scores.shape == (8, 10)
    np.testing.assert_array_equal(found, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    # a stored vector is its own nearest neighbour, with score 1
    scores, found = store.search(vectors[[5, 77]], 1)
    assert found[:, 0].tolist() == [1005, 1077]
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


def test_delete_and_readd_are_reflected(store, tmp_path):
    vectors, ids = unit(50, 3), np.arange(50, dtype=np.int64) * 7 + 1
    store.add(ids, vectors)
    gone = ids[:10]
    assert store.delete(np.concatenate([gone, [999_999]])) == 10  # an unknown id deletes nothing
    assert len(store) == 40
    _, found = store.search(vectors[:10], 40)
    assert not set(found.ravel().tolist()) & set(gone.tolist())
    # update: a deleted id comes back with a new vector and is found by the new one only
    fresh = unit(1, 4)
    store.add(gone[:1], fresh)
    assert len(store) == 41
    scores, found = store.search(fresh, 1)
    assert found[0, 0] == gone[0] and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    _, found = store.search(vectors[:1], 1)
    assert found[0, 0] != gone[0]
    store.save(tmp_path)  # writes the FAISS file; commits for a database
    scores, found = store.search(unit(5, 5), 41)
    want_ids = np.concatenate([ids[10:], gone[:1]])
    want_scores, want_found = exact(np.vstack([vectors[10:], fresh]), want_ids, unit(5, 5), 41)
    np.testing.assert_array_equal(found, want_found)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_empty_store(store):
    assert len(store) == 0
    scores, found = store.search(unit(3, 6), 4)
    assert found.shape == scores.shape == (3, 4)
    assert (found == -1).all()
    assert store.delete(np.array([1, 2], dtype=np.int64)) == 0


def test_k_larger_than_the_store_pads_with_minus_one(store):
    vectors, ids = unit(6, 7), np.arange(6, dtype=np.int64) + 10
    store.add(ids, vectors)
    scores, found = store.search(unit(2, 8), 20)
    assert found.shape == scores.shape == (2, 20)
    assert (found[:, 6:] == -1).all()


def test_k_larger_than_the_store_returns_every_vector(store):
    vectors, ids = unit(6, 7), np.arange(6, dtype=np.int64) + 10
    store.add(ids, vectors)
    scores, found = store.search(unit(2, 8), 20)
    want_scores, want_ids = exact(vectors, ids, unit(2, 8), 6)
    assert found.shape[1] <= 20 and ((found >= 0).sum(axis=1) == 6).all()
    np.testing.assert_array_equal(found[:, :6], want_ids)
    np.testing.assert_allclose(scores[:, :6], want_scores, atol=1e-5)


def test_wrong_dimension_is_refused(store):
    from rag.errors import StoreError

    with pytest.raises(StoreError, match="dimension 32"):
        store.add(np.arange(2), unit(2, 9)[:, :16])


# --- the whole pipeline on each store ----------------------------------------------------------

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
QUERIES = [
    "which volcano is active in Sicily",
    "what do worker bees collect",
    "how fast are high speed trains",
    "why does bread rise",
]


def by_score(hits) -> dict:
    """{score: chunks with that score}, leaving out the lowest score, whose tie the cut at k may split."""
    groups: dict[float, set] = {}
    for hit in hits:
        groups.setdefault(round(hit.score, 5), set()).add(hit.chunk)
    groups.pop(min(groups))
    return groups


def write_corpus(folder, corpus=CORPUS):
    folder.mkdir(exist_ok=True)
    for name, text in corpus.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.postgres
def test_pipeline_gives_the_same_answers_on_faiss_and_pgvector(tmp_path, pg_url):
    corpus = write_corpus(tmp_path / "corpus")
    settings = Settings(embedding_model="test-hash", chunk_tokens=24, chunk_overlap=4)
    faiss = Rag(settings.with_(index_path=str(tmp_path / "index")))
    pg = Rag(settings.with_(store="pgvector", store_url=pg_url))

    first = [rag.index([corpus]) for rag in (faiss, pg)]
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
    (corpus / "bees.md").write_text(CORPUS["bees.md"] + "\n\nBumblebees are larger and hairier than honey bees.")
    (corpus / "tides.txt").unlink()
    second = [rag.index([corpus]) for rag in (faiss, pg)]
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
