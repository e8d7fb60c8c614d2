"""Retrieval: the index backend's first stage (dense, BM25, or both fused), then the reranker when
one is set. The same for every backend: backends never rerank."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..settings import Settings
from ..store.backend import IndexBackend
from ..types import Hit
from .filters import Filter
from .rerank import Reranker, rerank

MODES = ("dense", "bm25", "hybrid")


@dataclass
class Retriever:
    backend: IndexBackend
    settings: Settings
    reranker: Reranker | None = None

    def search(self, query: str, k: int | None = None, mode: str | None = None, filters: Filter | None = None) -> list[Hit]:
        k = k or self.settings.k
        mode = mode or self.settings.retrieval
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode '{mode}'; known: {', '.join(MODES)}")
        if self.reranker is None:
            return self.backend.search(query, k=k, mode=mode, filters=filters)
        hits = self.backend.search(query, k=max(k, self.settings.candidates), mode=mode, filters=filters)
        return rerank(self.reranker, query, hits, k)
