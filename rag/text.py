"""Small text utilities shared by the answerers and the verifier: sentences with offsets, terms."""

from __future__ import annotations

import re
import string
from functools import lru_cache

# The one definition of a sentence for answers, verification and the reader's windows. The chunker
# (rag.ingest.chunks.SENTENCE_END) breaks at the same marks but not after abbreviations: taught them, SciFact
# nDCG@10 fell (0.7297 -> 0.7285), so chunk boundaries may fall inside what this calls one sentence.
SENTENCE = re.compile(r"[^\n]+?(?:[.!?][\"'”’)\]]*(?=\s|$)|$)", re.MULTILINE)
ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*$")
TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?!\w)")
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    said says say tell told please list name give many much does did according mentioned document documents
    """.split()
)


ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|No|Prof|Gen|Lt|Col|Sen|Rep|YBhg|YB|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|vs|etc|e\.g|i\.e))\.$"
)


def sentences(text: str, offset: int = 0) -> list[tuple[int, int, str]]:
    """(start, end, sentence) spans, stripped, with offsets shifted by `offset`.

    A period after an abbreviation or an initial ("Dr.", "S.V.") does not end a sentence.
    """
    spans: list[tuple[int, int]] = []
    for match in SENTENCE.finditer(text):
        piece = match.group()
        stripped = piece.strip()
        if not stripped:
            continue
        start = match.start() + (len(piece) - len(piece.lstrip()))
        end = start + len(stripped)
        if spans and ABBREVIATION.search(text[spans[-1][0] : spans[-1][1]]) and "\n" not in text[spans[-1][1] : start]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return [(offset + s, offset + e, text[s:e]) for s, e in spans]


def ends_sentence(text: str) -> bool:
    """Does the text end as a sentence does (not a heading or a list line)?"""
    return bool(ENDS_SENTENCE.search(text.rstrip()))


def cited_lines(items: list[tuple[str, int, bool]]) -> str:
    """Answer text from (sentence, passage number, starts a line) items: "sentence [n]" each; a list
    line, or one after a line that does not end a sentence (a heading), starts a new line, so that
    each stays a claim of its own for the verifier."""
    return "".join(
        ("\n" if line or not ends_sentence(items[i - 1][0]) else " ") * (i > 0) + f"{text} [{n}]"
        for i, (text, n, line) in enumerate(items)
    )


# SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces
PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """An answer's words as SQuAD compares them ("The Normans," and "normans" are the same)."""
    text = "".join(ch for ch in text.lower() if ch not in PUNCTUATION)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def list_after(text: str, offset: int, intro: tuple[int, int, str], taken: frozenset[int] | set[int] = frozenset(),
               most: int = 10) -> list[tuple[int, int, str]]:
    """A sentence that introduces a list ("...held as follows:") brings the list's lines: the short
    lines after it (each on a line of its own), up to `most`, to the next introduction; `taken`:
    starts of sentences already chosen. `text` starts at source offset `offset`, as a chunk does."""
    if not intro[2].rstrip().endswith(":"):
        return []
    items: list[tuple[int, int, str]] = []
    for start, end, line in sentences(text, offset):
        if start <= intro[0] or start in taken:
            continue
        if len(items) >= most or len(line) > 160 or "\n" not in text[intro[1] - offset : start - offset + 1]:
            break
        items.append((start, end, line))
        if line.rstrip().endswith(":"):
            break
    return items


@lru_cache(maxsize=1)
def _stem():
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWord
    except ImportError:  # pragma: no cover
        return lambda w: w


# "the second day" and "Day Two" say the same: ordinal words count as their numbers
ORDINALS = dict(zip("first second third fourth fifth sixth seventh eighth ninth tenth".split(),
                    "one two three four five six seven eight nine ten".split()))


def terms(text: str) -> list[str]:
    """Lowercased, stemmed content words (stopwords dropped; ordinal words as their numbers)."""
    stem = _stem()
    out = []
    for word in TERM.findall(text.lower().replace("’", "'")):
        word = word.strip("'-")
        word = word.removesuffix("'s")
        head, _, rest = word.partition("-")
        if head in ORDINALS:  # "second", "second-day"
            out.append(ORDINALS[head])
            word = rest
        if word and word not in STOPWORDS:
            out.append(stem(word))
    return out


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


# "When was X signed, and when did Y pass?": two questions in one
SECOND_QUESTION = re.compile(r",?\s+and\s+(?=(?:when|what|which|who|whom|where|why|how)\b)|;\s+", re.IGNORECASE)


def split_question(question: str) -> list[str]:
    """The parts of a question that asks two things ("When was X signed, and when did Y pass?");
    a plain question is its own only part."""
    parts = [p.strip(" ,;") for p in SECOND_QUESTION.split(question)]
    return [p for p in parts if terms(p)] or [question]
