"""Ranking metrics (nDCG@k, Recall@k, MRR@k) over qrels and runs, and a percentile helper.

    qrels: {query_id: {doc_id: relevance}}     run: {query_id: [doc_id, best first]}

Conventions follow trec_eval / pytrec_eval: a document is relevant when its relevance is > 0,
nDCG's gain is the relevance itself with a log2(rank + 1) discount, and the ideal DCG is
built from the qrels (not from the run). Unlike pytrec_eval, the run is already ranked: ties
are never reordered. Scores are averaged over every query in the qrels with at least one
relevant document; a query the run lacks scores 0 (trec_eval's `-c`). Duplicate documents in
a ranking count once, at their first position.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Qrels = Mapping[str, Mapping[str, float]]
Run = Mapping[str, Sequence[str]]


def _top(ranking: Sequence[str], k: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for doc in ranking:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
            if len(out) == k:
                break
    return out


def ndcg_at_k(relevance: Mapping[str, float], ranking: Sequence[str], k: int) -> float:
    gains = [relevance.get(doc, 0) for doc in _top(ranking, k)]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)
    ideal = sorted((r for r in relevance.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(relevance: Mapping[str, float], ranking: Sequence[str], k: int) -> float:
    relevant = {doc for doc, r in relevance.items() if r > 0}
    if not relevant:
        return 0.0
    return sum(doc in relevant for doc in _top(ranking, k)) / len(relevant)


def mrr_at_k(relevance: Mapping[str, float], ranking: Sequence[str], k: int) -> float:
    for i, doc in enumerate(_top(ranking, k)):
        if relevance.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


METRICS = {"ndcg": ndcg_at_k, "recall": recall_at_k, "mrr": mrr_at_k}


def per_query(metric: str, qrels: Qrels, run: Run, k: int) -> dict[str, float]:
    """{query_id: score} for every judged query (one with a relevant document)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'; known: {', '.join(METRICS)}")
    fn = METRICS[metric]
    return {q: fn(rel, run.get(q, ()), k) for q, rel in qrels.items() if any(r > 0 for r in rel.values())}


def mean_metric(metric: str, qrels: Qrels, run: Run, k: int) -> float:
    scores = per_query(metric, qrels, run, k)
    return sum(scores.values()) / len(scores) if scores else 0.0


def evaluate(qrels: Qrels, run: Run, measures: Sequence[tuple[str, int]]) -> dict[str, float]:
    """{"ndcg@10": mean, ...} for each (metric, k) in measures."""
    return {f"{m}@{k}": mean_metric(m, qrels, run, k) for m, k in measures}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default method)."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
