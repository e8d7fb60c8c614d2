"""Fit the relevance floor from SQuAD: `rag fit-relevance FILE` (a few minutes on 2 cores).

For each split (training articles to fit, validation articles to report; rag.bench.squad splits
by article), a few articles are left out of the index and the rest are indexed. Every sampled
question is asked the way a user would (retrieval first), and every sentence of its passages is
scored against it (rag.answer.relevance.sentence_scores):

- a question about an indexed article gives the score of the sentence holding its gold answer
  (when retrieval brought that sentence back): the quote a right answer cites;
- a question about a left-out article gives the best score of any sentence: the most plausible
  quote an answer could cite when the documents do not hold the answer.

The floor is the highest score that still keeps `keep` (default 90%) of the gold sentences of the
training articles: withholding a right answer's quote costs the user the answer, so the operating
point is set on the quotes that must pass, and the share of out-of-corpus questions whose every
quote is rejected is what that floor buys. The validation figures are measured with that floor
and never used to choose it; the card keeps the training curve.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..answer.extractive import ExtractiveAnswerer
from ..answer.relevance import PARAMS, quote_score, sentence_scores
from ..evaluation.squad import Article, load_squad, sample, source_of, split
from ..pipeline import Rag
from ..settings import Settings
from ..types import Document

HELD_OUT = {"train": 4, "validation": 2}  # articles of each split left out of its index
PER_ARTICLE = 25  # questions sampled per indexed article
HELD_OUT_QUESTIONS = 60  # per left-out article


def measure(articles: list[Article], held_out: int, seed: int, log: Callable[[str], None]) -> tuple[list[float], list[float]]:
    """(gold sentence scores, best out-of-corpus scores) for one split."""
    ordered = sorted(articles, key=lambda a: hashlib.sha256(f"{seed}:{a.title}".encode()).hexdigest())
    left_out, indexed = ordered[:held_out], ordered[held_out:]
    with tempfile.TemporaryDirectory(prefix="rag-relevance-") as scratch:
        rag = Rag(Settings(index_path=str(Path(scratch) / "index")))
        log(f"indexing {len(indexed)} articles ({len(left_out)} left out)")
        rag.add_documents([Document.from_text(source_of(a.title), a.text) for a in indexed])
        ranker = ExtractiveAnswerer(rag.embedder)
        gold: list[float] = []
        outside: list[float] = []
        for q in sample(indexed, PER_ARTICLE, seed):
            article = next(a for a in indexed if a.title == q.article)
            offset = article.text.index(q.context) + (q.answer_start or 0)
            hits = rag.search(q.text)
            source = source_of(q.article)
            if not any(h.chunk.source == source and h.chunk.start <= offset < h.chunk.end for h in hits):
                continue  # retrieval missed it: nothing for the answerer to quote
            gold.append(quote_score(sentence_scores(ranker, q.text, hits), source, offset, offset + len(q.answers[0])))
        for q in sample(left_out, HELD_OUT_QUESTIONS, seed):
            scores = sentence_scores(ranker, q.text, rag.search(q.text))
            outside.append(max((s for *_, s in scores), default=0.0))
    log(f"{len(gold)} gold sentences, {len(outside)} out-of-corpus questions")
    return gold, outside


def separation(gold: list[float], outside: list[float], floor: float) -> dict:
    kept = float(np.mean(np.asarray(gold) >= floor))
    rejected = float(np.mean(np.asarray(outside) < floor))
    return {"gold_kept": round(kept, 3), "out_of_corpus_rejected": round(rejected, 3),
            "balanced": round((kept + rejected) / 2, 3), "gold": len(gold), "out_of_corpus": len(outside)}


def fit(path: str, out: Path = PARAMS, keep: float = 0.9, seed: int = 0, log: Callable[[str], None] = print) -> dict:
    t0 = time.perf_counter()
    articles = load_squad(path)
    train_gold, train_out = measure(split(articles, "train"), HELD_OUT["train"], seed, log)
    grid = np.round(np.arange(0.10, 0.70, 0.005), 3)
    floor = float(max(f for f in grid if separation(train_gold, train_out, f)["gold_kept"] >= keep))
    val_gold, val_out = measure(split(articles, "validation"), HELD_OUT["validation"], seed, log)
    card = {
        "version": 1,
        "floor": floor,
        "data": Path(path).name,
        "score": "rag.answer.extractive.ExtractiveAnswerer.rank(rules=False): 0.55 * cosine + 0.45 * idf-weighted overlap",
        "keep": keep,
        "train": separation(train_gold, train_out, floor),
        "validation": separation(val_gold, val_out, floor),
        "train_curve": [{"floor": float(f), **separation(train_gold, train_out, float(f))} for f in grid[::10]],
        "seed": seed,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
