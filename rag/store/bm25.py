"""BM25 over chunk texts (bm25s), saved beside the vectors as plain .npy/.json files.

The BM25 index maps its rows to the same vector ids the dense store uses. bm25s has no
in-place update, so after a change the lexical index is rebuilt from the chunk store's texts
(tokenizing only, no model: about a second per 50k chunks); unchanged runs keep the old files.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, StoreError

FOLDER = "bm25"
NO_WORDS = "\x00"  # the vocabulary of an index whose chunks hold no word (the tokenizer never makes it)


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer
    except ImportError:
        return None
    return Stemmer.Stemmer("english").stemWords


def _bm25s():
    try:
        import bm25s
    except ImportError as err:
        raise MissingDependencyError("bm25s", "pip install bm25s PyStemmer") from err
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def tokenize(texts: list[str]) -> list[list[str]]:
    """bm25s's own tokenizer and English stopwords, with the PyStemmer stemmer rag.text.terms uses:
    an index and its queries must be tokenized alike, and it is bm25s that indexes here."""
    return _bm25s().tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


class BM25Index:
    def __init__(self, retriever, vids: np.ndarray):
        self.retriever = retriever
        self.vids = vids

    def __len__(self) -> int:
        return len(self.vids)

    @classmethod
    def build(cls, vids: list[int], texts: list[str], k1: float = 1.2, b: float = 0.75) -> BM25Index:
        bm25s = _bm25s()
        retriever = bm25s.BM25(k1=k1, b=b)
        if texts:
            tokens = tokenize(texts)
            if not any(tokens):  # no chunk has a word BM25 keeps ("x x x", stopwords): bm25s fails on an
                tokens[0] = [NO_WORDS]  # empty vocabulary, so it gets one no query can hold
            retriever.index(tokens, show_progress=False)
        return cls(retriever, np.asarray(vids, dtype=np.int64))

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, vector ids), best first; only documents with a positive score and, with a `mask`
        (`mask(allowed)`), only the rows it keeps: the others score zero inside bm25s."""
        tokens = tokenize([query])
        if not len(self) or not tokens[0] or (mask is not None and not mask.any()):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        vocab = self.retriever.vocab_dict
        if not any(t in vocab for t in tokens[0]):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        rows, scores = self.retriever.retrieve(tokens, k=min(k, len(self)), show_progress=False, n_threads=1, weight_mask=mask)
        rows, scores = rows[0], scores[0]
        keep = scores > 0
        return scores[keep].astype(np.float32), self.vids[rows[keep]]

    def mask(self, allowed: np.ndarray) -> np.ndarray:
        """1.0 for the rows whose vector id is in `allowed` (ascending), 0.0 for the others."""
        if not len(allowed):
            return np.zeros(len(self.vids), np.float32)
        at = np.minimum(np.searchsorted(allowed, self.vids), len(allowed) - 1)
        return (allowed[at] == self.vids).astype(np.float32)

    def save(self, folder: Path) -> None:
        target = Path(folder) / FOLDER
        target.mkdir(parents=True, exist_ok=True)
        np.save(target / "vids.npy", self.vids, allow_pickle=False)
        if len(self):
            self.retriever.save(str(target), show_progress=False)
        (target / "meta.json").write_text(json.dumps({"chunks": len(self), "k1": self.retriever.k1, "b": self.retriever.b}))

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        target = Path(folder) / FOLDER
        try:
            vids = np.load(target / "vids.npy", allow_pickle=False)
            meta = json.loads((target / "meta.json").read_text())
            if not len(vids):
                return cls.build([], [], meta.get("k1", 1.2), meta.get("b", 0.75))
            retriever = _bm25s().BM25.load(str(target), mmap=False, allow_pickle=False, show_progress=False, verbosity=0)
        except MissingDependencyError:
            raise
        except Exception as err:  # missing or damaged files, whatever numpy, json or bm25s raise on them
            raise StoreError(f"the BM25 index in {FOLDER}/ is missing or unreadable ({err.__class__.__name__})") from err
        return cls(retriever, vids)
