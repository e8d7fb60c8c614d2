"""Retrieval: dense (embedder + vector store), BM25, or both fused; optionally reranked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embeddings import Embedder
from .errors import ConfigError
from .fusion import reciprocal_rank_fusion
from .index import Index
from .rerank import Reranker, rerank
from .settings import Settings
from .types import Hit

MODES = ("dense", "bm25", "hybrid")


@dataclass
class Retriever:
    index: Index
    embedder: Embedder
    settings: Settings
    reranker: Reranker | None = None

    def search(self, query: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        k = k or self.settings.k
        mode = mode or self.settings.retrieval
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode '{mode}'; known: {', '.join(MODES)}")
        depth = max(k, self.settings.candidates) if (mode == "hybrid" or self.reranker) else k
        rankings: dict[str, list[int]] = {}
        raw: dict[str, dict[int, float]] = {}
        if mode in ("dense", "hybrid"):
            scores, ids = self.dense(query, depth)
            keep = ids >= 0
            rankings["dense"] = [int(i) for i in ids[keep]]
            raw["dense"] = dict(zip(rankings["dense"], map(float, scores[keep])))
        if mode in ("bm25", "hybrid"):
            scores, ids = self.index.bm25.search(query, depth)
            rankings["bm25"] = [int(i) for i in ids]
            raw["bm25"] = dict(zip(rankings["bm25"], map(float, scores)))
        if mode == "hybrid":
            weights = {"dense": self.settings.dense_weight, "bm25": self.settings.bm25_weight}
            fused = reciprocal_rank_fusion(rankings, k=self.settings.rrf_k, weights=weights)
        else:
            (method, ranking), = rankings.items()
            fused = [(vid, raw[method][vid], {method: r}) for r, vid in enumerate(ranking, start=1)]
        fused = fused[: depth if self.reranker else k]
        chunks = self.index.chunks.chunks_by_vid([vid for vid, _, _ in fused])
        hits = []
        for vid, score, ranks in fused:
            if vid not in chunks:
                continue
            detail = {f"{m}_rank": r for m, r in ranks.items()}
            detail.update({m: raw[m][vid] for m in raw if vid in raw[m]})
            hits.append(Hit(chunk=chunks[vid], score=float(score), rank=len(hits) + 1, scores=detail))
        if self.reranker:
            hits = rerank(self.reranker, query, hits, k)
        return hits

    def dense(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        vector = self.embedder.embed([query], query=True)
        scores, ids = self.index.vectors.search(vector, k)
        return scores[0], ids[0]
