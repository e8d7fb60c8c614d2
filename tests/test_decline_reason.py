"""Why an abstention declined, in words a person can check against the passages (rag.answer.flow.decline_reason)."""

from __future__ import annotations

from rag.answer.flow import decline_reason
from rag.types import Chunk, Draft, Hit


def test_a_decline_says_why_in_words_the_passages_bear_out():
    text = ("Singapore hosted the talks. He added that Malaysia currently has 11 extradition treaties, "
            "with countries including Indonesia.")
    hits = [Hit(Chunk("a", "a.txt", 0, len(text), text, 0), 1.0, 1)]
    at = text.index("11")
    nearest = Draft("", nearest=(1, at, at + 2))
    assert decline_reason("How many extradition treaties has Singapore signed?", hits, nearest) == (
        "the nearest passage gives “11” for Malaysia, not for Singapore")
    assert decline_reason("How many extradition treaties has Brunei signed?", hits, nearest) == "no passage found mentions Brunei"
    assert decline_reason("How many treaties did Malaysia sign in 2019?", hits, nearest) == "no passage found mentions 2019"
    assert "does not answer" in decline_reason("How many extradition treaties has Malaysia signed?", hits, nearest)
