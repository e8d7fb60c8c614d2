"""The relevance floor: its fitted card, and how a quote's score is read from the sentences it overlaps."""

from __future__ import annotations

import json

from rag.answer.relevance import PARAMS, fitted_floor, quote_score


def test_the_fitted_floor_keeps_most_right_quotes_on_articles_it_was_not_fitted_on():
    card = json.loads(PARAMS.read_text(encoding="utf-8"))
    assert fitted_floor() == card["floor"] and 0.0 < card["floor"] < 1.0
    assert card["train"]["gold_kept"] >= card["keep"]
    assert card["validation"]["gold"] > 100 and card["validation"]["out_of_corpus"] > 100
    assert card["validation"]["gold_kept"] > 0.8 and card["validation"]["out_of_corpus_rejected"] > 0.8


def test_a_quote_scores_as_the_best_sentence_it_overlaps():
    scores = [("a.txt", 0, 10, 0.2), ("a.txt", 11, 30, 0.6), ("b.txt", 0, 30, 0.9)]
    assert quote_score(scores, "a.txt", 5, 15) == 0.6  # spans two sentences: the better one
    assert quote_score(scores, "a.txt", 0, 10) == 0.2
    assert quote_score(scores, "a.txt", 30, 40) == 0.0  # touches no sentence
    assert quote_score(scores, "c.txt", 0, 10) == 0.0  # another document
