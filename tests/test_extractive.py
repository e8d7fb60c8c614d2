"""The extractive answerer's answer-type checks and two-part questions, on hand-built input (no model)."""

from __future__ import annotations

import pytest

from rag.answer import assemble, merged_search, unmentioned_note
from rag.extractive import (
    ENUMERATION,
    PLURAL_QUESTION,
    Candidate,
    body,
    missing_names,
    named_elsewhere,
    question_names,
    requirements,
    satisfies,
    set_aside,
)
from rag.text import split_question
from rag.types import Chunk, Draft, Hit
from rag.verify import verify


@pytest.mark.parametrize(
    "sentence, rest",
    [
        ("date 2025-05-03 KUALA LUMPUR: Malaysia is strengthening efforts.", "Malaysia is strengthening efforts."),
        ("KUALA LUMPUR (Bernama): Asean must step up.", "Asean must step up."),
        ("By Nur Ashikin Abdul Aziz SINGAPORE, June 30 (Bernama) -- Singapore's new law takes effect.",
         "Singapore's new law takes effect."),
        ("Held in Kota Kinabalu, Sabah, the session was co-chaired.", "Held in Kota Kinabalu, Sabah, the session was co-chaired."),
        ("NOTE: read this.", "read this."),
        ("ASEAN", "ASEAN"),  # nothing left after a dateline: the sentence stays whole
    ],
)
def test_body_drops_a_leading_dateline_or_byline(sentence, rest):
    assert body(sentence) == rest


def test_a_dateline_place_does_not_answer_where_but_its_date_answers_when():
    where = "Where was the inaugural Malaysia–Singapore Joint Working Committee meeting held?"
    dateline = "KUALA LUMPUR: Malaysia and Singapore held their inaugural Joint Working Committee meeting."
    assert requirements(where) == ("new-name",)
    assert not satisfies(dateline, where, requirements(where))
    # "held" says only that something took place: the sentence before ties this one to the meeting
    held = "Held in Kota Kinabalu, Sabah, the session was co-chaired."
    assert satisfies(held, where, requirements(where), context=dateline)
    assert not satisfies(held, where, requirements(where), context="Ministers spoke.")
    when = "On what date did Shamsul Anuar speak about extradition?"
    assert satisfies("date 2025-05-03 KUALA LUMPUR: Malaysia is strengthening extradition efforts.", when, requirements(when))


def test_a_possessive_in_the_question_is_not_a_new_name():
    question = "Which partners did Malaysia and Singapore’s ministers meet?"
    assert not satisfies("Malaysia and Singapore’s ministers met often.", question, ("new-name",))
    assert satisfies("Malaysia and Singapore’s ministers met Japan.", question, ("new-name",))


def test_a_role_question_with_an_owner_needs_that_owner_nearby():
    question = "Who is Singapore's Minister for Home Affairs?"
    needs = requirements(question)
    malaysian = "The meeting was officiated by YB Datuk Seri Saifuddin Nasution bin Ismail, Minister of Home Affairs."
    assert not satisfies(malaysian, question, needs)
    assert satisfies(malaysian, question, needs, context="Singapore sent a delegation to Putrajaya.")
    assert satisfies("Singapore's Minister for Home Affairs K. Shanmugam said the law works.", question, needs)


@pytest.mark.parametrize(
    "question, plural",
    [
        ("Which countries have extradition treaties with Malaysia?", True),
        ("Which other countries signed?", True),
        ("What areas of cooperation were discussed?", True),
        ("What is the population of Malaysia?", False),
        ("What was the slogan of the chairmanship?", False),
        ("What class was it?", False),
    ],
)
def test_plural_questions(question, plural):
    assert bool(PLURAL_QUESTION.search(question)) is plural


def test_enumerations():
    assert ENUMERATION.search("cooperation in drug smuggling, terrorism, cybercrime and border security")
    assert ENUMERATION.search("Indonesia, the United States, Thailand, Pakistan, and Iran")
    assert not ENUMERATION.search("Malaysia and Singapore met in Kota Kinabalu.")


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


def test_country_questions_need_a_country_the_question_does_not_name():
    from rag.places import countries, new_countries

    assert countries("talks with the United States, South Korea and Viet Nam") == {"United States", "South Korea", "Viet Nam"}
    assert countries("the U.S. and the UK") == {"U.S.", "UK"}
    assert countries("Koreans in Nigeria's capital") == {"Nigeria"}
    question = "Apart from Indonesia and Thailand, which other countries have extradition treaties with Malaysia?"
    assert requirements(question) == ("country",)
    assert new_countries("Malaysians in Indonesia and Thailand", question) == set()  # a demonym names its country
    treaty = "Malaysia has extradition treaties with Indonesia, Thailand and Pakistan."
    assert satisfies(treaty, question, ("country",))
    assert not satisfies("Malaysia has extradition treaties with Indonesia and Thailand.", question, ("country",))
    # countries, but nothing about what was asked
    assert not satisfies("Malaysia held bilateral meetings with Singapore and Australia.", question, ("country",))
    # places we do not list (here fictional ones): in a passage that names no country we know, any new name
    zorblat = "Which countries signed the Zorblat treaty?"
    signed = "The Zorblat treaty was signed in 2031 by Freedonia and Sylvania."
    assert satisfies(signed, zorblat, requirements(zorblat), passage=signed)
    news = "Malaysians abroad were helped by the Foreign Ministry, which signed the Zorblat treaty."
    assert not satisfies(news, zorblat, requirements(zorblat), passage=news)  # "Malaysians": a country we know


def test_a_named_answer_must_be_about_what_was_asked():
    question = "Who officiated the 25th SOMTC meeting?"
    needs = requirements(question)
    assert satisfies("The 25th SOMTC meeting was officiated by Datuk Seri Saifuddin Nasution.", question, needs)
    assert not satisfies("Datuk Seri Saifuddin Nasution arrived in Putrajaya on Monday.", question, needs)
    # a question whose only lower-case words are stopwords asks nothing more than the name
    role = "Who is Malaysia's Representative to the ASEAN Commission on Human Rights (AICHR)?"
    assert satisfies("Malaysia's Representative to the ASEAN Commission Edmund Bon said so.", role, requirements(role))


def test_answer_shape_patterns():
    from rag.extractive import CAUSE, WHY_QUESTION, _agent_pattern

    agent = _agent_pattern("Who supported the regional workshop?")
    assert agent.search("It was jointly supported by Asean Member States through the AICHR Fund.")
    assert agent.search("The workshop, supported in part by UNDP, ran two days.")
    assert not agent.search("Asean Member States supported it.")  # active voice: left to the other scores
    assert _agent_pattern("Who officiated the meeting?").search("The meeting was officiated by YB Datuk Seri Saifuddin.")
    assert _agent_pattern("Who is the minister?") is None and _agent_pattern("Who tied it?") is None
    assert WHY_QUESTION.match("Why are users drawn to synthetic drugs?")
    assert WHY_QUESTION.match("What were the reasons for the shift?")
    assert not WHY_QUESTION.match("What happened next?")
    assert CAUSE.search("They were attracted to the drugs because of easy access.")
    assert not CAUSE.search("They were attracted to the drugs.")


def test_a_number_or_date_answer_must_add_one_the_question_does_not_hold():
    question = "How many of the five people prosecuted have been convicted?"
    needs = requirements(question)
    assert needs == ("number",)
    assert not satisfies("So far, five individuals have been prosecuted and convicted.", question, needs)
    assert satisfies("Of the five prosecuted, two have been convicted.", question, needs)
    when = "By what date is the Work Plan (2025–2028) expected to be finalised?"
    assert not satisfies("The Work Plan (2025–2028) will be finalised soon.", when, requirements(when))
    assert satisfies("The Work Plan (2025–2028) is expected to be finalised by March 2026.", when, requirements(when))
    # an abbreviated month only beside a day: "Jun Tan" is a name, "Jan 7" a date
    date = "On what date was the consultation held?"
    assert not satisfies("The consultation was held with H.E. Jun Tan.", date, requirements(date))
    assert satisfies("The consultation was held on Jan 7.", date, requirements(date))


@pytest.mark.parametrize("sentence, number", [
    ("Around half of the genes moved to the nucleus.", True),
    ("Hundreds of genes moved to the nucleus.", True),
    ("A quarter of the genes stayed.", True),
    ("On behalf of the cell, the genes moved.", False),  # "behalf" is no "half"
    ("Most of the genes moved.", False),
])
def test_number_words_count_as_an_amount(sentence, number):
    question = "How much of the genes moved to the nucleus?"
    assert satisfies(sentence, question, requirements(question)) is number


def test_a_number_after_what_is_the_is_no_noun_to_look_for():
    # "what are the eight sermons called": "eight" names no topic the sentence must repeat
    question = "What are the eight sermons called that Luther preached?"
    assert satisfies("Luther preached them, and they became known as the Invocavit Sermons.", question, requirements(question))


def test_money_questions_need_an_amount_of_money():
    question = "How much did Japan contribute to the workshop?"
    assert requirements(question) == ("money",)
    assert not satisfies("The two-day workshop, held from 30 June to 1 July, was supported by Japan.", question, ("money",))
    assert satisfies("Japan contributed US$50,000 to the workshop.", question, ("money",))
    assert requirements("How much of the corpus was read?") == ("number",)


def test_what_is_the_noun_questions_need_their_noun_unless_it_names_the_kind_of_answer():
    budget = "What is the budget of the Royal Malaysia Police?"
    assert not satisfies("The Royal Malaysia Police has 199 officers abroad.", budget, requirements(budget))
    assert satisfies("The Royal Malaysia Police budget is RM19 billion.", budget, requirements(budget))
    period = "What is the period the new plan covers?"
    assert satisfies("The new plan runs over the decade (2026–2035).", period, requirements(period))
    # "what harms does ..." names a category whose members answer it: no noun check
    harms = "What harms does the Leader say synthetic drugs cause?"
    assert satisfies("The Leader says synthetic drugs cause trauma and stress.", harms, requirements(harms))


def test_a_leading_clause_does_not_set_the_kind_of_answer():
    # "When Malaysia chairs ASEAN, through which ...?" asks for tracks, not a date
    assert "date" not in requirements("When Malaysia holds the ASEAN chair, through which tracks will it raise scams?")
    assert requirements("When was the MoU signed?") == ("date",)
    assert requirements("After the meeting, who spoke to the press?") == ("person",)


@pytest.mark.parametrize("question, needs", [
    ("Which crimes did Senator Rita ask about when she raised cooperation with ASEAN?", ()),  # "when" joins, a verb before "Senator"
    ("By when is the proposal to go before ministers?", ("date",)),
    ("Since when has the law been in force?", ("date",)),
    ("It was signed when?", ()),  # only at the start or after a preposition
    ("Which senator asked the minister about fraud?", ("person",)),
    ("Which crimes were the officers asked about?", ()),
])
def test_when_and_a_role_word_ask_for_a_date_or_person_only_as_the_question_word(question, needs):
    assert requirements(question) == needs


def test_a_role_with_words_before_it_asks_for_a_person():
    assert requirements("Which Singapore minister signed the MoU?") == ("person",)
    assert requirements("Which deputy home ministers spoke?") == ("person",)
    assert requirements("What is the role of the minister?") == ()


def test_what_the_question_sets_aside_is_not_matched():
    question = "Apart from arms control, what approach does Malaysia back for regional security?"
    assert set_aside(question) == {"arm", "control"}
    assert set_aside("Besides Japan, which countries took part, and did Japan host?") == set()  # named again: still asked


def test_a_single_digit_in_the_question_need_not_be_in_the_passage_but_an_ordinal_must():
    question = "Apart from the SOMTC + 3 session, which partners met on day three?"
    assert satisfies("Several other consultation sessions included:", question, (), passage="Day Three sessions")
    question = "Who chaired the 25th SOMTC plenary?"
    assert not satisfies("The plenary was chaired by Datuk Awang Alik.", question, ("person",), passage="the 26th SOMTC")
    assert satisfies("The plenary was chaired by Datuk Awang Alik.", question, ("person",), passage="the 25th SOMTC")


def test_names_missing_from_a_passage():
    question = "Which ASEAN member co-chaired the SOMTC + United Kingdom Consultation?"
    assert missing_names(question, "17th SOMTC + United States, co-chaired by Cambodia. ASEAN Consultation") == ["Kingdom"]
    assert missing_names("Who leads Singapore's police?", "The Singaporean police are led by ...") == []


@pytest.mark.parametrize(
    "question, names",
    [
        ("How many extradition treaties does Singapore have?", ["Singapore"]),
        ("Who met in Kota Kinabalu in January's retreat?", ["Kota", "Kinabalu"]),  # a month, possessive or not, is no name
        ("Apart from Russia, which partners met Malaysia in June?", ["Malaysia"]),  # set aside: not asked about
        ("Malaysia and Malaysia's partners?", ["Malaysia's"]),  # the first word is a sentence's capital; each name once
    ],
)
def test_question_names(question, names):
    assert question_names(question) == names


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
    from rag.extractive import _heading
    from rag.sections import headings, title

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
    before it, as rag.chunks makes them), asked when the consultation with Canada was held."""
    from rag.embeddings import HashEmbedder
    from rag.extractive import ExtractiveAnswerer

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
    from rag.embeddings import HashEmbedder
    from rag.extractive import ExtractiveAnswerer

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

    threshold, sure = 0.35, 0.7

    def __init__(self, confidence: float):
        self.margin = confidence

    def read(self, question, texts):
        from rag.reader import Span

        return [Span(i, 0, len(t.split()[0]), t.split()[0], 1.0, self.margin) for i, t in enumerate(texts)]

    def confidence(self, margin: float) -> float:
        return margin


def test_passages_that_name_nothing_the_question_names_are_about_something_else():
    from rag.extractive import unnamed

    schools = [_passage("schools.txt", "Private schools in Germany are regulated by the states.")]
    assert unnamed("When did ABC first start broadcasting?", schools)
    assert not unnamed("When did private schools in Germany start?", schools)  # one name written is enough
    assert not unnamed("when did the schools start?", schools)  # a question naming nothing
    titled = [Hit(Chunk("t", "abc.txt", 0, 20, "It started in 1943.", 1, heading="ABC history"), 1.0, 1)]
    assert not unnamed("When did ABC first start broadcasting?", titled)  # the heading names it


def test_the_default_declines_when_the_passages_name_nothing_asked_about_and_the_reader_finds_no_answer():
    from rag.embeddings import HashEmbedder
    from rag.extractive import ExtractiveAnswerer

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

    threshold, sure = 0.35, 0.7

    def __init__(self, spans: dict[str, tuple[str, float]]):
        self.spans = spans

    def read(self, question, texts):
        from rag.reader import Span

        out = []
        for i, text in enumerate(texts):
            span, confidence = self.spans.get(text, (text.split()[0], 0.1))
            at = text.index(span)
            out.append(Span(i, at, at + len(span), span, 1.0, confidence))
        return out

    def confidence(self, margin: float) -> float:
        return margin


def test_a_when_question_takes_its_short_answer_from_a_date_even_a_less_sure_one():
    from rag.embeddings import HashEmbedder
    from rag.extractive import ExtractiveAnswerer

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
