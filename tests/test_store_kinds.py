"""Every FAISS kind (flat, hnsw, ivfpq, auto) against exact search: recall, deletes, re-adds, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from rag.bench.scale import synthetic
from rag.errors import ConfigError
from rag.store.vectors import ANN_MIN, AUTO_ANN_FROM, FaissStore, resolve_kind

DIM = 32
KINDS = ["flat", "hnsw", "ivfpq", "auto"]


@pytest.fixture(scope="module")
def data():
    vectors = synthetic(3000, DIM, clusters=30, spread=0.75, seed=1)
    queries = synthetic(60, DIM, clusters=30, spread=0.75, seed=2)
    ids = np.arange(3000, dtype=np.int64) * 5 + 11  # ids unlike row numbers
    return vectors, queries, ids


def exact_ids(vectors, ids, queries, k):
    order = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :k]
    return ids[order]


def recall(found, truth) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist())]))


@pytest.mark.parametrize("kind", KINDS)
def test_recall_against_exact_search(kind, data):
    vectors, queries, ids = data
    store = FaissStore(DIM, kind)
    store.add(ids, vectors)
    assert store.searched_with == ("flat" if kind == "auto" else kind)
    scores, found = store.search(queries, 10)
    assert found.shape == scores.shape == (60, 10)
    assert recall(found, exact_ids(vectors, ids, queries, 10)) >= 0.9
    # scores are the exact inner products of the ids returned, best first
    rows = {int(i): r for r, i in enumerate(ids)}
    want = np.array([[vectors[rows[int(i)]] @ q for i in row] for q, row in zip(queries, found)])
    np.testing.assert_allclose(scores, want, atol=1e-4)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


@pytest.mark.parametrize("kind", KINDS)
def test_deletes_and_readds(kind, data):
    vectors, queries, ids = data
    store = FaissStore(DIM, kind)
    store.add(ids, vectors)
    store.prepare()
    few = ids[::40]  # 2.5%: marked dead in the approximate structure, not rebuilt
    assert store.delete(np.concatenate([few, [7]])) == len(few)  # an unknown id deletes nothing
    assert len(store) == 3000 - len(few)
    _, found = store.search(vectors[::40], 10)
    assert not np.isin(found, few).any()
    many = ids[: 2000]  # most rows: the structure is rebuilt from the exact index
    store.delete(many)
    keep = ~np.isin(ids, np.concatenate([few, many]))
    _, found = store.search(queries, 10)
    assert not np.isin(found, np.concatenate([few, many])).any()
    assert recall(found, exact_ids(vectors[keep], ids[keep], queries, 10)) >= 0.9
    # a deleted id comes back with a new vector and is found by that vector
    fresh = synthetic(3, DIM, clusters=3, spread=0.9, seed=9)
    store.add(many[:3], fresh)
    scores, found = store.search(fresh, 1)
    assert found[:, 0].tolist() == many[:3].tolist()
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-4)
    np.testing.assert_allclose(store.reconstruct(many[:3]), fresh, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_round_trip(kind, data, tmp_path):
    vectors, queries, ids = data
    store = FaissStore(DIM, kind)
    store.add(ids, vectors)
    store.delete(ids[::50])
    before = store.search(queries, 10)
    store.save(tmp_path)
    loaded = FaissStore.load(tmp_path, DIM, kind)
    assert len(loaded) == len(store) and loaded.searched_with == store.searched_with
    approximate = store.searched_with != "flat"
    assert (tmp_path / FaissStore.ANN_FILE).exists() == approximate
    assert (loaded._ann is not None) == approximate  # loaded from disk, not rebuilt
    after = loaded.search(queries, 10)
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_allclose(after[0], before[0], atol=1e-6)


def test_a_stale_structure_on_disk_is_not_used(data, tmp_path):
    vectors, queries, ids = data
    store = FaissStore(DIM, "hnsw")
    store.add(ids, vectors)
    store.save(tmp_path)
    # opened as ivfpq: the hnsw file is ignored and an ivfpq structure is built on first search
    loaded = FaissStore.load(tmp_path, DIM, "ivfpq")
    assert loaded._ann is None
    _, found = loaded.search(queries, 10)
    assert recall(found, exact_ids(vectors, ids, queries, 10)) >= 0.9


def test_auto_searches_exactly_below_the_threshold():
    assert resolve_kind("auto", 0) == resolve_kind("auto", 10_000) == resolve_kind("auto", AUTO_ANN_FROM - 1) == "flat"
    assert resolve_kind("auto", AUTO_ANN_FROM) != "flat"
    assert resolve_kind("hnsw", ANN_MIN - 1) == "flat"  # nothing approximate pays off that small
    assert resolve_kind("ivfpq", ANN_MIN) == "ivfpq"
    store = FaissStore(DIM, "auto")
    store.add(np.arange(500, dtype=np.int64), synthetic(500, DIM, 5, 0.75, 3))
    store.prepare()
    assert store.searched_with == "flat" and store.memory_bytes()["ann"] == 0


def test_unknown_kind_is_refused():
    with pytest.raises(ConfigError, match="known: auto, flat, hnsw, ivfpq"):
        FaissStore(DIM, "annoy")


def test_empty_and_tiny_stores(tmp_path):
    store = FaissStore(DIM, "hnsw")
    _, found = store.search(synthetic(2, DIM, 2, 0.75, 4), 5)
    assert (found == -1).all() and found.shape == (2, 5)
    store.add(np.array([1, 2], dtype=np.int64), synthetic(2, DIM, 2, 0.75, 5))
    _, found = store.search(synthetic(1, DIM, 2, 0.75, 6), 5)
    assert found.shape == (1, 5) and sorted(found[0, :2].tolist()) == [1, 2] and (found[0, 2:] == -1).all()
    store.save(tmp_path)
    assert len(FaissStore.load(tmp_path, DIM, "hnsw")) == 2


def test_scale_report_prints_the_million_vector_target():
    from rag.bench.scale import markdown

    def row(kind, params, recall, p50):
        return {"vectors": 1_000_000, "kind": kind, "params": params, "recall": recall, "p50_ms": p50, "p95_ms": p50,
                "build_s": 1.0, "bytes_per_vector": 118, "store_bytes_per_vector": 1662}

    rows = [row("flat", {}, 1.0, 113.0), row("ivfpq", {"nprobe": 32}, 0.79, 1.5), row("ivfpq", {"nprobe": 256}, 0.98, 4.0),
            row("hnsw", {"ef_search": 64}, 0.5, 0.4)]
    result = {"k": 10, "rows": rows, "dim": 384, "queries": 5, "clusters": 10, "spread": 0.75,
              "machine": {"cpus": 2, "cpu": "test"}}
    text = markdown(result)
    assert "recall@10 >= 0.95 with p50 <= 50 ms" in text
    assert "- flat: exact, recall 1.000, p50 113.00 ms, 1662 B/vector: not met" in text
    assert "- ivfpq: nprobe=256" in text and "p50 4.00 ms" in text and text.count(": met") == 1
    assert "- hnsw: no setting reached recall 0.95: not met" in text
