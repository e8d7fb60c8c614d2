"""Check an answer against its passages: every `[n]` must point at a passage that supports the
sentence it ends, and every quote is cut from the source text at its offsets, never retyped.

A sentence is supported by a span of the cited passage when the span holds most of the
sentence's content words, every number the sentence states, and any text it puts in quotes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .text import numbers, sentences, terms
from .types import Citation, Hit

MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")
QUOTED = re.compile(r"[\"“]([^\"”]{12,})[\"”]")
SUPPORT_MIN = 0.6  # share of the sentence's content words the quoted span must contain
MAX_WINDOW = 3  # a claim may be supported by up to this many consecutive source sentences


@dataclass(frozen=True)
class Verification:
    citations: tuple[Citation, ...]
    issues: tuple[str, ...]
    sentences: int  # answer sentences that make a claim
    supported: int  # of those, backed by at least one verified citation


def split_claims(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, [marker numbers]) for each answer sentence.

    Markers standing after a sentence's full stop ("... justice. [1]") belong to that sentence.
    """
    out: list[tuple[str, list[int]]] = []
    for _, _, sentence in sentences(answer):
        leading = LEADING_MARKERS.match(sentence)
        if leading and out:
            out[-1][1].extend(_numbers(leading.group()))
            sentence = sentence[leading.end() :]
        found = _numbers(sentence)
        claim = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(MARKER.sub(" ", sentence).split()))
        if not terms(claim) and out and found:
            out[-1][1].extend(found)
            continue
        out.append((claim, found))
    return [(c, m) for c, m in out if terms(c)]


def _numbers(text: str) -> list[int]:
    return [int(n) for group in MARKER.findall(text) for n in re.split(r"[,;]", group)]


def verify(answer: str, passages: Sequence[Hit], source_text: Callable[[str], str | None]) -> Verification:
    citations: list[Citation] = []
    issues: list[str] = []
    claims = split_claims(answer)
    supported = 0
    for claim, markers in claims:
        if not markers:
            issues.append(f"no citation: “{_short(claim)}”")
            continue
        ok = False
        for n in dict.fromkeys(markers):
            if not 1 <= n <= len(passages):
                issues.append(f"citation [{n}] points at no passage (there are {len(passages)}): “{_short(claim)}”")
                continue
            citation, problem = support(claim, n, passages[n - 1], source_text)
            citations.append(citation)
            if problem:
                issues.append(f"[{n}] {problem}: “{_short(claim)}”")
            ok = ok or citation.verified
        supported += ok
    return Verification(tuple(citations), tuple(issues), len(claims), supported)


def support(claim: str, marker: int, hit: Hit, source_text: Callable[[str], str | None]) -> tuple[Citation, str | None]:
    """The best-supporting span of the passage for `claim`, as a citation, and what is wrong if any."""
    chunk = hit.chunk
    text = source_text(chunk.source)
    if text is None or text[chunk.start : chunk.end] != chunk.text:
        empty = Citation(marker, chunk.source, chunk.start, chunk.start, "", False, chunk.page, claim)
        return empty, "the source no longer matches the index; re-run `rag index`"
    want = set(terms(claim))
    spans = sentences(chunk.text, chunk.start)
    best = (-1.0, 0, 0)
    for i in range(len(spans)):
        for j in range(i, min(i + MAX_WINDOW, len(spans))):
            have = set(terms(text[spans[i][0] : spans[j][1]]))
            coverage = len(want & have) / len(want) if want else 0.0
            shorter = spans[j][1] - spans[i][0] < best[2] - best[1]
            if coverage > best[0] + 1e-9 or (abs(coverage - best[0]) <= 1e-9 and shorter):
                best = (coverage, spans[i][0], spans[j][1])
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
    verified = problem is None and quote == text[start:end]
    return Citation(marker, chunk.source, start, end, quote, verified, chunk.page, claim), problem


def _normal(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("“", '"').replace("”", '"').lower().split())


def _short(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
