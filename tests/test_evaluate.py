"""The evaluation runner: gold quotes stand in their documents, and every metric on hand-built cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import Answer, Chunk, Citation, Document, Hit
from rag.evaluation.evaluate import Item, check_thresholds, contains_fact, load_qa, score_item, summarize

ROOT = Path(__file__).resolve().parent.parent
QA = ROOT / "eval" / "qa.jsonl"


@pytest.mark.parametrize("name, least", [("qa.jsonl", 40), ("holdout.jsonl", 140)])
def test_every_gold_quote_stands_verbatim_in_its_document(name, least):
    items = load_qa(ROOT / "eval" / name)
    assert len(items) >= least and sum(not i.answerable for i in items) >= 8
    assert len({i.id for i in items}) == len(items)
    for item in items:
        for source, quote in item.evidence:
            assert quote in (ROOT / source).read_text(encoding="utf-8"), (item.id, source)
        for forms in item.facts:
            assert any(contains_fact(" ".join(q for _, q in item.evidence), (f,)) for f in forms), (item.id, forms)
    kinds = {i.type for i in items}
    assert {"single", "list", "number", "date", "multi_doc", "paraphrase", "unanswerable"} <= kinds


def test_fact_matching_is_whole_word():
    assert contains_fact("Treaties with the US and Iran", ("US",))
    assert not contains_fact("This thus continues", ("US",))
    assert contains_fact("about 90 per cent of them", ("90 per cent", "90%"))


TEXT = "Malaysia has 11 extradition treaties. They include Iran and Pakistan. The sky is blue."
SOURCE = "doc.txt"


class FakeRag:
    """Just the two read methods the scorer uses."""

    def documents(self):
        return [(SOURCE, 1)]

    def document(self, source):
        return Document.from_text(SOURCE, TEXT) if source == SOURCE else None


def hit(start, end, rank):
    return Hit(Chunk(f"c{rank}", SOURCE, start, end, TEXT[start:end], rank), 1.0 / rank, rank)


ITEM = Item("x", "How many treaties?", "number", True, (("11", "eleven"), ("Iran",)), ((SOURCE, "They include Iran and Pakistan."),))


def test_scores_a_good_answer_by_hand():
    gold = TEXT.index("They include")
    answer = Answer(
        ITEM.question, ITEM.question, "Malaysia has 11 extradition treaties [2]. They include Iran [1].",
        (
            Citation(2, SOURCE, 0, 37, TEXT[0:37], True, None, "Malaysia has 11 extradition treaties."),
            Citation(1, SOURCE, gold, gold + 31, TEXT[gold : gold + 31], True, None, "They include Iran."),
        ),
        (hit(38, 69, 1), hit(0, 37, 2)), False, "extractive",
    )
    row = score_item(FakeRag(), ITEM, answer, 0.1)
    assert row["hit"] and row["rr"] == 1.0  # the rank-1 passage holds the gold quote
    assert row["fact_recall"] == 1.0
    assert row["citation_precision"] == 0.5  # both verified, one overlaps the gold evidence
    assert row["citation_recall"] == 1.0  # 2 of 2 sentences backed
    assert row["quotes"] == row["quotes_valid"] == 2


def test_quote_not_in_source_is_invalid_and_unbacked():
    answer = Answer(
        ITEM.question, ITEM.question, "Malaysia has 12 extradition treaties [1]. It has none with Iran.",
        (Citation(1, SOURCE, 0, 37, "Malaysia has 12 extradition treaties.", False, None, "Malaysia has 12 extradition treaties."),),
        (hit(0, 37, 1), hit(38, 69, 2)), False, "extractive",
    )
    row = score_item(FakeRag(), ITEM, answer, 0.2)
    assert row["quotes"] == 1 and row["quotes_valid"] == 0
    assert row["fact_recall"] == 0.5  # "Iran" found, "11" not
    assert row["citation_precision"] == 0.0 and row["citation_recall"] == 0.0
    assert row["rr"] == 0.5  # gold passage at rank 2


def test_summary_abstention_and_gate():
    rows = [
        {"answerable": True, "abstained": False, "hit": True, "rr": 1.0, "fact_recall": 1.0, "citation_precision": 1.0,
         "citation_recall": 1.0, "quotes": 2, "quotes_valid": 2, "seconds": 0.1, "type": "single"},
        {"answerable": True, "abstained": True, "hit": False, "rr": 0.0, "fact_recall": 0.0, "citation_precision": None,
         "citation_recall": None, "quotes": 0, "quotes_valid": 0, "seconds": 0.3, "type": "single"},
        {"answerable": False, "abstained": True, "quotes": 0, "quotes_valid": 0, "seconds": 0.2, "type": "unanswerable"},
        {"answerable": False, "abstained": False, "quotes": 1, "quotes_valid": 0, "seconds": 0.4, "type": "unanswerable"},
    ]
    s = summarize(rows)
    assert s["hit_at_k"] == 0.5 and s["mrr"] == 0.5 and s["fact_recall"] == 0.5
    assert s["citation_precision"] == 1.0  # abstained answers are not counted
    assert s["quote_validity"] == round(2 / 3, 4)
    assert s["abstention_recall"] == 0.5 and s["abstention_precision"] == 0.5
    assert s["answerable_abstained"] == 1
    assert s["latency_p50"] == 0.25
    failures = check_thresholds(s, {"quote_validity": 1.0, "fact_recall": 0.4, "max_answerable_abstained": 0})
    assert len(failures) == 2 and any("quote_validity" in f for f in failures) and any("answerable_abstained" in f for f in failures)


@pytest.mark.slow
def test_rag_eval_writes_outputs_and_gates(tmp_path, real_rag):
    from rag.cli import main

    qa = tmp_path / "qa.jsonl"
    lines = QA.read_text(encoding="utf-8").splitlines()
    qa.write_text("\n".join(lines[:3] + [line for line in lines if '"What is the population of Malaysia?"' in line]) + "\n")
    strict = tmp_path / "strict.toml"
    strict.write_text("[thresholds]\nfact_recall = 1.01\n")
    # the corpus real_rag indexed (its copy of seeds/): the shared index stays as it was for later tests
    corpus = Path(real_rag.settings.index_path).parent / "seeds"
    args = ["eval", str(qa), "--index", real_rag.settings.index_path, "--corpus", str(corpus), "--out", str(tmp_path / "out")]
    assert main(args + ["--thresholds", str(strict)]) == 1
    assert main(args + ["--thresholds", str(strict), "--no-gate"]) == 0
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["runs"][0]["summary"]["questions"] == 4
    assert (tmp_path / "out" / "metrics_by_type.png").stat().st_size > 1000
    assert "| answer fact recall |" in (tmp_path / "out" / "report.md").read_text()
    assert len(real_rag.documents()) == 5  # evaluated over the shared index without adding to it
