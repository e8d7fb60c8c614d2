"""SQuAD v1.1 data and its scores: articles and questions, the fixed train/validation split by
article, a seeded sample of questions, and SQuAD's exact match and token F1.

Shared by the fitting commands (rag.fit) and the benchmark (`rag bench squad`, rag.bench.squad),
so that every run and every fitting script holds out the same articles.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import RagError
from ..text import normalize_answer as normalize

VALIDATION_SHARE = 0.25  # of the articles: a quarter are validation, never fitted on


@dataclass(frozen=True)
class Question:
    id: str
    article: str
    text: str
    answers: tuple[str, ...]
    context: str = ""  # the paragraph it was asked about
    answer_start: int | None = None  # character offset of the first answer in `context`


@dataclass(frozen=True)
class Article:
    title: str
    paragraphs: tuple[str, ...]
    questions: tuple[Question, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def load_squad(path: str | os.PathLike) -> list[Article]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as err:
        raise RagError(f"{path} is not a readable SQuAD-layout JSON file (v1.1, or v2 with unanswerable questions) ({err.__class__.__name__})") from err
    articles = []
    for article in data:
        title = article["title"]
        paragraphs = tuple(p["context"] for p in article["paragraphs"])
        questions = tuple(  # SQuAD v2 layout too: an unanswerable question has no answers (is_impossible)
            Question(qa["id"], title, qa["question"].strip(), tuple(dict.fromkeys(a["text"] for a in qa["answers"])),
                     p["context"], qa["answers"][0]["answer_start"] if qa["answers"] else None)
            for p in article["paragraphs"] for qa in p["qas"]
        )
        articles.append(Article(title, paragraphs, questions))
    return articles


def validation_titles(titles: list[str]) -> set[str]:
    """The validation articles: the quarter of the titles with the smallest SHA-256, so that every
    run and every fitting script holds out the same articles."""
    ranked = sorted(titles, key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    return set(ranked[: round(len(ranked) * VALIDATION_SHARE)])


CALIBRATION_SHARE = 1 / 6  # of the training articles: those the reader's thresholds are chosen on


def split(articles: list[Article], name: str) -> list[Article]:
    """The articles of one split: 'validation', 'train' or 'all'; 'calibrate' is the part of
    train that `rag fit-reader` never fits on, kept to choose thresholds (a sixth, by a hash rule)."""
    if name == "all":
        return list(articles)
    held = validation_titles([a.title for a in articles])
    chosen = [a for a in articles if (a.title in held) == (name == "validation")]
    if name != "calibrate":
        return chosen
    ranked = sorted((a.title for a in chosen), key=lambda t: hashlib.sha256(f"calibrate:{t}".encode()).hexdigest())
    kept = set(ranked[: max(1, round(len(ranked) * CALIBRATION_SHARE))])
    return [a for a in chosen if a.title in kept]


def source_of(title: str) -> str:
    return f"squad/{title}.txt"


def exact_match(prediction: str, answers: tuple[str, ...]) -> float:
    return float(any(normalize(prediction) == normalize(a) for a in answers))


def f1(prediction: str, answers: tuple[str, ...]) -> float:
    best = 0.0
    predicted = normalize(prediction).split()
    for answer in answers:
        gold = normalize(answer).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def sample(articles: list[Article], per_article: int, seed: int) -> list[Question]:
    rng = random.Random(seed)
    picked = []
    for article in articles:
        questions = list(article.questions)
        rng.shuffle(questions)
        picked += questions[:per_article]
    return picked
