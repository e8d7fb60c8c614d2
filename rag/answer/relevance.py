"""Does a claim answer the question, or does it only stand in its source?

Verification (rag.verify.claims) proves that a claim's quote is in the source and that the claim says
what the quote says. It cannot tell that the claim answers the question: asked "What is the
population of Malaysia?", a small LLM quoted, correctly, Malaysia's extradition treaties. So the
quotes of an answer written by someone else than the extractive answerers (an LLM, a dotted-path
answerer) are judged against the question the way the extractive answerer judges sentences:
`ExtractiveAnswerer.rank(..., rules=False)` scores every sentence of the passages by dense cosine
and idf-weighted word overlap with the question, and a claim whose quotes all score below the
floor is withheld ("does not answer the question"). The extractive answerers choose their
sentences by that score already, so their answers are not judged again.

The floor is fitted from SQuAD (`rag fit-relevance FILE`, rag.fit.relevance): the score of the
sentence holding the gold answer, against the best score of any sentence for questions about
articles left out of the index, on the training articles only; `rag/answer/params/relevance.json`
records the floor and both splits' figures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..types import Claim, Hit

if TYPE_CHECKING:
    from .extractive import ExtractiveAnswerer

PARAMS = Path(__file__).parent / "params" / "relevance.json"


def fitted_floor(path: Path = PARAMS) -> float:
    """The floor written by `rag fit-relevance`."""
    return float(json.loads(path.read_text(encoding="utf-8"))["floor"])


def sentence_scores(ranker: ExtractiveAnswerer, question: str, hits: Sequence[Hit]) -> list[tuple[str, int, int, float]]:
    """(source, start, end, score) of every sentence of the passages, by how well it matches the question."""
    return [(hits[c.passage - 1].chunk.source, c.start, c.end, c.score) for c in ranker.rank(question, hits, rules=False)]


def quote_score(scores: Sequence[tuple[str, int, int, float]], source: str, start: int, end: int) -> float:
    """The best score of a sentence the quote overlaps (0.0 when it overlaps none)."""
    return max((s for src, a, b, s in scores if src == source and a < end and start < b), default=0.0)


@dataclass
class RelevanceCheck:
    """Withholds supported claims whose quotes all score below `floor` against the question."""

    ranker: ExtractiveAnswerer
    floor: float

    def __call__(self, question: str, claims: Sequence[Claim], hits: Sequence[Hit]) -> tuple[Claim, ...]:
        if not any(c.supported for c in claims):
            return tuple(claims)
        scores = sentence_scores(self.ranker, question, hits)
        out = []
        for claim in claims:
            verified = [c for c in claim.citations if c.verified]
            best = max((quote_score(scores, c.source, c.start, c.end) for c in verified), default=0.0)
            if claim.supported and best < self.floor:
                problem = (f"does not answer the question: its quote matches the question at {best:.2f}, "
                           f"below the {self.floor:.2f} an answer's quote needs")
                claim = replace(claim, supported=False, problems=(*claim.problems, problem))
            out.append(claim)
        return tuple(out)
