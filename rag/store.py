"""Vector stores: take ids plus vectors, answer nearest-neighbour queries. They never embed.

`VectorStore` is the interface every backend implements (FAISS here; server-backed stores such
as pgvector implement the same methods). Scores are inner products of normalized vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ConfigError, MissingDependencyError, StoreError


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


# Corpus sizes at which `auto` moves to an approximate index (see `rag bench scale`).
HNSW_FROM = 200_000
FAISS_KINDS = ("auto", "flat", "hnsw", "ivfpq")


class FaissStore:
    """Exact inner-product search over an id-mapped flat index; the truth all other kinds are
    measured against. `kind` picks the search structure written beside it for large corpora."""

    FILE = "vectors.faiss"

    def __init__(self, dimension: int, kind: str = "flat", index=None):
        if kind not in FAISS_KINDS:
            raise ConfigError(f"unknown FAISS index type '{kind}'; known: {', '.join(FAISS_KINDS)}")
        faiss = _faiss()
        self.dimension = dimension
        self.kind = kind
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise StoreError(f"expected vectors of dimension {self.dimension}, got shape {vectors.shape}")
        if len(vectors):
            self.index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        if len(self) == 0:
            n = len(queries)
            return np.zeros((n, k), np.float32), np.full((n, k), -1, np.int64)
        return self.index.search(queries, min(k, len(self)))

    def delete(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        return int(self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors for these ids (used to reuse vectors of unchanged chunks)."""
        if len(ids) == 0:
            return np.zeros((0, self.dimension), np.float32)
        return np.vstack([self.index.reconstruct(int(i)) for i in ids]).astype(np.float32)

    def save(self, folder: Path) -> None:
        _faiss().write_index(self.index, str(Path(folder) / self.FILE))

    @classmethod
    def load(cls, folder: Path, dimension: int, kind: str = "flat") -> "FaissStore":
        path = Path(folder) / cls.FILE
        try:
            index = _faiss().read_index(str(path))
        except RuntimeError as err:
            raise StoreError(f"cannot read {path}: the file is damaged; rebuild with `rag index --rebuild`") from err
        if index.d != dimension:
            raise StoreError(f"{path} holds {index.d}-dimensional vectors, the manifest says {dimension}")
        return cls(dimension, kind, index)
