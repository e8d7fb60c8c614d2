"""Reciprocal rank fusion on hand-built rankings, with the expected scores worked out."""

import pytest

from rag.search.fusion import reciprocal_rank_fusion


def test_items_in_both_lists_beat_items_in_one():
    fused = reciprocal_rank_fusion({"dense": ["a", "b", "c"], "bm25": ["b", "d"]}, k=60)
    # a: 1/61 = 0.016393                 (dense #1 only)
    # b: 1/62 + 1/61 = 0.016129 + 0.016393 = 0.032522 (dense #2, bm25 #1)
    # c: 1/63 = 0.015873                 (dense #3 only)
    # d: 1/62 = 0.016129                 (bm25 #2 only)
    assert [item for item, _, _ in fused] == ["b", "a", "d", "c"]
    scores = {item: score for item, score, _ in fused}
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["b"] == pytest.approx(0.032522, abs=1e-6)
    assert scores["a"] == pytest.approx(0.016393, abs=1e-6)
    assert scores["d"] == pytest.approx(0.016129, abs=1e-6)
    assert scores["c"] == pytest.approx(0.015873, abs=1e-6)
    ranks = {item: r for item, _, r in fused}
    assert ranks == {"a": {"dense": 1}, "b": {"dense": 2, "bm25": 1}, "c": {"dense": 3}, "d": {"bm25": 2}}


def test_weights_scale_each_list():
    rankings = {"dense": ["a", "b"], "bm25": ["b", "a"]}
    # unweighted both score 1/61 + 1/62: a tie, broken by best single rank (both 1), then by
    # first appearance (a, in the dense list)
    assert [item for item, _, _ in reciprocal_rank_fusion(rankings, k=60)] == ["a", "b"]
    fused = reciprocal_rank_fusion(rankings, k=60, weights={"dense": 0.5})
    # a: 0.5/61 + 1/62 = 0.008197 + 0.016129 = 0.024326
    # b: 0.5/62 + 1/61 = 0.008065 + 0.016393 = 0.024458  -> b first
    assert [(item, round(score, 6)) for item, score, _ in fused] == [("b", 0.024458), ("a", 0.024326)]
    # a method missing from `weights` keeps weight 1; weight 0 silences a list but keeps its ranks
    silenced = reciprocal_rank_fusion(rankings, k=60, weights={"dense": 0.0})
    assert [item for item, _, _ in silenced] == ["b", "a"]
    assert [score for _, score, _ in silenced] == pytest.approx([1 / 61, 1 / 62])
    assert silenced[0][2] == {"dense": 2, "bm25": 1}


def test_ties_break_on_best_single_rank_then_first_appearance():
    # k=0 keeps the arithmetic exact: x weighs 2, so o = 2/1 = 2.0 and p = 2/2 = 1.0;
    # q = 1/1 = 1.0 ties p. q's best single rank (1) beats p's (2), although p appears first.
    fused = reciprocal_rank_fusion({"x": ["o", "p"], "y": ["q"]}, k=0, weights={"x": 2.0})
    assert [(item, score) for item, score, _ in fused] == [("o", 2.0), ("q", 1.0), ("p", 1.0)]
    # equal scores and equal best ranks: the first appearance wins (x is read before y)
    fused = reciprocal_rank_fusion({"x": ["p"], "y": ["q"]}, k=60)
    assert [item for item, _, _ in fused] == ["p", "q"]
    assert fused[0][1] == fused[1][1] == pytest.approx(1 / 61)


def test_empty_and_single_list():
    assert reciprocal_rank_fusion({}) == []
    assert reciprocal_rank_fusion({"dense": [], "bm25": []}) == []
    # one list: order kept, score 1/(k + rank)
    fused = reciprocal_rank_fusion({"bm25": [3, 1, 2]}, k=10)
    assert [item for item, _, _ in fused] == [3, 1, 2]
    assert [score for _, score, _ in fused] == pytest.approx([1 / 11, 1 / 12, 1 / 13])
