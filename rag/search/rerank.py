"""Optional second stage: rescore (query, passage) pairs with a sentence-transformers CrossEncoder."""

from __future__ import annotations

import functools
from typing import Protocol

from ..errors import ConfigError, MissingDependencyError
from ..types import Hit


class Reranker(Protocol):
    """One swappable part: a relevance score for each (query, passage) pair, higher is better."""

    def score(self, query: str, passages: list[str]) -> list[float]: ...


def rerank(reranker: Reranker, query: str, hits: list[Hit], k: int) -> list[Hit]:
    """Reorder first-stage hits by the reranker's scores; the first-stage score is kept in `scores`."""
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
        self.model_id, self.batch_size, self.max_length = model, batch_size, max_length

    @functools.cached_property
    def model(self):
        """The CrossEncoder, loaded on first use."""
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as err:
            raise MissingDependencyError("sentence-transformers", "pip install sentence-transformers") from err
        try:
            return CrossEncoder(self.model_id, device="cpu", max_length=self.max_length)
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot load reranker '{self.model_id}': give a local folder path") from err

    def score(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        scores = self.model.predict([(query, p) for p in passages], batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]


# The registry: `Settings.reranker` names a model for the first; any other `Reranker` by a dotted path.
RERANKERS = {"cross-encoder": CrossEncoderReranker}
