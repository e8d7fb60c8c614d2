"""The folder backend: the index of `Settings(store="faiss")`, in the folder `settings.index_path`
(rag.store.index holds its format). An update takes the folder's lock and writes a new generation;
reads reopen the index whenever another process has committed one."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..embed.embedders import Embedder
from ..errors import IndexNotFoundError
from ..search.filters import Filter
from ..search.fusion import reciprocal_rank_fusion
from ..settings import Settings
from ..types import Document, Hit, MetaValue
from . import incremental
from .incremental import Change, IndexReport, check_model, chunking
from .index import Generation, Index, locked, open_index, read_manifest

FILTER_CACHE = 64  # filters whose allowed vector ids are kept per opened index (it never changes)


class FolderBackend:
    """FAISS vectors, a SQLite chunk store and BM25 in one folder (an `IndexBackend`)."""

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings, self.embedder, self.path = settings, embedder, Path(settings.index_path)
        self._index: Index | None = None
        self._lock = threading.RLock()
        # for self._index, emptied when it is reopened: filter -> (allowed vector ids, BM25 row mask)
        self._allowed: dict[Filter, tuple[np.ndarray, np.ndarray]] = {}
        self._keys: list[str] | None = None

    @property
    def opened(self) -> Index:
        """The index as on disk now: reopened when another process (another `rag index`, a second
        server) has committed a new generation since it was opened (one stat call per use)."""
        with self._lock:
            if self._index is None or self._index.changed_on_disk():
                self._index = open_index(self.path, self.embedder.model_id)
                self._allowed, self._keys = {}, None
            return self._index

    def update(self, change: Change, *, rebuild: bool = False, progress: bool = False) -> IndexReport:
        with self._lock, locked(self.path, progress):
            old = None if rebuild else self._updatable()
            try:
                writer = Generation(self.path, old, self.settings, self.embedder)
                return incremental.update(writer, change, self.settings, self.embedder, progress=progress)
            finally:
                if old is not None:
                    old.close()
                self._index = None  # a search in another thread may still hold it: closed when dropped

    def _updatable(self) -> Index | None:
        """The index to update, or None when a new one is built (none yet, or other chunking)."""
        try:
            manifest = read_manifest(self.path)
        except IndexNotFoundError:
            return None
        check_model(manifest["embedding"], self.embedder.model_id, str(self.path), f"--index {self.path}")
        if manifest.get("chunking") != chunking(self.settings):
            return None  # different chunking: every chunk changes
        return open_index(self.path)

    def documents(self) -> list[tuple[str, int]]:
        return self.opened.documents()

    def document(self, source: str) -> Document | None:
        return self.opened.document(source)

    def metadata(self) -> dict[str, dict[str, MetaValue]]:
        return self.opened.chunks.metadata()

    def metadata_keys(self) -> list[str]:
        index = self.opened
        with self._lock:
            if self._keys is None or index is not self._index:
                self._keys = index.chunks.metadata_keys()
            return self._keys

    def _allowed_vids(self, index: Index, keep: Filter) -> tuple[np.ndarray, np.ndarray]:
        """Vector ids of the chunks `keep` lets through and the BM25 mask of them, from the chunk
        store once per opened index (a generation never changes)."""
        keep.check(self.metadata_keys())
        with self._lock:
            if index is not self._index:  # reopened meanwhile: ask this one, cache nothing
                vids = index.chunks.filtered_vids(keep)
                return vids, index.bm25.mask(vids)
            if keep not in self._allowed:
                if len(self._allowed) >= FILTER_CACHE:
                    self._allowed.pop(next(iter(self._allowed)))
                vids = index.chunks.filtered_vids(keep)
                self._allowed[keep] = vids, index.bm25.mask(vids)
            return self._allowed[keep]

    def search(self, query: str, *, k: int, mode: str, filters: Filter | None = None) -> list[Hit]:
        """Nearest vectors, BM25, or both fused by reciprocal rank (each `candidates` deep); with
        `filters`, each method searches only the chunks of the documents it keeps."""
        index = self.opened
        allowed, mask = (None, None) if filters is None else self._allowed_vids(index, filters)
        if allowed is not None and not len(allowed):
            return []
        depth = max(k, self.settings.candidates) if mode == "hybrid" else k
        rankings: dict[str, list[int]] = {}
        raw: dict[str, dict[int, float]] = {}
        if mode in ("dense", "hybrid"):
            scores, ids = index.vectors.search(self.embedder.embed([query], query=True), depth, allowed=allowed)
            keep = ids[0] >= 0
            rankings["dense"] = [int(i) for i in ids[0][keep]]
            raw["dense"] = dict(zip(rankings["dense"], map(float, scores[0][keep])))
        if mode in ("bm25", "hybrid"):
            scores, ids = index.bm25.search(query, depth, mask=mask)
            rankings["bm25"] = [int(i) for i in ids]
            raw["bm25"] = dict(zip(rankings["bm25"], map(float, scores)))
        if mode == "hybrid":
            weights = {"dense": self.settings.dense_weight, "bm25": self.settings.bm25_weight}
            fused = reciprocal_rank_fusion(rankings, k=self.settings.rrf_k, weights=weights)[:k]
        else:
            ((method, ranking),) = rankings.items()
            fused = [(vid, raw[method][vid], {method: r}) for r, vid in enumerate(ranking[:k], start=1)]
        chunks = index.chunks.chunks_by_vid([vid for vid, _, _ in fused])
        hits: list[Hit] = []
        for vid, score, ranks in fused:
            if vid in chunks:
                detail: dict[str, float] = {f"{m}_rank": r for m, r in ranks.items()}
                detail.update({m: raw[m][vid] for m in raw if vid in raw[m]})
                hits.append(Hit(chunk=chunks[vid], score=float(score), rank=len(hits) + 1, scores=detail))
        return hits
