"""The English answer-kind rules (rag.answer.english), table-driven: what a question asks for, whether a
sentence holds it, and the names a question asks about. Hand-built text, no model."""

from __future__ import annotations

import pytest

from rag.answer.english import (
    CAUSE,
    ENUMERATION,
    PLURAL_QUESTION,
    WHY_QUESTION,
    agent_pattern,
    body,
    missing_names,
    question_names,
    requirements,
    satisfies,
    set_aside,
)
from rag.answer.places import countries, new_countries

# question -> what its answer must hold
REQUIREMENTS = [
    ("Where was the inaugural Malaysia–Singapore Joint Working Committee meeting held?", ("new-name",)),
    ("Apart from Indonesia and Thailand, which other countries have extradition treaties with Malaysia?", ("country",)),
    ("How many of the five people prosecuted have been convicted?", ("number",)),
    ("How much did Japan contribute to the workshop?", ("money",)),
    ("How much of the corpus was read?", ("number",)),
    ("When was the MoU signed?", ("date",)),
    ("After the meeting, who spoke to the press?", ("person",)),
    # a leading clause sets the scene: "When Malaysia chairs ASEAN, through which ...?" asks for tracks
    ("When Malaysia holds the ASEAN chair, through which tracks will it raise scams?", ()),
    # "when" asks for a date only as the question word: at the start or after a preposition
    ("Which crimes did Senator Rita ask about when she raised cooperation with ASEAN?", ()),
    ("By when is the proposal to go before ministers?", ("date",)),
    ("Since when has the law been in force?", ("date",)),
    ("It was signed when?", ()),
    # a role word asks for a person with no verb before it
    ("Which senator asked the minister about fraud?", ("person",)),
    ("Which crimes were the officers asked about?", ()),
    ("Which Singapore minister signed the MoU?", ("person",)),
    ("Which deputy home ministers spoke?", ("person",)),
    ("What is the role of the minister?", ()),
]


@pytest.mark.parametrize("question, needs", REQUIREMENTS)
def test_requirements(question, needs):
    assert requirements(question) == needs


WHERE = "Where was the inaugural Malaysia–Singapore Joint Working Committee meeting held?"
DATELINE = "KUALA LUMPUR: Malaysia and Singapore held their inaugural Joint Working Committee meeting."
ROLE = "Who is Singapore's Minister for Home Affairs?"
OFFICIATED_BY = "The meeting was officiated by YB Datuk Seri Saifuddin Nasution bin Ismail, Minister of Home Affairs."
COUNTRIES = "Apart from Indonesia and Thailand, which other countries have extradition treaties with Malaysia?"
ZORBLAT = "Which countries signed the Zorblat treaty?"
SIGNED = "The Zorblat treaty was signed in 2031 by Freedonia and Sylvania."
HELPED = "Malaysians abroad were helped by the Foreign Ministry, which signed the Zorblat treaty."
FIVE = "How many of the five people prosecuted have been convicted?"
BY_DATE = "By what date is the Work Plan (2025–2028) expected to be finalised?"
ON_DATE = "On what date was the consultation held?"
GENES = "How much of the genes moved to the nucleus?"
BUDGET = "What is the budget of the Royal Malaysia Police?"
CHAIRED = "Who chaired the 25th SOMTC plenary?"
PLENARY = "The plenary was chaired by Datuk Awang Alik."

# question, sentence, passage, context (the sentences before), holds an answer; the kind of answer
# is requirements(question)
SATISFIES = [
    # a dateline's place answers no "where"; "held" says little, so the sentence before must tie it to the meeting
    (WHERE, DATELINE, "", "", False),
    (WHERE, "Held in Kota Kinabalu, Sabah, the session was co-chaired.", "", DATELINE, True),
    (WHERE, "Held in Kota Kinabalu, Sabah, the session was co-chaired.", "", "Ministers spoke.", False),
    # a dateline's date answers "when was it said"
    ("On what date did Shamsul Anuar speak about extradition?",
     "date 2025-05-03 KUALA LUMPUR: Malaysia is strengthening extradition efforts.", "", "", True),
    # a possessive in the question is no new name
    ("Which partners did Malaysia and Singapore’s ministers meet?", "Malaysia and Singapore’s ministers met often.", "", "", False),
    ("Which partners did Malaysia and Singapore’s ministers meet?", "Malaysia and Singapore’s ministers met Japan.", "", "", True),
    # a role with an owner needs that owner nearby
    (ROLE, OFFICIATED_BY, "", "", False),
    (ROLE, OFFICIATED_BY, "", "Singapore sent a delegation to Putrajaya.", True),
    (ROLE, "Singapore's Minister for Home Affairs K. Shanmugam said the law works.", "", "", True),
    # a country the question does not name, in a sentence about what was asked
    (COUNTRIES, "Malaysia has extradition treaties with Indonesia, Thailand and Pakistan.", "", "", True),
    (COUNTRIES, "Malaysia has extradition treaties with Indonesia and Thailand.", "", "", False),
    (COUNTRIES, "Malaysia held bilateral meetings with Singapore and Australia.", "", "", False),
    # places we do not list (fictional ones): in a passage that names no country we know, any new name
    (ZORBLAT, SIGNED, SIGNED, "", True),
    (ZORBLAT, HELPED, HELPED, "", False),  # "Malaysians": a country we know
    # a name must be about what was asked; a question of stopwords and names asks nothing more
    ("Who officiated the 25th SOMTC meeting?", "The 25th SOMTC meeting was officiated by Datuk Seri Saifuddin Nasution.", "", "", True),
    ("Who officiated the 25th SOMTC meeting?", "Datuk Seri Saifuddin Nasution arrived in Putrajaya on Monday.", "", "", False),
    ("Who is Malaysia's Representative to the ASEAN Commission on Human Rights (AICHR)?",
     "Malaysia's Representative to the ASEAN Commission Edmund Bon said so.", "", "", True),
    # a number or date must be one the question does not hold
    (FIVE, "So far, five individuals have been prosecuted and convicted.", "", "", False),
    (FIVE, "Of the five prosecuted, two have been convicted.", "", "", True),
    (BY_DATE, "The Work Plan (2025–2028) will be finalised soon.", "", "", False),
    (BY_DATE, "The Work Plan (2025–2028) is expected to be finalised by March 2026.", "", "", True),
    # an abbreviated month only beside a day: "Jun Tan" is a name, "Jan 7" a date
    (ON_DATE, "The consultation was held with H.E. Jun Tan.", "", "", False),
    (ON_DATE, "The consultation was held on Jan 7.", "", "", True),
    # number words are amounts; "behalf" is no "half"
    (GENES, "Around half of the genes moved to the nucleus.", "", "", True),
    (GENES, "Hundreds of genes moved to the nucleus.", "", "", True),
    (GENES, "A quarter of the genes stayed.", "", "", True),
    (GENES, "On behalf of the cell, the genes moved.", "", "", False),
    (GENES, "Most of the genes moved.", "", "", False),
    # "what are the eight ...": a number names no topic the sentence must repeat
    ("What are the eight sermons called that Luther preached?",
     "Luther preached them, and they became known as the Invocavit Sermons.", "", "", True),
    # money
    ("How much did Japan contribute to the workshop?",
     "The two-day workshop, held from 30 June to 1 July, was supported by Japan.", "", "", False),
    ("How much did Japan contribute to the workshop?", "Japan contributed US$50,000 to the workshop.", "", "", True),
    # "what is the <noun>" needs the noun, unless it names the kind of answer or a category
    (BUDGET, "The Royal Malaysia Police has 199 officers abroad.", "", "", False),
    (BUDGET, "The Royal Malaysia Police budget is RM19 billion.", "", "", True),
    ("What is the period the new plan covers?", "The new plan runs over the decade (2026–2035).", "", "", True),
    ("What harms does the Leader say synthetic drugs cause?", "The Leader says synthetic drugs cause trauma and stress.", "", "", True),
    # an ordinal the question names must stand in the passage; a single digit need not
    ("Apart from the SOMTC + 3 session, which partners met on day three?", "On day three the partners met Japan.",
     "Day Three sessions", "", True),
    (CHAIRED, PLENARY, "the 26th SOMTC", "", False),
    (CHAIRED, PLENARY, "the 25th SOMTC", "", True),
]


@pytest.mark.parametrize("question, sentence, passage, context, answers", SATISFIES)
def test_satisfies(question, sentence, passage, context, answers):
    assert satisfies(sentence, question, requirements(question), passage=passage, context=context) is answers


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


@pytest.mark.parametrize(
    "sentence, lists",
    [
        ("cooperation in drug smuggling, terrorism, cybercrime and border security", True),
        ("Indonesia, the United States, Thailand, Pakistan, and Iran", True),
        ("Malaysia and Singapore met in Kota Kinabalu.", False),
    ],
)
def test_enumerations(sentence, lists):
    assert bool(ENUMERATION.search(sentence)) is lists


@pytest.mark.parametrize(
    "question, sentence, found",
    [
        ("Who supported the regional workshop?", "It was jointly supported by Asean Member States through the AICHR Fund.", True),
        ("Who supported the regional workshop?", "The workshop, supported in part by UNDP, ran two days.", True),
        ("Who supported the regional workshop?", "Asean Member States supported it.", False),  # active voice: the other scores
        ("Who officiated the meeting?", "The meeting was officiated by YB Datuk Seri Saifuddin.", True),
        ("Who is the minister?", "The minister was appointed by the king.", None),  # no "who <verb>ed": no pattern
        ("Who tied it?", "It was tied by a knot.", None),  # a root too short to match on
    ],
)
def test_who_did_looks_for_the_verb_then_by(question, sentence, found):
    pattern = agent_pattern(question)
    assert (None if pattern is None else bool(pattern.search(sentence))) is found


@pytest.mark.parametrize(
    "question, why",
    [
        ("Why are users drawn to synthetic drugs?", True),
        ("What were the reasons for the shift?", True),
        ("What happened next?", False),
    ],
)
def test_why_questions(question, why):
    assert bool(WHY_QUESTION.match(question)) is why


@pytest.mark.parametrize(
    "sentence, cause",
    [("They were attracted to the drugs because of easy access.", True), ("They were attracted to the drugs.", False)],
)
def test_causes(sentence, cause):
    assert bool(CAUSE.search(sentence)) is cause


@pytest.mark.parametrize(
    "question, excluded",
    [
        ("Apart from arms control, what approach does Malaysia back for regional security?", {"arm", "control"}),
        ("Besides Japan, which countries took part, and did Japan host?", set()),  # named again: still asked
    ],
)
def test_what_the_question_sets_aside_is_not_matched(question, excluded):
    assert set_aside(question) == excluded


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


@pytest.mark.parametrize(
    "question, text, missing",
    [
        ("Which ASEAN member co-chaired the SOMTC + United Kingdom Consultation?",
         "17th SOMTC + United States, co-chaired by Cambodia. ASEAN Consultation", ["Kingdom"]),
        ("Who leads Singapore's police?", "The Singaporean police are led by ...", []),  # a word's first letters will do
    ],
)
def test_names_missing_from_a_passage(question, text, missing):
    assert missing_names(question, text) == missing


@pytest.mark.parametrize(
    "text, named",
    [
        ("talks with the United States, South Korea and Viet Nam", {"United States", "South Korea", "Viet Nam"}),
        ("the U.S. and the UK", {"U.S.", "UK"}),
        ("Koreans in Nigeria's capital", {"Nigeria"}),
    ],
)
def test_countries(text, named):
    assert countries(text) == named


def test_a_demonym_names_its_country():
    assert new_countries("Malaysians in Indonesia and Thailand", COUNTRIES) == set()


@pytest.mark.parametrize("sentence, item, expected", [
    ("He added that Malaysia currently has 11 extradition treaties, with countries including Indonesia, the United States, "
     "Thailand, Pakistan, and Iran, enabling the extradition of fugitive criminals.", "Iran",
     "Indonesia, the United States, Thailand, Pakistan, and Iran"),
    ("The talks involved Brunei, Laos and Myanmar.", "Laos", "Brunei, Laos and Myanmar"),
    ("Attendance rose from 120, 135 or 150 people.", "135", "120, 135 or 150"),
    ("The meeting was chaired by Malaysia.", "Malaysia", None),  # no list
    ("Indonesia and Thailand signed first.", "Indonesia and Thailand", None),  # already the whole list
])
def test_one_item_of_a_list_widens_to_the_whole_list(sentence, item, expected):
    from rag.answer.english import enumeration

    start = sentence.index(item)
    found = enumeration(sentence, start, start + len(item))
    assert (sentence[found[0]:found[1]] if found else None) == expected
