"""The default answerer: no LLM. Picks the source sentences that answer the question and
returns them verbatim, each followed by the `[n]` of its passage. Deterministic and offline.

It declines (returns no text) when no sentence answers well enough: the caller abstains.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .dates import Days, days, first_year, span
from .embeddings import Embedder, VectorCache
from .places import COUNTRY_QUESTION, mentions_countries, new_countries
from .reader import SpanReader
from .reading import SHORT_WORDS, Reading, ReadingAnswerer, conflicts
from .sections import headings, located, title
from .text import STOPWORDS, cited_lines, list_after, sentences, split_question, terms
from .types import Draft, Hit

DENSE_WEIGHT = 0.55  # sentence score = DENSE_WEIGHT * cosine + (1 - DENSE_WEIGHT) * idf-weighted overlap
MAX_LIST_LINES = 10
CONTEXT_WEIGHT = 0.5  # question words found only in the previous sentence count this much
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
AGENT_BONUS = 0.15
# "Why ...?" is answered by a sentence that gives a cause
WHY_QUESTION = re.compile(r"^\s*(?:why\b|what (?:is|was|are|were) the (?:reasons?|causes?)\b|for what reason)", re.IGNORECASE)
# a cause, or the purpose that explains an act ("..., allowing delegates to ...")
CAUSE = re.compile(r"\b(?:because|due to|owing to|as a result of|thanks to|reasons?|caused by|driven by|attributed to|"
                   r"stems? from|in order to|so that|so as to|in a bid to|aimed at|aims? to|allowing|enabling|to facilitate|"
                   r"to ensure)\b", re.IGNORECASE)
CAUSE_BONUS = 0.1
ENUMERATION_BONUS = 0.04  # a sentence that lists things, for a question that asks for several


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


def _shares_predicate(question: str, text: str) -> bool:
    """Does the text share a lower-case content word with the question, other than the noun that
    names the kind of answer ("which *countries*", "what *date*")? A name, number or date alone does
    not tie a sentence to what is asked."""
    predicate = _predicate(question)
    return not predicate or bool(predicate & set(terms(text)))


def _agent_pattern(question: str) -> re.Pattern | None:
    """For "who <verb>ed ...?", a pattern for "<verb>ed by" (any inflection, a few words apart)."""
    match = WHO_DID.match(question)
    if not match:
        return None
    verb = match.group(1).lower()
    root = verb[:-3] if verb.endswith("ied") else verb[:-2] if len(verb) > 5 else verb[:-1]
    if len(root) < 3:
        return None
    return re.compile(rf"\b{re.escape(root)}\w*(?:\s+\w+){{0,2}}\s+by\s+\S", re.IGNORECASE)


def _adds(token: re.Pattern, sentence: str, question: str) -> bool:
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
    if needs and not _shares_predicate(question, sentence + " " + context):
        return False  # a name, number or date of the right kind, but about something else
    checks = {
        "duration": lambda: bool(HAS_DURATION.search(sentence)),
        "number": lambda: _adds(NUMBER_TOKEN, sentence, question),
        "date": lambda: _adds(DATE_TOKEN, sentence, question),
        "money": lambda: bool(HAS_MONEY.search(sentence)),
        "person": lambda: _person(named, q_words, passage),
        "new-name": lambda: len(names) >= 1,
        # a country the question does not name; in a passage that names no country we know (places
        # missing from rag/places.py, fictional ones), any new name
        "country": lambda: bool(new_countries(named, question)) or (not mentions_countries(passage or named) and len(names) >= 1),
    }
    return all(checks[need]() for need in needs)


def _heading(chunk, inside: list[tuple[int, int]], top: tuple[int, int] | None, start: int) -> str:
    """The title and heading a sentence of the chunk stands under: the chunk's own context, or the
    last heading inside the chunk above the sentence (`inside`: heading spans in the chunk's text),
    after the title (the first of the chunk's context lines, when it has two). The first chunk of
    a document holds its title (`top`, its span in the chunk's text): the sentences after it stand
    under it."""
    above = [chunk.text[s:e] for s, e in inside if chunk.start + s < start and (s, e) != top]
    if top and chunk.start + top[0] < start:
        return "\n".join([chunk.text[top[0] : top[1]], *above[-1:]])
    if not above:
        return chunk.heading
    lines = chunk.heading.splitlines()
    return "\n".join((lines[:1] if len(lines) > 1 else []) + above[-1:])


@dataclass(frozen=True)
class Candidate:
    passage: int  # 1-based passage number
    start: int
    end: int
    text: str
    score: float
    dense: float
    lexical: float
    list_item: bool = False
    dated_by: tuple[int, int, str] | None = None  # the heading that gives its date (source offsets, text), quoted before it


def named_elsewhere(question: str, passages: Sequence[Hit], candidates: Sequence[Candidate]) -> bool:
    """Is every candidate a near miss? For a question that asks for a kind of value (a date, a
    number, a person...): some document's retrieved passages, together, name everything the
    question names, yet none of the candidates (sentences holding that kind of value) comes from
    such a document. "How many extradition treaties does Singapore have?": the documents that
    name Singapore give no such number; Malaysia's 11 is about something else."""
    if not requirements(question) or not question_names(question):
        return False
    texts: dict[str, list[str]] = {}
    for hit in passages:
        texts.setdefault(hit.chunk.source, []).append(hit.chunk.indexed_text)
    naming = {source for source, parts in texts.items() if not missing_names(question, "\n".join(parts))}
    return bool(naming) and not any(passages[c.passage - 1].chunk.source in naming for c in candidates)


def dated(heading: str, question: str) -> bool:
    """Does a heading give a date that the question does not ("Day Two (25 June 2025): ...")?
    Then the sentences under it answer "when" about what they say."""
    return _adds(DATE_TOKEN, heading, question)


def unnamed(question: str, passages: Sequence[Hit]) -> bool:
    """Do the passages (with their titles and headings) write none of the names the question
    asks about? "When did ABC first start?" over passages about private schools."""
    names = question_names(question)
    written = "\n".join(dict.fromkeys(hit.chunk.indexed_text for hit in passages))
    return bool(names) and len(missing_names(question, written)) == len(names)


def other_days(question: str, passages: Sequence[Hit], best: Reading) -> list[Candidate]:
    """For a question asking when, whose short answer spans several days ("June 23 to 27,
    2025"): the sentences of another document, among passages that name everything the question
    names (its ordinals too: "the 25th"), whose dates overlap the answer's but together span
    other days ("Day One (24 June 2025)" ... "Day Three (26 June 2025)"): the first and the
    last. A single day inside the answer's span is a part of it, not a disagreement."""
    if "date" not in requirements(question):
        return []
    chunk = passages[best.passage - 1].chunk
    answer = span(days(best.text, year=first_year(best.sentences[0][2], chunk.text)))
    if answer is None or not answer.several:
        return []
    numbers = set(ORDINAL_OR_NUMBER.findall(question))
    found: dict[str, list[tuple[Days, Candidate]]] = {}
    for n, hit in enumerate(passages, start=1):
        text = hit.chunk.indexed_text
        if hit.chunk.source == chunk.source or missing_names(question, text) or numbers - set(ORDINAL_OR_NUMBER.findall(text)):
            continue
        for start, end, sentence in sentences(hit.chunk.text, hit.chunk.start):
            for d in days(sentence, year=first_year(hit.chunk.text)):
                if d.overlaps(answer):
                    found.setdefault(hit.chunk.source, []).append((d, Candidate(n, start, end, sentence, 0.0, 0.0, 0.0)))
    for dated in found.values():
        other = span([d for d, _ in dated])
        if other is not None and other.several and (other.first, other.last) != (answer.first, answer.last):
            first = min(dated, key=lambda item: item[0].first)[1]
            last = max(dated, key=lambda item: item[0].last)[1]
            return list({(c.passage, c.start): c for c in (first, last)}.values())
    return []


@dataclass
class ExtractiveAnswerer:
    embedder: Embedder
    min_score: float = 0.37  # below this the best sentence does not answer the question
    keep_ratio: float = 0.75  # further sentences must score this close to the best
    max_sentences: int = 4  # more for a question that asks for several things, and a list's lines
    # strict: a sentence answers a who/when/how-many question only from a passage (with its heading)
    # that names everything the question names; declines more, answers fewer near misses
    strict: bool = False
    name: str = "extractive"
    reader: SpanReader | None = None  # gives the short answer and the confidence, when set
    # a document's text by source: lets a sentence under a dated heading answer "when" (the heading,
    # written before its chunk, is quoted at its own offsets); without it, only headings inside a chunk
    document_text: Callable[[str], str | None] | None = field(default=None, repr=False)
    vectors: VectorCache | None = field(default=None, repr=False)  # sentence vectors; made from the embedder

    def __post_init__(self) -> None:
        self.vectors = self.vectors or VectorCache(self.embedder)
        self._reading = ReadingAnswerer(self.embedder, self.reader, vectors=self.vectors) if self.reader else None

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[Draft]:
        chosen = self.select(question, passages)
        yield self.read(question, passages, chosen)

    def read(self, question: str, passages: Sequence[Hit], chosen: list[Candidate]) -> Draft:
        """The chosen sentences as a draft, with the reader's short answer (the best span inside
        them) and its confidence. When the reader finds, in another document's passage, a value
        with a digit (a date, a number) that differs from the short answer, and is sure of it
        (`SpanReader.sure`), or when another document dates what was asked about over other days
        (`other_days`), the sources disagree: those sentences are quoted as well and the draft
        says so. When the chosen sentences' passages name nothing the question names and the
        reader's confidence is below its fitted threshold, the draft declines (`unnamed`)."""
        conflict: list[Candidate] = []
        short, confidence = None, None
        if self.reader is not None and chosen and len(split_question(question)) == 1:
            found = self.reader.read(question, [c.text for c in chosen])
            readings = sorted(
                (Reading(c.passage, c.start + s.start, c.start + s.end, self.reader.confidence(s.margin),
                         ((c.start, c.end, c.text),), s.text) for c, s in zip(chosen, found)),
                key=lambda r: -r.confidence,
            )
            best, confidence = readings[0], readings[0].confidence
            if confidence < self.reader.threshold and unnamed(question, [passages[c.passage - 1] for c in chosen]):
                return Draft("", confidence=confidence)  # about something else, and the reader finds no answer either
            if "date" in requirements(question):  # "when": the short answer is a date ("24 June 2025", not "first day")
                best = next((r for r in readings if DATE_TOKEN.search(r.text)), best)
            if best.text and len(best.text.split()) <= SHORT_WORDS:
                short = (best.passage, best.start, best.end)
                # only another document's value with a digit can disagree: read only those windows
                source = passages[best.passage - 1].chunk.source
                others = {n for n, hit in enumerate(passages, start=1) if hit.chunk.source != source}
                digits = any(ch.isdigit() for ch in best.text)
                elsewhere = self._reading.read(question, passages, among=others) if digits and others and self._reading else []
                taken = {(c.passage, c.start) for c in chosen}
                for other in conflicts([best, *elsewhere], passages, self.reader.sure):
                    start, end, text = other.sentences[0]
                    if (other.passage, start) not in taken:
                        conflict.append(Candidate(other.passage, start, end, text, 0.0, 0.0, 0.0))
                if digits and not conflict:
                    conflict = [c for c in other_days(question, passages, best) if (c.passage, c.start) not in taken]
        text = cited_lines([(c.text, c.passage, c.list_item) for c in chosen + conflict])
        return Draft(text, short, confidence, bool(conflict))

    def select(self, question: str, passages: Sequence[Hit]) -> list[Candidate]:
        parts = split_question(question)
        if len(parts) > 1:  # two questions in one: each part answered on its own, the answers joined
            picked = {(c.passage, c.start): c for part in parts for c in self._best(part, passages, limit=2)}
            chosen = list(picked.values())
        else:
            limit = self.max_sentences + (1 if PLURAL_QUESTION.search(question) else 0)  # lists spread out
            chosen = self._best(question, passages, limit)
        if not chosen:
            return []
        # read in document order within a passage, passage order otherwise
        chosen = sorted(chosen, key=lambda c: (c.passage, c.start))
        out: list[Candidate] = []
        for c in chosen:
            if c.dated_by and all(o.start != c.dated_by[0] for o in [*out, *chosen]):
                start, end, text = c.dated_by  # the heading that dates it, on a line before it
                out.append(Candidate(c.passage, start, end, text, c.score, c.dense, c.lexical))
            out += [c, *self._list_after(c, passages, chosen)]
        return out

    def _best(self, question: str, passages: Sequence[Hit], limit: int) -> list[Candidate]:
        """The best sentence if it answers well enough, and up to limit - 1 more that score close to it."""
        ranked = self.rank(question, passages)
        if not ranked or ranked[0].score < self.min_score or named_elsewhere(question, passages, ranked):
            return []
        chosen = [ranked[0]]
        for cand in ranked[1:]:
            if len(chosen) >= limit or cand.score < ranked[0].score * self.keep_ratio:
                break
            chosen.append(cand)
        return chosen

    def _list_after(self, cand: Candidate, passages: Sequence[Hit], chosen: list[Candidate]) -> list[Candidate]:
        """A sentence that introduces a list ("...held as follows:") brings the list's lines along."""
        chunk = passages[cand.passage - 1].chunk
        lines = list_after(chunk.text, chunk.start, (cand.start, cand.end, cand.text), {c.start for c in chosen}, MAX_LIST_LINES)
        return [Candidate(cand.passage, start, end, text, cand.score, cand.dense, cand.lexical, list_item=True)
                for start, end, text in lines]

    def rank(self, question: str, passages: Sequence[Hit], rules: bool = True) -> list[Candidate]:
        """Every sentence of the passages that could answer, best first. Without `rules`, every
        sentence (short ones too) scored by how well it matches the question alone: what
        rag.relevance judges another answerer's quotes by."""
        # n, start, end, text, terms, context terms, passage (with its heading), previous sentence and
        # heading, the heading line it stands under (source offsets, text)
        pool: list[tuple[int, int, int, str, set, set, str, str, tuple[int, int, str] | None]] = []
        seen: set[tuple[str, int]] = set()
        needs = requirements(question)
        dates = rules and "date" in needs  # a sentence may take its date from the heading it stands under
        for n, hit in enumerate(passages, start=1):
            spans = sentences(hit.chunk.text, hit.chunk.start)
            span_terms = [set(terms(text)) for *_, text in spans]
            inside = headings(hit.chunk.text)
            top = title(hit.chunk.text) if hit.chunk.ordinal == 0 else None
            passage = hit.chunk.indexed_text  # the passage with its heading
            outer = self._outer_heading(hit.chunk) if dates else None
            for i, (start, end, text) in enumerate(spans):
                key = (hit.chunk.source, start)
                if key in seen or (rules and len(span_terms[i]) < 3):
                    continue
                seen.add(key)
                heading = _heading(hit.chunk, inside, top, start)
                # a sentence that opens with a pronoun ("He added that...") borrows its subject from
                # before; every sentence, what its title and heading say
                context = (span_terms[i - 1] if i and LEANS_BACK.match(text) else set()) | set(terms(heading))
                previous = spans[i - 1][2] if i else ""
                under = outer
                if dates and (above := [(s, e) for s, e in inside if hit.chunk.start + e <= start]):
                    s, e = above[-1]
                    under = (hit.chunk.start + s, hit.chunk.start + e, hit.chunk.text[s:e])
                pool.append((n, start, end, text, span_terms[i], context - span_terms[i], passage, f"{heading}\n{previous}", under))
        if not pool:
            return []
        q_terms = set(terms(question)) - set_aside(question)
        df = {t: sum(t in row[4] for row in pool) for t in q_terms}
        idf = {t: math.log(1 + len(pool) / (1 + df[t])) for t in q_terms}
        total = sum(idf.values()) or 1.0
        dense = self._vectors([row[3] for row in pool]) @ self._vectors([question], query=True)[0]
        wants_many = bool(PLURAL_QUESTION.search(question))
        agent = _agent_pattern(question)
        why = bool(WHY_QUESTION.match(question))
        out = []
        for (n, start, end, text, st, context, passage, previous, under), d in zip(pool, dense):
            dated_by = None
            if rules and not satisfies(text, question, needs, passage, previous):
                if not (under and dated(under[2], question)
                        and satisfies(text, question, tuple(x for x in needs if x != "date"), passage, previous)
                        and _shares_predicate(question, text + " " + previous)):
                    continue
                dated_by = under  # "when was X held?": X under the heading "Day Two (25 June 2025)"
            if rules and self.strict and needs and missing_names(question, passage):
                continue  # a value (name, number, date) from a passage that never names what was asked about
            lexical = (sum(idf[t] for t in q_terms & st) + CONTEXT_WEIGHT * sum(idf[t] for t in (q_terms & context) - st)) / total
            score = DENSE_WEIGHT * float(d) + (1 - DENSE_WEIGHT) * lexical + 0.02 / n  # small prior for better passages
            if rules and agent and agent.search(text):
                score += AGENT_BONUS
            if rules and why and CAUSE.search(text):
                score += CAUSE_BONUS
            if rules and wants_many and ENUMERATION.search(body(text)):
                score += ENUMERATION_BONUS
            out.append(Candidate(n, start, end, text, score, float(d), lexical, dated_by=dated_by))
        out.sort(key=lambda c: -c.score)
        return out

    def _outer_heading(self, chunk) -> tuple[int, int, str] | None:
        """The section heading a chunk starts under (the last line of its heading context, written
        before it), at its offsets in the document; None without the document."""
        text = self.document_text(chunk.source) if self.document_text and chunk.heading else None
        found = located(chunk, text) if text is not None else []
        return (*found[-1], text[slice(*found[-1])]) if found and text is not None else None

    def _vectors(self, texts: list[str], query: bool = False) -> np.ndarray:
        """Embeddings, with sentence vectors cached (the same passages come back across questions)."""
        if query:
            return self.embedder.embed(texts, query=True)
        assert self.vectors is not None  # made in __post_init__
        return self.vectors(texts)
