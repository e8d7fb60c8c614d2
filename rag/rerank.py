"""Optional second stage: rescore (query, passage) pairs with a sentence-transformers CrossEncoder."""

from __future__ import annotations

from typing import Protocol

from .errors import ConfigError, MissingDependencyError


class Reranker(Protocol):
    def score(self, query: str, passages: list[str]) -> list[float]: ...


def rerank(reranker: Reranker, query: str, hits: list, k: int) -> list:
    """Reorder first-stage hits by the reranker's scores; the first-stage score is kept in `scores`."""
    from .types import Hit

    if not hits:
        return []
    scores = reranker.score(query, [h.chunk.indexed_text for h in hits])
    order = sorted(range(len(hits)), key=lambda i: -scores[i])[:k]
    return [
        Hit(chunk=hits[i].chunk, score=scores[i], rank=r, scores={**hits[i].scores, "first_stage": hits[i].score})
        for r, i in enumerate(order, start=1)
    ]


class CrossEncoderReranker:
    def __init__(self, model: str, *, batch_size: int = 32, max_length: int = 512):
        self.model_id = model
        self.batch_size = batch_size
        self.max_length = max_length
        self._model = None

    @property
    def model(self):
        if self._model is None:
            try:
                from sentence_transformers import CrossEncoder
            except ImportError as err:
                raise MissingDependencyError("sentence-transformers", "pip install sentence-transformers") from err
            try:
                self._model = CrossEncoder(self.model_id, device="cpu", max_length=self.max_length)
            except (OSError, ValueError) as err:
                raise ConfigError(f"cannot load reranker '{self.model_id}': give a local folder path") from err
        return self._model

    def score(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        scores = self.model.predict([(query, p) for p in passages], batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]
