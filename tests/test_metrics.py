"""Ranking metrics against values worked out by hand (trec_eval conventions)."""

import math

import pytest

from rag.evaluation.metrics import evaluate, mrr_at_k, ndcg_at_k, per_query, percentile, recall_at_k

# q1: graded judgements, one judged-irrelevant doc (c); q2: one relevant doc the run misses;
# q3: no relevant doc at all (not a judged query); q4: judged but absent from the run.
QRELS = {
    "q1": {"a": 1, "b": 2, "c": 0},
    "q2": {"x": 1},
    "q3": {"z": 0},
    "q4": {"w": 1},
}
RUN = {
    "q1": ["b", "d", "a", "c"],
    "q2": ["y", "z"],
    "q3": ["z"],
}


def test_ndcg_graded_gain_and_ideal_from_qrels():
    # top 3 = b(2), d(0), a(1): DCG = 2/log2(2) + 0/log2(3) + 1/log2(4) = 2 + 0 + 0.5 = 2.5
    # ideal = [2, 1]:          IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.63093 = 2.63093
    # nDCG@3 = 2.5 / 2.63093 = 0.950234
    assert ndcg_at_k(QRELS["q1"], RUN["q1"], 3) == pytest.approx(0.9502344167898356)
    # @1: DCG = 2/1 = 2; IDCG keeps only the best judgement, 2/1 = 2 -> 1.0
    assert ndcg_at_k(QRELS["q1"], RUN["q1"], 1) == pytest.approx(1.0)
    # nothing relevant retrieved -> 0; no relevant doc in the qrels -> 0 (no division by zero)
    assert ndcg_at_k(QRELS["q2"], RUN["q2"], 10) == 0.0
    assert ndcg_at_k(QRELS["q3"], RUN["q3"], 10) == 0.0


def test_ndcg_ideal_is_cut_at_k_when_more_relevant_than_k():
    rel = {"r1": 1, "r2": 1, "r3": 1}
    # ranking n, r1, r2 at k=3: DCG = 0 + 1/log2(3) + 1/log2(4) = 0.63093 + 0.5 = 1.13093
    # IDCG@3 over three relevant docs = 1 + 0.63093 + 0.5 = 2.13093 -> 0.530721
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(rel, ["n", "r1", "r2"], 3) == pytest.approx(expected)
    assert ndcg_at_k(rel, ["n", "r1", "r2"], 3) == pytest.approx(0.530721, abs=1e-6)
    # at k=2 the ideal has only two slots: DCG = 1/log2(3) = 0.63093, IDCG = 1 + 0.63093 -> 0.386853
    assert ndcg_at_k(rel, ["n", "r1", "r2"], 2) == pytest.approx(0.386853, abs=1e-6)


def test_recall_counts_relevant_docs_in_top_k():
    # q1 has two relevant docs (a, b; c has relevance 0)
    assert recall_at_k(QRELS["q1"], RUN["q1"], 1) == 0.5  # b only: 1/2
    assert recall_at_k(QRELS["q1"], RUN["q1"], 2) == 0.5  # b, d: 1/2
    assert recall_at_k(QRELS["q1"], RUN["q1"], 3) == 1.0  # b, d, a: 2/2
    assert recall_at_k(QRELS["q2"], RUN["q2"], 100) == 0.0


def test_mrr_is_reciprocal_rank_of_first_relevant_within_k():
    rel = {"r": 1}
    assert mrr_at_k(rel, ["n1", "n2", "r"], 10) == pytest.approx(1 / 3)  # first relevant at rank 3
    assert mrr_at_k(rel, ["n1", "n2", "r"], 2) == 0.0  # rank 3 is outside the cut
    assert mrr_at_k(QRELS["q1"], RUN["q1"], 10) == 1.0  # b at rank 1


def test_duplicates_count_once_at_first_position():
    rel = {"a": 1, "b": 1}
    # a, a, b -> a, b: both relevant docs within k=2, so recall 1 and nDCG 1
    assert recall_at_k(rel, ["a", "a", "b"], 2) == 1.0
    assert ndcg_at_k(rel, ["a", "a", "b"], 2) == pytest.approx(1.0)


def test_means_cover_judged_queries_and_missing_runs_score_zero():
    # judged queries: q1, q2, q4 (q3 has no relevant doc); q4 is absent from the run -> 0
    assert set(per_query("ndcg", QRELS, RUN, 10)) == {"q1", "q2", "q4"}
    scores = evaluate(QRELS, RUN, [("ndcg", 3), ("recall", 1), ("mrr", 10)])
    # nDCG@3: (0.950234 + 0 + 0) / 3 = 0.316745
    assert scores["ndcg@3"] == pytest.approx(0.9502344167898356 / 3)
    # Recall@1: (0.5 + 0 + 0) / 3 = 0.166667
    assert scores["recall@1"] == pytest.approx(0.5 / 3)
    # MRR@10: (1 + 0 + 0) / 3
    assert scores["mrr@10"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="known: ndcg, recall, mrr"):
        per_query("map", QRELS, RUN, 10)


def test_percentile_interpolates_between_closest_ranks():
    values = [4.0, 1.0, 3.0, 2.0]  # sorted: 1, 2, 3, 4
    assert percentile(values, 50) == 2.5  # position 3 * 0.5 = 1.5 -> 2 + 0.5 * (3 - 2)
    assert percentile(values, 95) == pytest.approx(3.85)  # position 3 * 0.95 = 2.85 -> 3 + 0.85 * (4 - 3)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_beir_bench_scores_a_tiny_folder(tmp_path, capsys, tiny_beir):
    """End to end through `rag bench beir` with the hashing test embedder and multi-chunk documents."""
    import json

    from rag.cli import main

    folder = tiny_beir
    out = tmp_path / "out"
    argv = ["bench", "beir", str(folder), "--model", "test-hash", "--out", str(out), "--chunk-tokens", "32",
            "--chunk-overlap", "0", "--warmup", "1", "--index", str(tmp_path / "index")]
    assert main(argv) == 0

    result = json.loads((out / "results.json").read_text())
    assert (result["dataset"], result["split"], result["queries"]) == ("tiny", "test", 2)
    assert result["index"]["documents"] == 4 and result["index"]["chunks"] > 4  # several chunks per doc
    assert result["index"]["reused"] is False and result["index"]["docs_per_s"] > 0
    assert set(result["modes"]) == {"dense", "bm25", "hybrid"}
    # BM25 ranks each relevant document first: every metric is 1
    assert {k: result["modes"]["bm25"][k] for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10")} == {
        "ndcg@10": 1.0, "recall@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0}
    for row in result["modes"].values():
        assert row["recall@100"] == 1.0 and 0 < row["p50_ms"] <= row["p95_ms"]
    table = capsys.readouterr().out
    assert "| bm25 | 1.0000 | 1.0000 | 1.0000 | 1.0000 |" in table
    assert (out / "results.md").read_text() == table.rstrip("\n") + "\n"

    # a second run reuses the kept index and embeds nothing
    assert main(argv) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["index"]["reused"] is True and again["index"]["embedded"] == 0
    assert again["modes"]["bm25"]["ndcg@10"] == 1.0
