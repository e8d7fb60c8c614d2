"""Check an answer against its passages: every `[n]` must point at a passage that supports the
sentence it ends, and every quote is cut from the source text at its offsets, never retyped.

A sentence is supported by a span of the cited passage when the span holds most of the
sentence's content words, every number the sentence states, and any text it puts in quotes; when
it is negated exactly where the span is (or neither is); and when the names around a verb the two
share stand in the same order ("A extradited B" is not "B extradited A"); and when the claim's
speaker and subject are the span's (rag.verify.roles: "Indonesia said ..." is not "He added ... Indonesia").

The result is one `Claim` per answer sentence: the contract every answerer's output goes through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ingest.sections import located
from ..text import STOPWORDS, numbers, sentences, terms
from ..types import Citation, Claim, Hit
from . import roles

MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")
QUOTED = re.compile(r"[\"“]([^\"”]{12,})[\"”]")
SUPPORT_MIN = 0.6  # share of the sentence's content words the quoted span must contain
MAX_WINDOW = 3  # a claim may be supported by up to this many consecutive source sentences


# words that turn a statement into its denial
NEGATION = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without|cannot|no longer|failed to|refused to|"
    r"denied|den(?:y|ies)|rejected)\b|n[’']t\b", re.IGNORECASE)
NAME = re.compile(r"\b[A-Z][\w’'-]+")


@dataclass(frozen=True)
class Verification:
    claims: tuple[Claim, ...]

    @property
    def citations(self) -> tuple[Citation, ...]:
        return tuple(c for claim in self.claims for c in claim.citations)

    @property
    def issues(self) -> tuple[str, ...]:
        return tuple(p for claim in self.claims for p in claim.problems)

    @property
    def sentences(self) -> int:  # answer sentences that make a claim
        return len(self.claims)

    @property
    def supported(self) -> int:  # of those, backed by at least one verified citation
        return sum(c.supported for c in self.claims)


def split_claims(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, [marker numbers]) for each answer sentence.

    Markers standing after a sentence's full stop ("... justice. [1]") belong to that sentence.
    """
    return [(claim, markers) for claim, markers, _ in _split(answer)]


def _split(answer: str) -> list[tuple[str, list[int], bool]]:
    """split_claims, with whether each sentence starts a line of its own."""
    out: list[tuple[str, list[int], bool]] = []
    for start, _, sentence in sentences(answer):
        leading = LEADING_MARKERS.match(sentence)
        if leading and out:
            out[-1][1].extend(_numbers(leading.group()))
            sentence = sentence[leading.end() :]
        found = _numbers(sentence)
        claim = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(MARKER.sub(" ", sentence).split()))
        if not terms(claim) and out and found:
            out[-1][1].extend(found)
            continue
        out.append((claim, found, bool(out) and "\n" in answer[:start].rstrip(" \t")[-1:]))
    return [item for item in out if terms(item[0])]


def _numbers(text: str) -> list[int]:
    return [int(n) for group in MARKER.findall(text) for n in re.split(r"[,;]", group)]


def verify(answer: str, passages: Sequence[Hit], source_text: Callable[[str], str | None]) -> Verification:
    """Each sentence of `answer` as a `Claim`, checked against the passages its markers cite."""
    claims = []
    for text, markers, new_line in _split(answer):
        citations: list[Citation] = []
        problems: list[str] = []
        if not markers:
            problems.append(f"no citation: “{_short(text)}”")
        for n in dict.fromkeys(markers):
            if not 1 <= n <= len(passages):
                problems.append(f"citation [{n}] points at no passage (there are {len(passages)}): “{_short(text)}”")
                continue
            citation, problem = support(text, n, passages[n - 1], source_text)
            citations.append(citation)
            if problem:
                problems.append(f"[{n}] {problem}: “{_short(text)}”")
        supported = any(c.verified for c in citations)
        claims.append(Claim(text, tuple(citations), supported, tuple(problems), new_line))
    return Verification(tuple(claims))


def verify_structured(claims: Sequence[tuple[str, int, int]], passages: Sequence[Hit],
                      source_text: Callable[[str], str | None]) -> Verification:
    """Claims that each name the sentence they rest on ((text, passage P, sentence S), both 1-based,
    as the structured prompt numbers them): the quote is that sentence, cut from the source at its
    offsets, and the claim's text must be supported by it like any other claim. A sentence number
    that exists but does not hold the claim is forgiven when other sentences of the same passage do
    (the quote is then theirs); a passage or sentence that does not exist is not."""
    out = []
    for text, n, s in claims:
        text = " ".join(str(text).split())
        if not terms(text):
            continue
        if not 1 <= n <= len(passages):
            out.append(Claim(text, (), False, (f"citation [{n}] points at no passage (there are {len(passages)}): “{_short(text)}”",)))
            continue
        chunk = passages[n - 1].chunk
        spans = sentences(chunk.text, chunk.start)
        if not 1 <= s <= len(spans):
            missing = f"[{n}.{s}] points at no sentence (passage {n} has {len(spans)}): “{_short(text)}”"
            out.append(Claim(text, (), False, (missing,)))
            continue
        citation, problem = support(text, n, passages[n - 1], source_text, within=spans[s - 1][:2])
        if problem:  # small models miscount sentences: the passage's own sentences may still hold it
            nearby, other = support(text, n, passages[n - 1], source_text)
            if not other:
                citation, problem = nearby, None
        problems = (f"[{n}.{s}] {problem}: “{_short(text)}”",) if problem else ()
        out.append(Claim(text, (citation,), citation.verified, problems))
    return Verification(tuple(out))


def support(claim: str, marker: int, hit: Hit, source_text: Callable[[str], str | None],
            within: tuple[int, int] | None = None) -> tuple[Citation, str | None]:
    """The best-supporting span of the passage for `claim` (only inside `within`, source offsets,
    when given), as a citation, and what is wrong if any."""
    chunk = hit.chunk
    text = source_text(chunk.source)
    if text is None or text[chunk.start : chunk.end] != chunk.text:
        empty = Citation(marker, chunk.source, chunk.start, chunk.start, "", False, chunk.page, claim)
        return empty, "the source no longer matches the index; re-run `rag index`"
    want = set(terms(claim))
    spans = [s for s in sentences(chunk.text, chunk.start) if within is None or within[0] <= s[0] and s[1] <= within[1]]
    best = (-1.0, 0, 0)
    for i in range(len(spans)):
        for j in range(i, min(i + MAX_WINDOW, len(spans))):
            have = set(terms(text[spans[i][0] : spans[j][1]]))
            coverage = len(want & have) / len(want) if want else 0.0
            shorter = spans[j][1] - spans[i][0] < best[2] - best[1]
            if coverage > best[0] + 1e-9 or (abs(coverage - best[0]) <= 1e-9 and shorter):
                best = (coverage, spans[i][0], spans[j][1])
    for head_start, head_end in located(chunk, text) if best[0] < 1.0 else ():  # the heading it stands under, a line of its own
        have = set(terms(text[head_start:head_end]))
        coverage = len(want & have) / len(want) if want else 0.0
        if coverage > best[0] + 1e-9 and (within is None or within[0] <= head_start and head_end <= within[1]):
            best = (coverage, head_start, head_end)
    coverage, start, end = best
    quote = text[start:end]
    problem = None
    missing_numbers = numbers(claim) - numbers(quote)
    if coverage < 0:
        problem = "passage is empty"
    elif missing_numbers:
        problem = f"number {', '.join(sorted(missing_numbers))} is not in the cited passage"
    elif any(_normal(q) not in _normal(chunk.text) for q in QUOTED.findall(claim)):
        problem = "quoted words are not in the cited passage"
    elif coverage < SUPPORT_MIN:
        problem = f"the cited passage does not support this (word overlap {coverage:.0%})"
    elif negated(claim) != negated(_closest(claim, quote)):
        problem = "the claim and the cited passage differ in negation (one says not, never or no)"
    elif swapped_roles(claim, quote):
        problem = "the cited passage has the names around the verb the other way round"
    elif other := roles.mismatch(claim, quote):
        problem = other
    verified = problem is None and quote == text[start:end]
    page = chunk.page if chunk.start <= start < chunk.end else None  # a heading may stand pages before
    return Citation(marker, chunk.source, start, end, quote, verified, page, claim), problem


def negated(text: str) -> bool:
    """Does the text deny what it states? An odd number of negations ("not ... not" affirms)."""
    return len(NEGATION.findall(text)) % 2 == 1


def _closest(claim: str, quote: str) -> str:
    """The sentence of the quote that shares most content words with the claim."""
    want = set(terms(claim))
    return max((s for *_, s in sentences(quote)), key=lambda s: len(want & set(terms(s))), default=quote)


def swapped_roles(claim: str, quote: str) -> bool:
    """Do two names the claim puts on either side of a word ("Malaysia extradited X to Singapore")
    stand the other way round around that word in the quote, and never the claim's way? Passive
    voice ("... by ...") in either text can swap them honestly, so it is left alone."""
    if re.search(r"\bby\b", claim + " " + quote, re.IGNORECASE):
        return False
    claim_words, quote_words = _positions(claim), _positions(quote)
    names = [w for w in dict.fromkeys(m.group().lower() for m in NAME.finditer(claim)) if w in quote_words]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for verb, at in claim_words.items():
                if verb in names or verb not in quote_words or not min(claim_words[a]) < min(at) < min(claim_words[b]):
                    continue
                same = _between(quote_words[a], quote_words[verb], quote_words[b])
                other = _between(quote_words[b], quote_words[verb], quote_words[a])
                if other and not same:
                    return True
    return False


def _positions(text: str) -> dict[str, list[int]]:
    """Each lowercased content word (names and stemmed terms alike) and where it stands."""
    out: dict[str, list[int]] = {}
    for i, word in enumerate(re.findall(r"[\w’'-]+", text)):
        for key in {word.lower(), *terms(word)}:
            if key not in STOPWORDS:
                out.setdefault(key, []).append(i)
    return out


def _between(first: list[int], middle: list[int], last: list[int]) -> bool:
    return any(f < m < x for f in first for m in middle for x in last)


def _normal(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("“", '"').replace("”", '"').lower().split())


def _short(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
