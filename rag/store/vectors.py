"""Vector stores: take ids plus vectors, answer nearest-neighbour queries. They never embed.

`VectorStore` is the interface every vector store implements (FaissStore here, the folder
backend's; PgVectorStore in rag.store.pgstore), checked by one conformance suite
(tests/test_store_conformance.py). Scores are inner products of normalized vectors.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, MissingDependencyError, StoreError


@runtime_checkable
class VectorStore(Protocol):
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each of shape (len(queries), k); missing slots have id -1."""
        ...

    def delete(self, ids: np.ndarray) -> int: ...

    def save(self, folder: Path) -> None: ...

    def __len__(self) -> int: ...


def _faiss():
    try:
        import faiss
    except ImportError as err:
        raise MissingDependencyError("faiss", "pip install faiss-cpu") from err
    return faiss


FAISS_KINDS = ("auto", "flat", "hnsw", "ivfpq")
# `auto` searches exactly below this many vectors and through IVF-PQ from it on. Measured with
# `rag bench scale` on 2 cores (docs/performance.md): one exact query took 27 ms at 100k and
# 150 ms at 1M; IVF-PQ with the settings below kept recall@10 at 0.992 (100k) and 0.980 (1M)
# with p50 3 and 5 ms, where HNSW needed efSearch 512 for 0.95 at 100k, and twice the memory.
AUTO_ANN_FROM = 100_000
AUTO_ANN_KIND = "ivfpq"
ANN_MIN = 256  # below this every kind searches exactly: nothing approximate is faster
FEW_QUERIES = 8  # batches up to this size search on one thread
REBUILD_DEAD = 0.2  # rebuild the approximate structure once this share of its rows is deleted
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 512
IVF_NPROBE, IVF_REFINE = 256, 32  # probe 256 lists; rescore 32*k PQ candidates with the exact vectors
# A filtered search (`allowed` ids) scores up to this many allowed vectors exactly, one matrix
# product over just those; more go through the structure with a FAISS ID selector.
EXACT_ALLOWED = 4096


@contextlib.contextmanager
def _threads(n: int):
    """Run FAISS with n OpenMP threads in this thread (0: unchanged). One query is fastest on one
    thread: spreading it over cores costs more in waking them (milliseconds on a busy machine)."""
    if not n:
        yield
        return
    faiss = _faiss()
    before = faiss.omp_get_max_threads()  # a per-thread setting in OpenMP
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def resolve_kind(kind: str, size: int) -> str:
    """The structure a store of `size` vectors searches with: flat, hnsw or ivfpq."""
    if kind not in FAISS_KINDS:
        raise ConfigError(f"unknown FAISS index type '{kind}'; known: {', '.join(FAISS_KINDS)}")
    if kind == "auto":
        kind = AUTO_ANN_KIND if size >= AUTO_ANN_FROM else "flat"
    return "flat" if size < ANN_MIN else kind


class FaissStore:
    """Exact inner-product search over an id-mapped flat index, which stays the truth for every
    kind (reconstruct, delete, rescoring). For `hnsw` and `ivfpq` an approximate structure over
    row positions sits beside it: deletes mark its rows dead (filtered at search time), adds
    append, and it is rebuilt from the truth when too many rows are dead or it is missing."""

    FILE = "vectors.faiss"
    ANN_FILE = "vectors.ann.faiss"
    ANN_IDS = "vectors.ann-ids.npy"  # row position -> id; -1 for a deleted row
    ANN_META = "vectors.ann.json"

    def __init__(self, dimension: int, kind: str = "flat", index=None):
        resolve_kind(kind, 0)  # validates the name
        faiss = _faiss()
        self.dimension = dimension
        self.kind = kind
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self.ef_search, self.nprobe, self.refine = HNSW_EF_SEARCH, IVF_NPROBE, IVF_REFINE
        self._ann: tuple[str, Any] | None = None  # (kind, faiss index) over row positions
        self._ann_ids = np.zeros(0, np.int64)
        self._selector: tuple[Any, np.ndarray] | None = None  # (faiss selector, the bitmap it points into)
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def searched_with(self) -> str:
        return resolve_kind(self.kind, len(self))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise StoreError(f"expected vectors of dimension {self.dimension}, got shape {vectors.shape}")
        if not len(vectors):
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        with self._lock:
            self.index.add_with_ids(vectors, ids)
            if self._ann is not None:
                self._ann[1].add(vectors)
                self._ann_ids = np.concatenate([self._ann_ids, ids])
                self._selector = None

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest; with `allowed` (ids), only among those: restricted inside
        the search, so k come back whenever that many are allowed."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        n = len(self)
        if n == 0 or (allowed is not None and not len(allowed)):
            return np.zeros((len(queries), k), np.float32), np.full((len(queries), k), -1, np.int64)
        if allowed is not None:
            return self._search_allowed(queries, k, np.ascontiguousarray(allowed, dtype=np.int64))
        kind = self.searched_with
        with _threads(1 if len(queries) <= FEW_QUERIES else 0):
            if kind == "flat":
                return self.index.search(queries, k)  # FAISS pads past the store's size with -1
            scores, ids = self._search_ann(kind, queries, min(k, n))
        return self._pad(scores, ids, k)

    def _search_allowed(self, queries: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Few allowed: exact scores of just those. Many: the structure's own search, told by an ID
        selector to skip the rest; where an approximate one finds fewer than k (a selective filter
        on a graph or few probed lists), the allowed ones are scored exactly."""
        faiss = _faiss()
        kind = self.searched_with
        want = min(k, len(allowed))
        with _threads(1 if len(queries) <= FEW_QUERIES else 0):
            if len(allowed) > EXACT_ALLOWED and kind == "flat":
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
                return self.index.search(queries, k, params=params)
            if len(allowed) > EXACT_ALLOWED:
                self._current_ann(kind)  # built or refreshed: its row -> id map is current
                with self._lock:
                    rows = np.isin(self._ann_ids, allowed)  # dead rows hold -1: never allowed
                bitmap = np.packbits(rows, bitorder="little")
                selector = faiss.IDSelectorBitmap(len(rows), faiss.swig_ptr(bitmap))
                scores, ids = self._search_ann(kind, queries, want, selector)
                if (ids >= 0).sum(axis=1).min() >= want:
                    return self._pad(scores, ids, k)
            return self._pad(*self._rescore(queries, np.broadcast_to(allowed, (len(queries), len(allowed))), want), k)

    @staticmethod
    def _pad(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Always k columns, as every store returns: -1 ids past the last found."""
        if ids.shape[1] < k:
            pad = k - ids.shape[1]
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        return scores, ids

    def _search_ann(self, kind: str, queries: np.ndarray, k: int, only=None) -> tuple[np.ndarray, np.ndarray]:
        ann, selector = self._current_ann(kind)
        selector = only if only is not None else selector
        faiss = _faiss()
        if kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k), sel=selector)
            scores, rows = ann.search(queries, k, params=params)
            return scores, self._ids_at(rows)
        params = faiss.SearchParametersIVF(nprobe=self.nprobe, sel=selector)
        _, rows = ann.search(queries, k * self.refine, params=params)
        return self._rescore(queries, self._ids_at(rows), k)

    def prepare(self) -> None:
        """Build the approximate structure now, if this size searches with one (`save` does too),
        so that no search pays for it."""
        kind = self.searched_with
        if kind != "flat":
            self._current_ann(kind)

    def _ids_at(self, rows: np.ndarray) -> np.ndarray:
        return np.where(rows >= 0, self._ann_ids[np.maximum(rows, 0)], -1)

    def _rescore(self, queries: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores for approximate candidates, from the truth; the best k of them."""
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for q, row in enumerate(candidates):
            row = row[row >= 0]
            if not len(row):
                continue
            exact = self.index.reconstruct_batch(row) @ queries[q]
            best = np.argsort(-exact, kind="stable")[:k]
            scores[q, : len(best)], ids[q, : len(best)] = exact[best], row[best]
        return scores, ids

    def _current_ann(self, kind: str):
        with self._lock:
            dead = int((self._ann_ids < 0).sum())
            ann = self._ann
            if (ann is None or ann[0] != kind or dead > REBUILD_DEAD * max(len(self._ann_ids), 1)
                    or (kind == "ivfpq" and len(self) > 4 * ann[1].ntotal)):  # ivfpq trained on too few: lists too long
                ann = self._build_ann(kind)
                dead = 0
            if not dead:
                return ann[1], None
            if self._selector is None:
                bitmap = np.packbits(self._ann_ids >= 0, bitorder="little")
                self._selector = (_faiss().IDSelectorBitmap(len(self._ann_ids), _faiss().swig_ptr(bitmap)), bitmap)
            return ann[1], self._selector[0]

    def _build_ann(self, kind: str) -> tuple[str, Any]:
        faiss = _faiss()
        vectors, ids = self._all()
        n, d = vectors.shape
        if kind == "hnsw":
            ann = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            ann.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
            m = max(s for s in range(1, d + 1) if d % s == 0 and s <= max(1, d // 4))
            nbits = 8 if n >= 256 * 8 else 6
            ann = faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
            ann.cp.min_points_per_centroid = 1  # small stores train on what they have, quietly
            ann.pq.cp.min_points_per_centroid = 1
            sample = vectors if n <= 100_000 else vectors[np.random.default_rng(0).choice(n, 100_000, replace=False)]
            ann.train(sample)
        ann.add(vectors)
        self._ann, self._ann_ids, self._selector = (kind, ann), ids.copy(), None
        return self._ann

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every stored vector and its id, in row order (views of the flat index's memory)."""
        faiss = _faiss()
        flat = faiss.downcast_index(self.index.index)
        vectors = faiss.rev_swig_ptr(flat.get_xb(), len(self) * self.dimension).reshape(len(self), self.dimension)
        return vectors, faiss.vector_to_array(self.index.id_map)

    def delete(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        with self._lock:
            removed = int(self.index.remove_ids(ids))
            if removed and self._ann is not None:
                self._ann_ids[np.isin(self._ann_ids, ids)] = -1
                self._selector = None
        return removed

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors for these ids (used to reuse vectors of unchanged chunks)."""
        if len(ids) == 0:
            return np.zeros((0, self.dimension), np.float32)
        return self.index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64)).astype(np.float32)

    def memory_bytes(self) -> dict:
        """Bytes of vectors, codes, graph links and ids held by the exact index and by the
        approximate structure (faiss's id -> row hash map, ~40 B a vector, is not counted)."""
        faiss = _faiss()
        n = len(self)
        out = {"flat": n * (4 * self.dimension + 8), "ann": 0}
        if self._ann is None:
            return out
        kind, ann = self._ann
        rows = ann.ntotal
        if kind == "hnsw":
            graph = ann.hnsw.neighbors.size() * 4 + ann.hnsw.offsets.size() * 8 + ann.hnsw.levels.size() * 4
            out["ann"] = rows * 4 * self.dimension + graph
        else:
            ivf = faiss.downcast_index(ann)
            out["ann"] = rows * (ivf.code_size + 8) + ivf.nlist * self.dimension * 4 + ivf.pq.centroids.size() * 4
        out["ann"] += self._ann_ids.nbytes
        return out

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        faiss = _faiss()
        faiss.write_index(self.index, str(folder / self.FILE))
        kind = self.searched_with
        if kind == "flat":
            return
        ann, _ = self._current_ann(kind)  # built or refreshed now, not at the first search
        faiss.write_index(ann, str(folder / self.ANN_FILE))
        np.save(folder / self.ANN_IDS, self._ann_ids, allow_pickle=False)
        (folder / self.ANN_META).write_text(json.dumps({"kind": kind, "rows": len(self._ann_ids), "live": len(self)}))

    @classmethod
    def load(cls, folder: Path, dimension: int, kind: str = "flat") -> FaissStore:
        folder = Path(folder)
        path = folder / cls.FILE
        faiss = _faiss()
        if not path.is_file():
            raise StoreError(f"{cls.FILE} is missing")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as err:
            raise StoreError(f"{cls.FILE} is unreadable") from err
        if index.d != dimension:
            raise StoreError(f"{cls.FILE} holds {index.d}-dimensional vectors, the manifest says {dimension}")
        store = cls(dimension, kind, index)
        meta = folder / cls.ANN_META
        if meta.is_file() and store.searched_with != "flat":
            try:
                built = json.loads(meta.read_text())["kind"]
                ann = faiss.read_index(str(folder / cls.ANN_FILE))
                ann_ids = np.load(folder / cls.ANN_IDS, allow_pickle=False)
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
                raise StoreError(f"the {kind} index beside {cls.FILE} is unreadable") from err
            if built == store.searched_with and ann.ntotal == len(ann_ids) and int((ann_ids >= 0).sum()) == len(store):
                store._ann, store._ann_ids = (built, ann), ann_ids
        return store
