"""What an English question asks for, and whether an English sentence holds it: the answer-kind
rules of the extractive answerer (a date for "when", a person for "who", a number for "how
many"...), as patterns and word lists. Everything here is English; rag/extractive.py, which
scores and chooses sentences, takes its language from this module. Tested table-driven in
tests/test_english.py.
"""

from __future__ import annotations

import functools
import re

from ..text import STOPWORDS, terms
from .places import COUNTRY_QUESTION, mentions_countries, new_countries

LEANS_BACK = re.compile(r"[“\"]?(He|She|They|It|This|These|Those|His|Her|Their|Both)\b")
ROLE = re.compile(r"^\s*who (?:is|was|are|were) (?:the )?(?:\w+[’']s )?((?:[\w\-]+ ){0,1}[\w\-]+?)(?: (?:of|for|to|at|in)\b|\?|$)", re.IGNORECASE)
FOCUS = re.compile(r"^\s*what (?:is|was|are|were) (?:the|a|an) (\w+)", re.IGNORECASE)
# nouns that name the kind of answer rather than its topic: "what period does the plan cover"
ANSWER_KINDS = frozenset("""period year years date day days time times kind kinds type types sort number amount share
    percentage proportion part parts role name names way ways reason reasons areas area things thing""".split())
HONORIFIC = re.compile(r"\b(Datuk|Dato’?|Dato'|Tan Sri|Tun|Dr|Mr|Mrs|Ms|Senator|YB|YBhg\.?|H\.E\.|Prof|Minister|director-general|Secretary-General)\s+[A-Z]")
INITIALS = re.compile(r"\b(?:[A-Z]\.){1,3}\s?[A-Z][a-z]+")
NUMBER_QUESTION = re.compile(
    r"\b(how many|how much|number of|what percentage|what per ?cent|what share|what proportion|how old|what fraction)\b", re.IGNORECASE
)
DURATION_QUESTION = re.compile(r"\bhow long\b", re.IGNORECASE)
# "when" asks for a date at the question's start or after a preposition ("by when"); elsewhere it
# is a conjunction ("which crimes did she ask about when she raised ...")
DATE_QUESTION = re.compile(r"(?:^\s*|\b(?:by|since|until|till|from|as of) )when\b|\b(what date|which date|what day|which day|what year|"
                           r"which years?|what month|what period)\b", re.IGNORECASE)
PLACE_QUESTION = re.compile(r"^\s*where\b|\bin which (city|country|town|place|state)\b", re.IGNORECASE)
# "which (deputy) minister ...", not "which crimes did Senator X ask about" (a verb between)
PERSON_QUESTION = re.compile(
    r"^\s*(who|whom)\b|\b(which|what) (?:(?!(?:is|was|are|were|does|do|did|has|have|had)\b)[\w-]+ ){0,2}"
    r"(senator|minister|mp|official|person|politician|officer|director)s?\b", re.IGNORECASE)
ENTITY_QUESTION = re.compile(
    r"\b(which|what) (other )?(countr|nation|cit|organi[sz]ation|agenc|compan|bank|partner|state)", re.IGNORECASE
)
NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|(?:hundred|thousand|million|billion|dozen)s?|per ?cent|half|quarter"
HAS_DURATION = re.compile(r"\b(\d+|one|two|three|four|five|six|seven|ten|twelve)[ -](hours?|days?|weeks?|months?|years?)\b", re.IGNORECASE)
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_ABBREVIATED = r"(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
# a year, a month, a weekday or a relative day: each match is one date token. Abbreviated months
# count only beside a day number ("Jan 7", "7 Jan"): "Jun Tan" is a name.
DATE_TOKEN = re.compile(
    rf"\b(?:\d{{4}}|{MONTHS}|{_ABBREVIATED}(?= \d)|(?<=\d )(?:{_ABBREVIATED})|Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday|today|yesterday|tomorrow)\b"
)
NUMBER_TOKEN = re.compile(rf"\d+(?:[.,]\d+)*|\b(?:{NUMBER_WORDS})\b", re.IGNORECASE)
MONEY_QUESTION = re.compile(
    r"\bhow much\b.*\b(?:money|cost|costs|pay|paid|spend|spent|contribut\w*|fund\w*|budget|lose|lost|worth|price|fine|"
    r"donat\w*|invest\w*|raise|raised|allocat\w*)\b", re.IGNORECASE)
HAS_MONEY = re.compile(r"(?:RM|S?\$|US\$|USD|EUR|€|£|¥)\s?\d|\b(?:ringgit|dollars?|euros?|yen|pounds?|rupiah|baht)\b", re.IGNORECASE)
CAPITALIZED = re.compile(r"\b[A-Z][\w’'\-]*")
# an ordinal or a number of two or more digits names which event or year ("the 25th meeting", "in
# 2024"); a single digit more often counts or is part of a name ("SOMTC + 3")
ORDINAL_OR_NUMBER = re.compile(r"\b(?:\d[\d,]*(?:st|nd|rd|th)|\d[\d,]+)\b")
# A news dateline or byline before the first sentence ("date 2025-05-03 KUALA LUMPUR:", "By Jane Doe
# SINGAPORE, June 30 (Bernama) --"): where the story was filed, not what it says. A name in it
# does not make a sentence an answer to "where" or "who"; its date still answers "when was it said".
DATELINE = re.compile(
    rf"^\s*(?:date \d{{4}}-\d{{2}}-\d{{2}}\s+)?(?:By (?:[A-Z][\w’'.-]* ){{1,5}}?)?"
    rf"[A-Z][A-Z.’'-]+(?: [A-Z][A-Z.’'-]+)*(?:, (?:{MONTHS}) \d{{1,2}})?(?: \([A-Za-z ]+\))?\s*(?::|--|—)\s*"
)
# A list in one sentence: "A, B and C", "A, B, or C".
ENUMERATION = re.compile(r"[\w)’'-]+, [^,]{1,60}?,? (?:and|or) [\w(]")
# "which countries ...", "what areas ...": the question asks for several things
_VERB = r"(?!(?:is|was|are|were|does|do|did|has|have|had)\b)"
PLURAL_QUESTION = re.compile(rf"\b(?:which|what) (?:{_VERB}[\w-]+ )?{_VERB}[\w-]+[^s\W]s\b", re.IGNORECASE)  # "which other countries"
POSSESSOR = re.compile(r"\b([A-Z][\w-]+)[’']s\b")
# "Who supported X?" is answered by "X was supported by Y": the question's verb, then "by"
WHO_DID = re.compile(r"^\s*who\s+(?:\w+ly\s+)?(\w+ed)\b", re.IGNORECASE)
# "Why ...?" is answered by a sentence that gives a cause
WHY_QUESTION = re.compile(r"^\s*(?:why\b|what (?:is|was|are|were) the (?:reasons?|causes?)\b|for what reason)", re.IGNORECASE)
# a cause, or the purpose that explains an act ("..., allowing delegates to ...")
CAUSE = re.compile(r"\b(?:because|due to|owing to|as a result of|thanks to|reasons?|caused by|driven by|attributed to|"
                   r"stems? from|in order to|so that|so as to|in a bid to|aimed at|aims? to|allowing|enabling|to facilitate|"
                   r"to ensure)\b", re.IGNORECASE)


def body(sentence: str) -> str:
    """The sentence without a leading dateline or byline."""
    match = DATELINE.match(sentence)
    return sentence[match.end() :] if match and match.end() < len(sentence) else sentence


def _person(sentence: str, q_words: set[str], passage: str = "") -> bool:
    """Does the sentence name a person the question does not? A title or initials before a
    capitalized name, or two capitalized words in a row that the text never writes in lower case."""
    for match in list(HONORIFIC.finditer(sentence)) + list(INITIALS.finditer(sentence)):
        name = CAPITALIZED.findall(match.group() + sentence[match.end() :])[:4]
        if any(w.lower().rstrip("’'s") not in q_words for w in name[1:] or name):
            return True
    lower_words = set(re.findall(r"\b[a-z][\w’'\-]*", passage or sentence))
    run = 0
    for word in re.findall(r"[\w’'\-\.]+", sentence)[1:]:
        plain = word.rstrip(".,")
        if plain.endswith(("’", "'", "’s", "'s")) or "-" in plain:
            run = 0  # "Leaders’ Retreat", "Malaysia-Singapore": not a person's name
            continue
        if plain[:1].isupper() and plain.lower() not in q_words and plain.lower() not in lower_words and not re.fullmatch(MONTHS, plain):
            run += 1
            if run >= 2:
                return True
        else:
            run = 0
    return False


# "When Malaysia chairs ASEAN, which tracks ...?": a leading clause sets the scene, the question follows it
LEADING_CLAUSE = re.compile(
    r"^\s*(?:when|if|once|after|before|while|as|since|during|in|under|apart from|aside from|besides|other than)\b"
    r"[^,?]*,\s*(?=(?:(?:through|in|on|at|to|for|from|by|with|under|during|of) )?(?:which|what|who|whom|where|when|why|how)\b)",
    re.IGNORECASE)
# "Apart from arms control, what ...?": what the question sets aside is not what it asks for
SET_ASIDE = re.compile(r"\b(?:apart from|aside from|besides|other than|except(?: for)?|excluding|not counting)\s+([^,?]*)", re.IGNORECASE)


def main_question(question: str) -> str:
    """The question without a leading clause that only sets the scene."""
    return LEADING_CLAUSE.sub("", question, count=1)


def set_aside(question: str) -> set[str]:
    """Terms the question names only to exclude them ("apart from X, ...")."""
    excluded = set()
    for match in SET_ASIDE.finditer(question):
        excluded |= set(terms(match.group(1)))
    rest = SET_ASIDE.sub(" ", question)
    return excluded - set(terms(rest))


def requirements(question: str) -> tuple[str, ...]:
    """What kind of thing an answer to this question must contain."""
    question = main_question(question)
    needs = []
    if MONEY_QUESTION.search(question):
        needs.append("money")
    elif DURATION_QUESTION.search(question):
        needs.append("duration")
    elif NUMBER_QUESTION.search(question):
        needs.append("number")
    if DATE_QUESTION.search(question):
        needs.append("date")
    if PERSON_QUESTION.search(question):
        needs.append("person")
    if COUNTRY_QUESTION.search(question):
        needs.append("country")  # "which countries ...": a country the question does not name
    elif ENTITY_QUESTION.search(question) or PLACE_QUESTION.search(question):
        needs.append("new-name")
    return tuple(needs)


# verbs that say little about what is asked ("which years does the plan *cover*")
LIGHT_VERBS = frozenset(terms("""cover covers covered happen happened take took taken place occur occurred start started
    begin began end ended run ran last lasted come came go went get got make made say said tell told include included
    involve involved mean meant hold holds held"""))


@functools.lru_cache(maxsize=256)
def _predicate(question: str) -> frozenset[str]:
    """The question's lower-case content words after its wh-phrase, light verbs left out."""
    asked = re.sub(r"^.*?\b(?:(?:which|what)(?: other)? \w+|how (?:many|much|long)|who|whom|where|when)\b", "", question,
                   count=1, flags=re.IGNORECASE)
    return frozenset(terms(" ".join(re.findall(r"(?<![\w’'])[a-z][\w’'-]*", asked)))) - LIGHT_VERBS


def shares_predicate(question: str, text: str) -> bool:
    """Does the text share a lower-case content word with the question, other than the noun that
    names the kind of answer ("which *countries*", "what *date*")? A name, number or date alone does
    not tie a sentence to what is asked."""
    predicate = _predicate(question)
    return not predicate or bool(predicate & set(terms(text)))


def agent_pattern(question: str) -> re.Pattern | None:
    """For "who <verb>ed ...?", a pattern for "<verb>ed by" (any inflection, a few words apart)."""
    match = WHO_DID.match(question)
    if not match:
        return None
    verb = match.group(1).lower()
    root = verb[:-3] if verb.endswith("ied") else verb[:-2] if len(verb) > 5 else verb[:-1]
    if len(root) < 3:
        return None
    return re.compile(rf"\b{re.escape(root)}\w*(?:\s+\w+){{0,2}}\s+by\s+\S", re.IGNORECASE)


def adds(token: re.Pattern, sentence: str, question: str) -> bool:
    """Does the sentence hold a number (or date) that the question does not? "How many of the five
    were convicted?" is not answered by "five were prosecuted"."""
    asked = {t.lower() for t in token.findall(question)}
    return any(t.lower() not in asked for t in token.findall(sentence))


def question_names(question: str) -> list[str]:
    """The question's names: its capitalized words but a first one, months aside ("January's"
    too), not in a set-aside clause ("apart from X"), each once. English capitalization."""
    text = SET_ASIDE.sub(" ", main_question(question))
    # the first word's capital is the sentence's ("Which ..."), not a name's; "which ... Malaysia" has none
    words = [m.group() for m in CAPITALIZED.finditer(text) if re.search(r"\w", text[: m.start()])]
    return list(dict.fromkeys(w for w in words if not re.fullmatch(MONTHS, re.sub(r"[’']s$", "", w))))


def missing_names(question: str, text: str) -> list[str]:
    """The question's names that the text never writes (a word's first letters will do:
    "Singapore's", "Singaporean")."""
    lowered = text.lower()
    return [w for w in question_names(question)
            if not re.search(r"\b" + re.escape(_plain(w)[: max(4, len(_plain(w)) - 2)]), lowered)]


def _plain(word: str) -> str:
    return re.sub(r"[’']s?$", "", word.lower())


def satisfies(sentence: str, question: str, needs: tuple[str, ...], passage: str = "", context: str = "") -> bool:
    """Does the sentence hold the kind of answer the question asks for? Numbers the question
    names must appear in the sentence's passage: "the 26th meeting" is not the 25th."""
    q_numbers = set(ORDINAL_OR_NUMBER.findall(question))
    if q_numbers - set(ORDINAL_OR_NUMBER.findall(passage or sentence)):
        return False
    named = body(sentence)  # a dateline's date counts (when it was said), its place does not
    q_words = {_plain(w) for w in CAPITALIZED.findall(question)}
    names = [w for w in CAPITALIZED.findall(named)[1:] if _plain(w) not in q_words and not re.fullmatch(MONTHS, w)]
    role = ROLE.match(question)
    if role:
        if not re.search(r"\b" + re.escape(role.group(1)), sentence, re.IGNORECASE):  # "co-chair" in "co-chaired"
            return False  # "who is the Prime Minister" needs a sentence naming that role
        owner = POSSESSOR.search(question[: role.end()])
        if owner and not re.search(r"\b" + re.escape(owner.group(1)), context + " " + sentence):
            return False  # "who is Singapore's minister" needs Singapore beside the role
    focus = FOCUS.match(question)
    noun = focus.group(1).lower() if focus else ""
    if noun and noun not in STOPWORDS and noun not in ANSWER_KINDS and not NUMBER_TOKEN.fullmatch(noun) \
            and not set(terms(noun)) & set(terms(sentence)):
        return False  # "what is the budget of..." needs a sentence about a budget
    if needs and not shares_predicate(question, sentence + " " + context):
        return False  # a name, number or date of the right kind, but about something else
    checks = {
        "duration": lambda: bool(HAS_DURATION.search(sentence)),
        "number": lambda: adds(NUMBER_TOKEN, sentence, question),
        "date": lambda: adds(DATE_TOKEN, sentence, question),
        "money": lambda: bool(HAS_MONEY.search(sentence)),
        "person": lambda: _person(named, q_words, passage),
        "new-name": lambda: len(names) >= 1,
        # a country the question does not name; in a passage that names no country we know (places
        # missing from rag/places.py, fictional ones), any new name
        "country": lambda: bool(new_countries(named, question)) or (not mentions_countries(passage or named) and len(names) >= 1),
    }
    return all(checks[need]() for need in needs)


def dated(heading: str, question: str) -> bool:
    """Does a heading give a date that the question does not ("Day Two (25 June 2025): ...")?
    Then the sentences under it answer "when" about what they say."""
    return adds(DATE_TOKEN, heading, question)


# A list of names or numbers: "Indonesia, the United States, Thailand, Pakistan, and Iran"
_ITEM = r"(?:the )?(?:[A-Z][\w.’'&-]*(?: (?:of |and |de |the )?[A-Z][\w.’'&-]*)*|\d[\d.,]*%?)"
NAME_LIST = re.compile(rf"{_ITEM}(?:, {_ITEM})*,? (?:and|or) {_ITEM}")


def enumeration(sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the whole list of names or numbers that [start, end) is part
    of, when it is one item (or several) of such a list; None otherwise. A question asking for
    several things ("which countries ...") is answered by the whole list, never by one item of it."""
    for found in NAME_LIST.finditer(sentence):
        a, b = found.start(), found.start() + len(found.group().rstrip(".,"))  # a full stop ends the sentence, not a name
        if a <= start and end <= b and (a, b) != (start, end):
            return a, b
    return None
