"""`rag bench squad`: SQuAD's scoring by hand, the split by article, and a run end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rag import Chunk, Hit
from rag.bench.squad import Article, contains_gold, exact_match, f1, naive_answer, normalize, split, validation_titles


def test_normalize_and_scores_follow_squad():
    assert normalize("The  Normans, in 1169!") == "normans in 1169"
    assert exact_match("the Normans", ("Normans",)) == 1.0
    assert f1("Normans in France", ("the Normans",)) == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert f1("Vikings", ("Normans",)) == 0.0
    assert contains_gold("They invaded at Bannow Bay in 1169 [1].", ("1169",))
    assert not contains_gold("In 11690 they came.", ("1169",))  # whole words only


def test_split_is_by_article_fixed_and_a_quarter():
    articles = [Article(f"Title {i}", ("p",), ()) for i in range(32)]
    validation, train = split(articles, "validation"), split(articles, "train")
    assert len(validation) == 8 and len(train) == 24
    assert not {a.title for a in validation} & {a.title for a in train}
    assert validation_titles([a.title for a in reversed(articles)]) == {a.title for a in validation}
    assert len(split(articles, "all")) == 32


def test_naive_baseline_matches_the_answers_length_by_word_overlap():
    text = "Otters float on their backs. Herons wait in water. Otters hold hands while they sleep."
    hit = Hit(Chunk("c", "a.txt", 0, len(text), text, 0), 1.0, 1)
    assert naive_answer("do otters hold hands?", [hit], 3) == "Otters hold hands while they sleep."
    assert naive_answer("do otters hold hands?", [hit], 0) == ""
    assert naive_answer("do otters hold hands?", [hit], 8).count(".") == 2


@pytest.mark.slow
def test_bench_squad_runs_end_to_end(tmp_path):
    def article(title, sentences, questions):
        context = " ".join(sentences)
        qas = [{"id": f"{title}-{i}", "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]}
               for i, (q, a) in enumerate(questions)]
        return {"title": title, "paragraphs": [{"context": context, "qas": qas}]}

    data = {"version": "1.1", "data": [
        article("Otters", ["Sea otters float on their backs in kelp forests.", "They hold hands while they sleep."],
                [("Where do sea otters float?", "kelp forests"), ("What do otters hold while they sleep?", "hands")]),
        article("Herons", ["The grey heron waits motionless in shallow water.", "It nests in colonies called heronries."],
                [("What are heron colonies called?", "heronries")]),
        article("Comets", ["Halley's Comet returns every 75 to 79 years.", "It was last seen in 1986."],
                [("When was Halley's Comet last seen?", "1986")]),
    ]}
    path = tmp_path / "tiny-squad.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "bench", "squad", str(path), "--split", "all", "--held-out", "1",
         "--per-article", "5", "--held-out-questions", "5", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "results.json").read_text())
    scores = report["answerers"]["extractive"]
    assert report["indexed_articles"] == 2 and scores["answerable"] + scores["out_of_corpus"] == 4
    assert scores["quote_validity"] == 1.0 and 0 <= scores["gold_in_answer"] <= 1
    assert "| gold in the answer |" in result.stdout
