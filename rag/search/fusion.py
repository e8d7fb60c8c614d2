"""Combine rankings from several retrievers into one (reciprocal rank fusion)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

Item = TypeVar("Item", bound=Hashable)


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[Item]],
    *,
    k: int = 60,
    weights: dict[str, float] | None = None,
) -> list[tuple[Item, float, dict[str, int]]]:
    """Score each item by sum(weight / (k + rank)) over the rankings it appears in (rank from 1).

    Returns (item, fused score, {method: rank}) sorted by score, ties broken by best single rank
    and then by first appearance, so the result is deterministic.
    """
    weights = weights or {}
    scores: dict[Item, float] = {}
    ranks: dict[Item, dict[str, int]] = {}
    order: dict[Item, int] = {}
    for method, ranking in rankings.items():
        weight = weights.get(method, 1.0)
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            ranks.setdefault(item, {})[method] = rank
            order.setdefault(item, len(order))
    items = sorted(scores, key=lambda it: (-scores[it], min(ranks[it].values()), order[it]))
    return [(it, scores[it], ranks[it]) for it in items]
