"""rag bench news: the news-qa layout read, and near misses, conflicts and short answers scored."""

from __future__ import annotations

import json

from rag.bench.news import load_news, markdown, summarize


def _row(qid, answerable=True, abstained=False, short=None, f1=0.0, near_miss=None, pair=False, both=False, claimed=False):
    return {"id": qid, "answerable": answerable, "near_miss": near_miss, "abstained": abstained, "confidence": 0.5,
            "short": short, "gold_in_answer": answerable and not abstained, "words": 0 if abstained else 20,
            "em": float(f1 == 1.0), "f1": f1, "conflict_claimed": claimed, "conflict_pair": pair, "both_values": both,
            "valid": True, "seconds": 0.1}


def test_a_news_file_gives_articles_near_miss_kinds_and_conflict_pairs(tmp_path):
    context = "Police freed 587 people in Poipet on Monday."
    data = {"data": [{"title": "Poipet raid", "set": "A", "paragraphs": [{"context": context, "qas": [
        {"id": "q1", "question": "How many were freed?", "is_impossible": False,
         "answers": [{"text": "587", "answer_start": context.index("587")}]},
        {"id": "q2", "question": "How many Indonesians were freed?", "is_impossible": True, "answers": [],
         "near_miss": "other_entity"}]}]}],
        "conflicts": [{"question_id": "q1", "question_ids": ["q1", "q9"], "values": ["587", "568"]},
                      {"question_id": "q3", "values": ["nine", "11"]}]}  # a pair named by its first question alone
    path = tmp_path / "news.json"
    path.write_text(json.dumps(data))
    articles, kinds, conflicts = load_news(path)
    assert [q.id for q in articles[0].questions] == ["q1", "q2"] and articles[0].questions[1].answers == ()
    assert kinds == {"q2": "other_entity"}
    assert [c.question_ids for c in conflicts] == [("q1", "q9"), ("q3",)]


def test_near_misses_conflicts_and_shown_short_answers_are_counted():
    rows = [_row("a", short="587", f1=1.0, pair=True, both=True, claimed=True), _row("b", short="Monday", f1=0.0),
            _row("c", abstained=True), _row("d", answerable=False, abstained=True, near_miss="other_entity"),
            _row("e", answerable=False, near_miss="wrong_time", claimed=True)]
    got = summarize(rows)
    assert got["short_f1"] == round(1 / 3, 4) and got["short_precision"] == 0.5  # one of two shown is right
    assert got["wrong_declines"] == round(1 / 3, 4) and got["near_miss_declines"] == 0.5
    assert got["near_miss_declines_by_kind"] == {"other_entity": "1/1", "wrong_time": "0/1"}
    assert got["conflicts_with_both_values"] == "1/1" and got["false_conflicts"] == 1
    table = markdown({"split": "validation", "articles": 1, "seeds": "seeds", "answerable": 3, "near_misses": 2,
                      "answerers": {"extractive": got}, "command": "rag bench news news.json"})
    assert "| near misses declined, by kind | other_entity 1/1, wrong_time 0/1 |" in table
    assert table.rstrip().endswith("Command: `rag bench news news.json`")
