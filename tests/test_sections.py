"""Titles and section headings, and the context they give chunks (rag.ingest.sections)."""

from __future__ import annotations

from rag import Document
from rag.ingest.chunks import split_document
from rag.ingest.sections import Outline, headings, title
from rag.text import terms

REPORT = """Highlights of the 25th Regional Meeting in Putrajaya
The meeting was convened over three days in Putrajaya, with 200 delegates.
Day One (24 June 2025): Opening Ceremony and Strategic Recommendations
The meeting was officiated by the Minister of Home Affairs.
Day Two (25 June 2025): Consultations with Dialogue Partners
Four consultation sessions were held as follows:
13th Meeting + Canada Consultation , co-chaired by Lao PDR
12th Meeting + India Consultation , co-chaired by Philippines
The second-day meeting concluded by midday.
"""


def spans(text: str, found: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in found]


def test_a_short_first_line_is_the_title_and_a_dateline_lede_is_not():
    assert spans(REPORT, [title(REPORT)]) == ["Highlights of the 25th Regional Meeting in Putrajaya"]
    headline = "Malaysia and Singapore strengthen ties through a new committee.\nKUALA LUMPUR: The committee met.\n"
    assert spans(headline, [title(headline)]) == ["Malaysia and Singapore strengthen ties through a new committee."]
    lede = "KUALA LUMPUR: A total of 707 Malaysians have been rescued.\n\nHe said more would follow.\n"
    assert title(lede) is None
    assert title("date 2025-05-03 KUALA LUMPUR: Malaysia is strengthening efforts.\nMore.\n") is None
    assert title("One line and nothing else") is None  # its only line is its text, not a title over it


def test_headings_are_short_capitalized_lines_and_list_items_are_not():
    assert spans(REPORT, headings(REPORT)) == [
        "Highlights of the 25th Regional Meeting in Putrajaya",
        "Day One (24 June 2025): Opening Ceremony and Strategic Recommendations",
        "Day Two (25 June 2025): Consultations with Dialogue Partners",
    ]
    # sentence-case lines without a full stop, after a sentence, are not headings
    assert headings("It rained.\nthe river rose over the old banks\n") == []


def test_context_is_the_title_and_the_heading_above():
    outline = Outline(REPORT)
    inside_day_two = REPORT.index("Four consultation")
    assert outline.context(inside_day_two).splitlines() == [
        "Highlights of the 25th Regional Meeting in Putrajaya",
        "Day Two (25 June 2025): Consultations with Dialogue Partners",
    ]
    # a chunk that starts with its heading holds it already; the title still applies
    assert outline.context(REPORT.index("Day Two")).splitlines() == [
        "Highlights of the 25th Regional Meeting in Putrajaya",
        "Day One (24 June 2025): Opening Ceremony and Strategic Recommendations",
    ]
    assert outline.context(0) == ""


def test_chunks_carry_their_context_and_it_is_part_of_their_identity():
    doc = Document.from_text("report.txt", REPORT)
    chunks = split_document(doc, max_tokens=24, overlap=0)
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.heading == Outline(REPORT).context(chunk.start)
        assert chunk.indexed_text == (f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text)
    listed = next(c for c in chunks if "Canada" in c.text)
    assert "Day Two" in listed.heading and "Day Two" not in listed.text
    # the same words under another heading are another chunk
    retitled = Document.from_text("report.txt", REPORT.replace("25th", "26th", 1))
    moved = {c.start: c for c in split_document(retitled, max_tokens=24, overlap=0)}[listed.start]
    assert moved.text == listed.text and moved.id != listed.id


def test_ordinal_words_match_the_numbers_of_headings():
    assert {"two", "day"} <= set(terms("What was held on the second day?"))
    assert terms("the second-day meeting") == terms("the two day meeting")
    assert set(terms("Day Two")) == {"day", "two"}
