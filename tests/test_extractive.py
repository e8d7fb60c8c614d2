"""The extractive answerer on hand-built input (no model): two-part questions, near misses, dated
headings, the reader's short answer. The English answer-kind rules are in test_english.py."""

from __future__ import annotations

import pytest

from rag.answer.extractive import Candidate, named_elsewhere
from rag.answer.flow import assemble, merged_search, unmentioned_note
from rag.text import split_question
from rag.types import Chunk, Draft, Hit
from rag.verify.claims import verify


@pytest.mark.parametrize(
    "question, parts",
    [
        ("When was the MoU signed, and when did Parliament pass the Act?",
         ["When was the MoU signed", "when did Parliament pass the Act?"]),
        ("Who chaired the meeting; where was it held?", ["Who chaired the meeting", "where was it held?"]),
        ("Which countries and organisations attended?", ["Which countries and organisations attended?"]),
        ("What did Malaysia and Singapore discuss?", ["What did Malaysia and Singapore discuss?"]),
    ],
)
def test_split_question(question, parts):
    assert split_question(question) == parts


def _hit(name: str, rank: int) -> Hit:
    return Hit(Chunk(name, f"{name}.txt", 0, 4, "text", 0), 1.0 / rank, rank)


def test_a_two_part_question_retrieves_evidence_for_each_part():
    results = {
        "When was the MoU signed, and when did Parliament pass the Act?": ["a", "b", "c", "d"],
        "When was the MoU signed": ["e", "a", "f", "g"],
        "when did Parliament pass the Act?": ["b", "h", "a", "i"],
    }
    searched = []

    def search(query):
        searched.append(query)
        return [_hit(name, rank) for rank, name in enumerate(results[query], start=1)]

    hits = merged_search("When was the MoU signed, and when did Parliament pass the Act?", search)
    assert [h.chunk.id for h in hits] == ["a", "e", "b", "h"]  # interleaved, deduplicated, as many as asked
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    assert len(searched) == 3
    searched.clear()
    assert [h.chunk.id for h in merged_search("When was the MoU signed", search)] == ["e", "a", "f", "g"]
    assert len(searched) == 1  # a plain question is searched once


def test_an_answer_names_what_its_quotes_never_mention_and_offers_no_short_answer_then():
    text = "Malaysia has 11 extradition treaties. Its heading names no other country."
    hit = Hit(Chunk("a.txt:0", "a.txt", 0, len(text), text, 0, heading="Extradition"), 1.0, 1)
    claims = verify("Malaysia has 11 extradition treaties. [1]", [hit], lambda _: text).claims
    draft = Draft("", short=(1, 13, 15))

    def ask(question: str):
        return assemble(question, question, claims, [hit], "extractive", draft=draft, source_text=lambda _: text)

    near_miss = ask("How many extradition treaties does Singapore have?")
    assert not near_miss.abstained and near_miss.unmentioned == ("Singapore",) and near_miss.short_answer is None
    answered = ask("How many extradition treaties does Malaysia have?")
    assert answered.unmentioned == () and answered.short_answer is not None and answered.short_answer.text == "11"
    assert ask("How many treaties do Singapore and Brunei have?").unmentioned == ("Singapore", "Brunei")
    assert ask("How many treaties does Malaysia have with Kota Kinabalu?").unmentioned == ("Kota Kinabalu",)  # one name
    assert ask("How many treaties does Malaysia have with the United Kingdom?").unmentioned == ("United Kingdom",)
    assert ask("How many treaties does Malaysia United have?").unmentioned == ("United",)  # a name's words that are written stay out
    assert unmentioned_note(["Singapore", "Brunei"]).startswith("the quoted passages never mention Singapore or Brunei,")


def _passage(source: str, text: str, start: int = 0) -> Hit:
    return Hit(Chunk(f"{source}:{start}", source, start, start + len(text), text, 0), 1.0, 1)


def test_a_value_from_a_document_that_does_not_name_what_another_one_names_is_a_near_miss():
    passages = [
        _passage("malaysia.txt", "Malaysia has 11 extradition treaties."),
        _passage("singapore.txt", "Singapore's new scam law takes effect on July 1."),
        _passage("jwc.txt", "The Joint Working Committee met for the first time."),
        _passage("jwc.txt", "Its session was held in Kota Kinabalu, Sabah.", 100),
        _passage("mou.txt", "The MoU was signed on November 14, 2024."),
    ]
    malaysia = [Candidate(1, 0, 38, passages[0].chunk.text, 1.0, 1.0, 1.0)]
    mou = [Candidate(5, 0, 40, passages[4].chunk.text, 1.0, 1.0, 1.0)]
    jwc = [Candidate(4, 100, 146, passages[3].chunk.text, 1.0, 1.0, 1.0)]
    # a document names Singapore, and gives no such number: Malaysia's is about something else
    assert named_elsewhere("How many extradition treaties does Singapore have?", passages, malaysia)
    assert not named_elsewhere("How many extradition treaties does Malaysia have?", passages, malaysia)
    # names spread over two passages of one document count for that document
    when = "When did the Joint Working Committee meet in Kota Kinabalu?"
    assert named_elsewhere(when, passages, mou) and not named_elsewhere(when, passages, jwc)
    # no document names Brunei: nothing to compare with (a paraphrase, say), so no near miss
    assert not named_elsewhere("How many extradition treaties does Brunei have?", passages, malaysia)
    # a question that asks for no kind of value, or names nothing
    assert not named_elsewhere("What does Singapore's law do?", passages, malaysia)
    assert not named_elsewhere("How many extradition treaties are there?", passages, malaysia)


def test_a_sentence_stands_under_its_title_and_the_nearest_heading_in_its_chunk():
    from rag.answer.extractive import _heading
    from rag.ingest.sections import headings, title

    text = "Ministers meet on crime.\nKUALA LUMPUR: They met.\nDay Two Talks\nFour sessions were held."
    first = Chunk("a", "a.txt", 0, len(text), text, 0)
    inside, top = headings(text), title(text)
    assert _heading(first, inside, top, text.index("KUALA")) == "Ministers meet on crime."
    assert _heading(first, inside, top, text.index("Four")) == "Ministers meet on crime.\nDay Two Talks"
    assert _heading(first, inside, top, 0) == ""  # the title is not its own context
    later = Chunk("b", "a.txt", 100, 100 + len("More was said."), "More was said.", 3, heading="Ministers meet\nDay One Talks")
    assert _heading(later, [], None, 100) == "Ministers meet\nDay One Talks"


REPORT = (
    "Highlights of the Putrajaya Meeting\n"
    "Day One (24 June 2025): Opening Ceremony\n"
    "The meeting was opened by the minister, who welcomed two hundred delegates from every member state.\n"
    "Day Two (25 June 2025): Consultations with Partners\n"
    "The consultation with Canada was co-chaired by Lao PDR and covered cybercrime cooperation.\n"
)
SECOND_DAY = REPORT.index("The consultation")


def _report_chunk(document_text=None) -> tuple[list[Hit], list]:
    """The second day's sentence as a chunk of its own, its title and heading as context (written
    before it, as rag.ingest.chunks makes them), asked when the consultation with Canada was held."""
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.embed.embedders import HashEmbedder

    text = REPORT[SECOND_DAY:].rstrip()
    heading = "Highlights of the Putrajaya Meeting\nDay Two (25 June 2025): Consultations with Partners"
    hits = [Hit(Chunk("c2", "report.txt", SECOND_DAY, SECOND_DAY + len(text), text, 2, heading=heading), 1.0, 1)]
    answerer = ExtractiveAnswerer(HashEmbedder(), document_text=document_text)
    return hits, answerer.select("On what date was the consultation with Canada held?", hits)


def test_a_sentence_under_a_dated_heading_answers_when_and_the_heading_is_quoted_at_its_place():
    hits, chosen = _report_chunk(lambda source: REPORT if source == "report.txt" else None)
    heading = "Day Two (25 June 2025): Consultations with Partners"
    assert [c.text for c in chosen] == [heading, REPORT[SECOND_DAY:].splitlines()[0]]
    assert (chosen[0].start, chosen[0].end) == (REPORT.index(heading), REPORT.index(heading) + len(heading))
    from rag.text import cited_lines

    claims = verify(cited_lines([(c.text, c.passage, c.list_item) for c in chosen]), hits, lambda s: REPORT).claims
    assert all(c.supported for c in claims) and len(claims) == 2
    quote = claims[0].citations[0]
    assert REPORT[quote.start : quote.end] == quote.quote == heading  # outside the chunk, at its own offsets
    assert quote.page is None  # the chunk's page need not be the heading's


def test_without_the_document_a_heading_before_the_chunk_cannot_be_quoted_so_it_dates_nothing():
    _, chosen = _report_chunk(None)
    assert chosen == []  # the sentence gives no date of its own


def test_a_dated_heading_inside_the_chunk_needs_no_document():
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.embed.embedders import HashEmbedder

    hits = [Hit(Chunk("c0", "report.txt", 0, len(REPORT), REPORT, 0), 1.0, 1)]
    chosen = ExtractiveAnswerer(HashEmbedder()).select("On what date was the consultation with Canada held?", hits)
    texts = [c.text for c in chosen]
    assert "Day Two (25 June 2025): Consultations with Partners" in texts
    assert texts.index("Day Two (25 June 2025): Consultations with Partners") + 1 == texts.index(REPORT[SECOND_DAY:].strip())
    # a question that asks for no date takes nothing from headings
    plain = ExtractiveAnswerer(HashEmbedder()).select("Who co-chaired the consultation with Canada?", hits)
    assert all(c.dated_by is None for c in plain)


class _SureOf:
    """A span reader double: the first word of each text, at a fixed calibrated confidence."""

    threshold, sure, bar = 0.35, 0.7, 0.0

    def __init__(self, confidence: float):
        self.margin = confidence

    def read(self, question, texts):
        from rag.answer.reader import Span

        return [Span(i, 0, len(t.split()[0]), t.split()[0], 1.0, self.margin, probability=1.0) for i, t in enumerate(texts)]

    def confidence(self, margin: float) -> float:
        return margin

    def bar_for(self, answerer: str) -> float:
        return self.bar


def test_passages_that_name_nothing_the_question_names_are_about_something_else():
    from rag.answer.extractive import unnamed

    schools = [_passage("schools.txt", "Private schools in Germany are regulated by the states.")]
    assert unnamed("When did ABC first start broadcasting?", schools)
    assert not unnamed("When did private schools in Germany start?", schools)  # one name written is enough
    assert not unnamed("when did the schools start?", schools)  # a question naming nothing
    titled = [Hit(Chunk("t", "abc.txt", 0, 20, "It started in 1943.", 1, heading="ABC history"), 1.0, 1)]
    assert not unnamed("When did ABC first start broadcasting?", titled)  # the heading names it


def test_the_default_declines_when_the_passages_name_nothing_asked_about_and_the_reader_finds_no_answer():
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.embed.embedders import HashEmbedder

    passages = [_passage("schools.txt", "Private schools first started broadcasting lessons in 1943 in Germany.")]
    question = "When did ABC first start broadcasting?"
    unsure = ExtractiveAnswerer(HashEmbedder(), reader=_SureOf(0.2))
    chosen = unsure.select(question, passages)
    assert chosen  # the checks alone would answer: a date, about starting to broadcast
    assert unsure.read(question, passages, chosen).text == ""
    sure = ExtractiveAnswerer(HashEmbedder(), reader=_SureOf(0.9))
    assert sure.read(question, passages, sure.select(question, passages)).text  # the reader vouches for it
    named = "When did Germany's private schools first start broadcasting?"
    assert unsure.read(named, passages, unsure.select(named, passages)).text  # the passage names Germany


class _Reads:
    """A span reader double: a given span and confidence for each text, else its first word at 0.1."""

    threshold, sure, bar = 0.35, 0.7, 0.0

    def __init__(self, spans: dict[str, tuple[str, float]]):
        self.spans = spans

    def read(self, question, texts):
        from rag.answer.reader import Span

        out = []
        for i, text in enumerate(texts):
            span, confidence = self.spans.get(text, (text.split()[0], 0.1))
            at = text.index(span)
            out.append(Span(i, at, at + len(span), span, 1.0, confidence, probability=1.0))  # sureness = confidence
        return out

    def confidence(self, margin: float) -> float:
        return margin

    def bar_for(self, answerer: str) -> float:
        return self.bar


def test_a_when_question_takes_its_short_answer_from_a_date_even_a_less_sure_one():
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.embed.embedders import HashEmbedder

    heading = "Day Two (25 June 2025): Consultations with Partners"
    sentence = REPORT[SECOND_DAY:].splitlines()[0]
    reader = _Reads({sentence: ("Lao PDR", 0.9), heading: ("25 June 2025", 0.5)})
    hits, _ = _report_chunk()
    answerer = ExtractiveAnswerer(HashEmbedder(), reader=reader, document_text=lambda source: REPORT)
    question = "On what date was the consultation with Canada held?"
    draft = answerer.read(question, hits, answerer.select(question, hits))
    n, start, end = draft.short
    assert (n, REPORT[start:end]) == (1, "25 June 2025")
    who = "Who co-chaired the consultation with Canada?"  # no date asked: the surest span
    draft = answerer.read(who, hits, answerer.select(who, hits))
    assert REPORT[draft.short[1] : draft.short[2]] == "Lao PDR"


def test_citations_are_numbered_one_to_n_in_the_order_the_answer_shows_them():
    texts = ["Ann was born in 1901.", "Nothing here.", "Ann lived in Lenk.", "Filler text.", "Ann had a dog called Rex."]
    hits = [Hit(Chunk(f"d{n}.txt:0", f"d{n}.txt", 0, len(t), t, 0), 1.0 / n, n) for n, t in enumerate(texts, start=1)]
    answer = "Ann lived in Lenk. [3] Ann was born in 1901. [1] Ann had a dog called Rex. [5] Ann flew to Mars. [2]"
    claims = verify(answer, hits, lambda s: texts[int(s[1]) - 1]).claims
    got = assemble("Who is Ann?", "Who is Ann?", claims, hits, "extractive", source_text=lambda s: texts[int(s[1]) - 1])
    assert got.text == "Ann lived in Lenk. [1] Ann was born in 1901. [2] Ann had a dog called Rex. [3]"
    assert [(c.marker, c.source, c.quote) for c in got.citations] == [
        (1, "d3.txt", texts[2]), (2, "d1.txt", texts[0]), (3, "d5.txt", texts[4])]  # quotes and offsets as they were
    assert [c.marker for w in got.withheld for c in w.citations] == [4]  # a withheld claim's passage comes after
    assert [h.rank for h in got.passages] == [1, 2, 3, 4, 5]


def test_a_short_answer_comes_only_from_a_passage_that_names_what_the_question_asks_about():
    malaysia = "Malaysia currently has 11 extradition treaties with other countries."
    singapore = "An agreement was signed in Singapore in November."
    hits = [_passage("malaysia.txt", malaysia), _passage("singapore.txt", singapore)]
    texts = {"malaysia.txt": malaysia, "singapore.txt": singapore}
    claims = verify(f"{malaysia} [1] {singapore} [2]", hits, lambda s: texts[s]).claims
    at = malaysia.index("11")
    draft = Draft("", short=(1, at, at + 2))

    def ask(question: str):
        return assemble(question, question, claims, hits, "extractive", draft=draft, source_text=lambda s: texts[s])

    asked = ask("How many extradition treaties does Malaysia have?")
    assert asked.short_answer is not None and asked.short_answer.text == "11"
    near_miss = ask("How many extradition treaties has Singapore signed?")
    assert near_miss.unmentioned == () and not near_miss.abstained  # a quote's passage names Singapore ...
    assert near_miss.short_answer is None  # ... but not the one holding 11: Malaysia's 11 is not Singapore's


def test_a_short_answer_below_the_fitted_bar_is_not_shown():
    from rag.embed.embedders import HashEmbedder
    from rag.answer.extractive import ExtractiveAnswerer

    sentence = "The committee approved a budget of RM4.2 million."
    passages = [_passage("minutes.txt", sentence)]
    question = "What budget did the committee approve?"
    reader = _Reads({sentence: ("RM4.2 million", 0.6)})
    shown = ExtractiveAnswerer(HashEmbedder(), reader=reader)
    assert shown.read(question, passages, shown.select(question, passages)).short is not None
    reader.bar = 0.8  # the card's bar: 90% of short answers shown at this sureness were right
    hidden = ExtractiveAnswerer(HashEmbedder(), reader=reader)
    draft = hidden.read(question, passages, hidden.select(question, passages))
    assert draft.short is None and draft.text  # the quotes stay, the bold answer goes
