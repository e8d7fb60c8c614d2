"""Who said and who did what in an English sentence, read from its structure (no tagger): the
speaker is the name before a speech verb in its clause ("Indonesia said ...", "..., Indonesia
said."), or after it when inverted ("..., said Saifuddin."); the subject is the name at the
start of a clause, before its first verb. `mismatch` compares a claim's speaker and subject with
the quote it cites. Names are capitalized words; a pronoun or "the minister" names nobody, and
then nothing is compared (the name may stand sentences before).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text import STOPWORDS, sentences, terms

SPEECH = frozenset("""said says say added adds told tells stated states noted notes announced announces explained
    explains stressed stresses emphasised emphasized emphasises emphasizes claimed claims remarked remarks declared
    declares asserted asserts insisted insists warned warns urged urges revealed reveals replied replies
    answered confirmed confirms disclosed discloses""".split())
# words that join a name's parts ("Minister of Home Affairs", "Ali bin Abu") or stand before its verb
CONNECTORS = frozenset("of the and for bin binti al de van von da di 's ’s".split())
ADVERB = re.compile(r"(?:ly|also|still|now|then|currently|already|further|again|later|once|recently|yesterday|today)$")
CLAUSE = frozenset(",;:")
TOKEN = re.compile(r"[\w’'-]+|[,;:]")


@dataclass(frozen=True)
class Roles:
    """The names one sentence gives as speakers, and as the subjects of its verbs."""
    speakers: frozenset[str]  # lowercased name words of the speakers of its speech verbs
    subjects: tuple[tuple[str, frozenset[str]], ...]  # (verb, lowercased name words before it in its clause)
    names: frozenset[str]  # every lowercased name word of the sentence


def _is_name(word: str, first: bool) -> bool:
    """A capitalized word, but not a sentence's or clause's first word that is a common one ("The", "He")."""
    return word[:1].isupper() and not (first and word.lower() in STOPWORDS)


def roles(sentence: str) -> Roles:
    tokens = TOKEN.findall(sentence)
    names = [_is_name(t, i == 0 or tokens[i - 1] in CLAUSE) and t not in CLAUSE for i, t in enumerate(tokens)]
    speakers: set[str] = set()
    subjects: list[tuple[str, frozenset[str]]] = []
    clause = start = 0  # where the current clause starts; where the names before the next word start
    for i, token in enumerate(tokens):
        word = token.lower()
        if token in CLAUSE or word == "that":
            clause = start = i + 1
            continue
        if names[i] or word in CONNECTORS or ADVERB.search(word):
            continue
        before = frozenset(tokens[j].lower() for j in range(start, i) if names[j])
        if word in SPEECH:
            if before or i > clause:  # "Indonesia said", or "He said", "the minister said": nobody named
                speakers |= before
            else:  # ", said Saifuddin." or "Saifuddin, the minister, said ...": the names after it, or a first clause of names
                speakers |= _run(tokens, names, i + 1)
                head = tokens.index(",") if "," in tokens[:i] else 0
                if all(names[j] or tokens[j].lower() in CONNECTORS for j in range(head)):
                    speakers |= _run(tokens, names, 0)
        if before:
            subjects.append((word, before))
        start = i + 1  # what follows a verb is its object, not a subject
    return Roles(frozenset(speakers), tuple(subjects), frozenset(t.lower() for t, n in zip(tokens, names, strict=True) if n))


def _run(tokens: list[str], names: list[bool], i: int) -> frozenset[str]:
    """The name words of the run of names (and their connectors) from token i on."""
    out = set()
    for j in range(i, len(tokens)):
        if not (names[j] or tokens[j].lower() in CONNECTORS):
            break
        if names[j]:
            out.add(tokens[j].lower())
    return frozenset(out)


def mismatch(claim: str, quote: str) -> str | None:
    """What the quote says of someone other than the claim does: the claim's speaker is named in
    the quote (every word of it) but not as a speaker there, or the quote names its speaker and the
    claim names another; the claim's subject of a verb the quote shares is named in the quote only
    elsewhere, with other names before that verb. None when nothing can be compared or all agree."""
    said = roles(claim)
    parts = [roles(s) for *_, s in sentences(quote)] or [roles(quote)]
    quoted_names = frozenset().union(*(p.names for p in parts))
    quoted_speakers = frozenset().union(*(p.speakers for p in parts))
    if said.speakers and not said.speakers & quoted_speakers:
        if said.speakers <= quoted_names:  # every word of the speaker's name is in the quote, none as its speaker
            return "the cited passage does not have them say it (the claim names another speaker)"
        if quoted_speakers:
            return "the cited passage gives the words to someone else"
    for verb, names in said.subjects:
        if verb in SPEECH or not names <= quoted_names:  # a subject the quote does not name whole: nothing to compare
            continue
        stem = set(terms(verb))
        theirs = [n for p in parts for v, n in p.subjects if v == verb or stem and stem == set(terms(v))]
        if theirs and not any(names & n for n in theirs):
            return "the cited passage says this of someone else (the subject differs)"
    return None
