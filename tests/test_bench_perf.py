"""`rag bench perf` end to end on a tiny BEIR folder: both systems built in their own processes,
measured, compared, and written out. The figures themselves are not asserted (timings vary)."""

from __future__ import annotations

import json

import pytest

from rag.cli import main

pytest.importorskip("langchain_huggingface")
pytest.importorskip("openvino")
pytestmark = pytest.mark.slow


def test_perf_bench_compares_ours_with_the_langchain_baseline(tmp_path, tiny_beir, capsys):
    out = tmp_path / "out"
    argv = ["bench", "perf", str(tiny_beir), "--backends", "openvino", "--answer-queries", "2", "--cold-runs", "1",
            "--out", str(out)]
    assert main(argv) == 0

    report = json.loads((out / "results.json").read_text())
    assert (report["dataset"], report["documents"], report["queries"]) == ("tiny", 4, 2)
    assert len(report["systems"]) == 2
    for system in report["systems"]:
        assert system["documents"] == 4 and system["index_s"] > 0 and system["docs_per_s"] > 0
        assert system["cold_start"]["median_s"] > 0 and system["peak_mib"] > 0
        assert 0 <= system["ndcg@10"]["dense"] <= 1
    ours = report["systems"][1]
    assert set(ours["ndcg@10"]) == {"dense", "bm25", "hybrid"}  # ours reports every retrieval mode
    # the precision ours ran in is the one the CPU's flags choose, and both are printed
    assert report["cpu"]["auto"] in ("bf16", "int8", "f32") and report["cpu"]["why"]
    assert ours["runs_in"] == f"openvino {report['cpu']['auto']} ({report['cpu']['why']})"
    assert report["ratios"] and report["ceiling"]
    goals = {t["goal"] for t in report["targets"]}
    assert any(g.startswith("indexing throughput vs the baseline >= 2") for g in goals)
    assert all(isinstance(t["met"], bool) and t["system"] == "rag (openvino)" for t in report["targets"])
    table = capsys.readouterr().out
    assert "LangChain baseline" in table and "rag (openvino)" in table and "Ratios against the baseline" in table
    assert "Targets (printed, not asserted)" in table
    assert f"| embedding model runs in | torch f32 | {ours['runs_in']} |" in table
    assert f"auto runs the embedder in {report['cpu']['auto']}" in table
    assert (out / "results.md").read_text() == table.rstrip("\n") + "\n"
