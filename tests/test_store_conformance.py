"""One conformance suite for every vector store (FAISS, pgvector): same vectors in, same neighbours
out. The index backends built on them have theirs in test_backend_conformance."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from rag.store.vectors import FaissStore, VectorStore

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
def store(request) -> Iterator[VectorStore]:
    """An empty store of each kind (pgvector: in a fresh database)."""
    if request.param == "faiss":
        yield FaissStore(DIM)
        return
    from rag.store.pgstore import PgVectorStore

    store = PgVectorStore(request.getfixturevalue("pg_url"), DIM)
    yield store
    store.close()


def test_every_store_is_a_vector_store(store):
    assert isinstance(store, VectorStore)
    assert not isinstance(object(), VectorStore)


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
