"""A follow-up question rewritten to stand alone: what is searched for and read is the follow-up,
with what it leans on from the previous question spelled out (rag.answer.flow.standalone_query)."""

from __future__ import annotations

import pytest

from rag.answer.flow import standalone_query

EXTRADITION = "which countries have extradition treaties with Malaysia?"


@pytest.mark.parametrize(
    "previous, question, expected",
    [
        (EXTRADITION, "and which of those are ASEAN members?",
         "Which of the countries that have extradition treaties with Malaysia are ASEAN members?"),
        ("When was the 25th SOMTC held?", "and who chaired it?", "Who chaired the 25th SOMTC?"),
        ("How many extradition treaties does Malaysia have?", "what about Singapore?",
         "How many extradition treaties does Singapore have?"),
        ("Who chaired the meeting in Kota Kinabalu?", "and when was it held?", "When was the meeting in Kota Kinabalu held?"),
        (EXTRADITION, "and which of those countries is in South Asia?",
         "Which of the countries that have extradition treaties with Malaysia is in South Asia?"),
        (EXTRADITION, "and how many are there?", "How many are there (the countries that have extradition treaties with Malaysia)?"),
    ],
)
def test_a_follow_up_is_rewritten_into_one_question(previous, question, expected):
    assert standalone_query(question, [(previous, "an answer [1]")]) == expected


def test_a_question_that_stands_alone_is_left_as_asked():
    assert standalone_query("How many extradition treaties does Malaysia have?", [(EXTRADITION, "...")]) == (
        "How many extradition treaties does Malaysia have?")
    assert standalone_query("and who chaired it?", []) == "and who chaired it?"  # no earlier turn to lean on

