"""English dates as day ranges (rag.answer.dates), and two documents that date one event over different
days (rag.answer.extractive.other_days): hand-built text, no model."""

from __future__ import annotations

import datetime

import pytest

from rag.answer.dates import Days, days, first_year, span, written
from rag.answer.extractive import other_days
from rag.answer.reading import Reading
from rag.types import Chunk, Hit

D = datetime.date


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The 25th ASEAN SOMTC will be held in Malaysia from June 23 to 27, 2025.", [(D(2025, 6, 23), D(2025, 6, 27))]),
        ("Day One (24 June 2025): Opening Ceremony", [(D(2025, 6, 24), D(2025, 6, 24))]),
        ("held in Kuala Lumpur from 30 June to 1 July 2025", [(D(2025, 6, 30), D(2025, 7, 1))]),
        ("from June 30 to July 1, 2025", [(D(2025, 6, 30), D(2025, 7, 1))]),
        ("on 23–27 June 2025", [(D(2025, 6, 23), D(2025, 6, 27))]),
        ("signed on November 14, 2024, and again on Jan 7", [(D(2024, 11, 14), D(2024, 11, 14)), (D(2024, 1, 7), D(2024, 1, 7))]),
        ("the 17th SOMTC + Russia Consultation on June 25", []),  # no year anywhere and none given
        ("They may 5 times say so in 2025.", []),  # "may" is no month
        ("In May 2025 the plan began.", []),  # a month without a day is no day
        ("June 31, 2025 and June 23 to 20, 2025", []),  # impossible dates and backward ranges are left out
    ],
)
def test_days(text, expected):
    assert [(d.first, d.last) for d in days(text)] == expected


def test_a_date_without_a_year_takes_the_given_one_and_its_offsets_are_the_texts():
    text = "the consultation on June 25 went well"
    (found,) = days(text, year=2025)
    assert (found.first, found.last) == (D(2025, 6, 25), D(2025, 6, 25)) and text[found.start : found.end] == "June 25"


def test_span_runs_from_the_first_day_to_the_last():
    whole = span(days("Day One (24 June 2025). Day Two (25 June 2025). Day Three (26 June 2025)."))
    assert whole is not None and (whole.first, whole.last) == (D(2025, 6, 24), D(2025, 6, 26)) and whole.several
    assert span([]) is None


A = "The 25th SOMTC will be held in Malaysia from June 23 to 27, 2025."
B = ("Highlights of the 25th SOMTC Meeting\nThe meeting was convened over three days.\n"
     "Day One (24 June 2025): Opening Ceremony\nDay Two (25 June 2025): Consultations\nDay Three (26 June 2025): Closing")


def _hit(text: str, source: str) -> Hit:
    return Hit(Chunk(f"{source}:0", source, 0, len(text), text, 0), 1.0, 1)


def _best(text: str, value: str, passage: int = 1) -> Reading:
    start = text.index(value)
    return Reading(passage, start, start + len(value), 0.9, ((0, len(text), text),), value)


def test_another_document_that_dates_the_event_over_other_days_disagrees():
    passages = [_hit(A, "a.txt"), _hit(B, "b.txt")]
    quoted, spanned, _ = other_days("When was the 25th SOMTC held?", passages, _best(A, "June 23 to 27, 2025"))
    assert spanned is not None and written(spanned) == "24–26 June 2025"
    assert [c.text for c in quoted] == ["Day One (24 June 2025): Opening Ceremony", "Day Three (26 June 2025): Closing"]
    assert all(c.passage == 2 and B[c.start : c.end] == c.text for c in quoted)


@pytest.mark.parametrize(
    "question, second, why",
    [
        ("When was the 25th SOMTC held?", B.replace("25th", "26th"), "an ordinal the question names is missing: another meeting"),
        ("When was the 25th SOMTC held in Putrajaya?", B, "a name the question names is missing"),
        ("Who chaired the 25th SOMTC?", B, "not a question about when"),
        ("When was the 25th SOMTC held?", "The 25th SOMTC opened on 24 June 2025.", "one day inside the answer's span is part of it"),
        ("When was the 25th SOMTC held?", "The 25th SOMTC ran from June 23 to 27, 2025.", "the same span"),
        ("When was the 25th SOMTC held?", "The 25th SOMTC: 1 May 2025, 3 May 2025.", "days that do not overlap: another event"),
    ],
)
def test_no_disagreement(question, second, why):
    passages = [_hit(A, "a.txt"), _hit(second, "b.txt")]
    assert other_days(question, passages, _best(A, "June 23 to 27, 2025")) == ([], None, ()), why


def test_one_document_never_disagrees_with_itself_and_a_single_day_answer_has_no_span():
    both = A + "\n" + B
    assert other_days("When was the 25th SOMTC held?", [_hit(both, "a.txt")], _best(both, "June 23 to 27, 2025")) == ([], None, ())
    passages = [_hit(B, "b.txt"), _hit(A, "a.txt")]
    assert other_days("When did the 25th SOMTC open?", passages, _best(B, "24 June 2025")) == ([], None, ())


def test_days_are_written_as_prose_writes_them():
    d = datetime.date
    assert written(Days(d(2025, 6, 24), d(2025, 6, 24), 0, 0)) == "24 June 2025"
    assert written(Days(d(2025, 6, 30), d(2025, 7, 2), 0, 0)) == "30 June – 2 July 2025"
    assert written(Days(d(2024, 12, 30), d(2025, 1, 2), 0, 0)) == "30 December 2024 – 2 January 2025"


def test_first_year_is_the_first_texts_that_writes_one():
    assert first_year("on June 25", "the 2025 meeting, and 2024 before") == 2025
    assert first_year("in 2023", "2025") == 2023 and first_year("no year", "none") is None
