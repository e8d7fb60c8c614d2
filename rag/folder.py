"""The folder backend: the index of `Settings(store="faiss")`, in the folder `settings.index_path`
(rag.index holds its format). An update takes the folder's lock and writes a new generation;
reads reopen the index whenever another process has committed one."""

from __future__ import annotations

import threading
from pathlib import Path

from . import incremental
from .embeddings import Embedder
from .errors import IndexNotFoundError
from .fusion import reciprocal_rank_fusion
from .incremental import Change, IndexReport, check_model, chunking
from .index import Generation, Index, locked, open_index, read_manifest
from .settings import Settings
from .types import Document, Hit


class FolderBackend:
    """FAISS vectors, a SQLite chunk store and BM25 in one folder (an `IndexBackend`)."""

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings, self.embedder, self.path = settings, embedder, Path(settings.index_path)
        self._index: Index | None = None
        self._lock = threading.RLock()

    @property
    def opened(self) -> Index:
        """The index as on disk now: reopened when another process (another `rag index`, a second
        server) has committed a new generation since it was opened (one stat call per use)."""
        with self._lock:
            if self._index is None or self._index.changed_on_disk():
                self._index = open_index(self.path, self.embedder.model_id)
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

    def search(self, query: str, *, k: int, mode: str) -> list[Hit]:
        """Nearest vectors, BM25, or both fused by reciprocal rank (each `candidates` deep)."""
        index = self.opened
        depth = max(k, self.settings.candidates) if mode == "hybrid" else k
        rankings: dict[str, list[int]] = {}
        raw: dict[str, dict[int, float]] = {}
        if mode in ("dense", "hybrid"):
            scores, ids = index.vectors.search(self.embedder.embed([query], query=True), depth)
            keep = ids[0] >= 0
            rankings["dense"] = [int(i) for i in ids[0][keep]]
            raw["dense"] = dict(zip(rankings["dense"], map(float, scores[0][keep])))
        if mode in ("bm25", "hybrid"):
            scores, ids = index.bm25.search(query, depth)
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
