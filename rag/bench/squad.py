"""`rag bench squad FILE`: answer quality on Wikipedia articles the answerer was not written for.

Reads a SQuAD v1.1 file (the training articles in ../shared/qa-train), splits its articles into
train and validation **by article** (a fixed rule on the title, so every run and every fitting
script agrees), indexes the articles of the scored split through the public API, keeps a few of
them *out* of the index (their questions must be declined), and asks every sampled question the
way a user would (retrieval first). Printed side by side for each answerer and for a naive
baseline that takes as many sentences as the answerer did, by word overlap, from the same passages:

- gold in answer: a gold answer string stands in the answer text (whole words, case-insensitive)
- short answer EM / F1: SQuAD's exact match and token F1 of `Answer.short_answer` (when the
  answerer gives one)
- median / p90 answer words
- wrong declines: answerable questions declined; out-of-corpus declines: questions about articles
  not in the index that were declined
- quote validity: every citation's quote equals the indexed text at its offsets
- latency p50 / p90 per answer
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..evaluation.metrics import percentile
from ..evaluation.squad import (  # noqa: F401 (the SQuAD data and scores: rag.evaluation.squad)
    VALIDATION_SHARE,
    Article,
    Question,
    exact_match,
    f1,
    load_squad,
    sample,
    source_of,
    split,
    validation_titles,
)
from ..text import normalize_answer as normalize
from . import BAR_ROWS, add_judge_argument, answerer_table, at_bar, judge_threshold, judged_at, write_results


def contains_gold(text: str, answers: tuple[str, ...]) -> bool:
    padded = f" {normalize(text)} "
    return any(normalize(a) and f" {normalize(a)} " in padded for a in answers)


def naive_answer(question: str, passages, words: int) -> str:
    """The baseline: sentences of the passages that share most content words with the question,
    best first, until they hold as many words as the answer they are compared with (none: empty)."""
    from ..text import sentences, terms

    want = set(terms(question))
    pool = [(len(want & set(terms(s))), -i, s) for i, s in
            enumerate(s for hit in passages for *_, s in sentences(hit.chunk.text))]
    picked: list[str] = []
    for *_, sentence in sorted(pool, reverse=True):
        if sum(len(p.split()) for p in picked) >= words:
            break
        picked.append(sentence)
    return " ".join(picked)


def score(rag, spec: str, questions: list[Question], out_of_corpus: set[str], log, threshold: float | None = None) -> dict:
    """Every metric for one answerer, and the naive baseline on the same passages, at the judge's
    `threshold` (rag.bench.judged_at); the declines without the judge beside them."""
    rows = []
    for i, q in enumerate(questions, start=1):
        t = time.perf_counter()
        answer = rag.ask(q.text, llm=spec)
        seconds = time.perf_counter() - t
        words = 0 if answer.abstained else len(re.sub(r"\[\d+\]", "", answer.text).split())
        naive = naive_answer(q.text, answer.passages, words)
        short = getattr(answer, "short_answer", None)
        valid = [rag.document(c.source).text[c.start : c.end] == c.quote for c in answer.citations]
        if short is not None:
            valid.append(rag.document(short.source).text[short.start : short.end] == short.text)
        rows.append({
            "id": q.id, "in_corpus": q.article not in out_of_corpus, "abstained": answer.abstained,
            "confidence": answer.confidence, "short": short.text if short else None,
            "short_confidence": short.confidence if short else None,
            "gold_in_answer": not answer.abstained and contains_gold(answer.text, q.answers),
            "gold_in_naive": contains_gold(naive, q.answers),
            "gold_in_passages": any(contains_gold(h.chunk.text, q.answers) for h in answer.passages),
            "words": words,
            "naive_words": len(naive.split()),
            "em": exact_match(short.text, q.answers) if short else None,
            "f1": f1(short.text, q.answers) if short else None,
            "valid": all(valid), "seconds": seconds, "judged": answer.judged,
        })
        if i % 50 == 0:
            log(f"  {spec}: {i}/{len(questions)}")
    unjudged = summarize(rows)
    return {**summarize(judged_at(rows, threshold)), "judge_threshold": threshold,
            "unjudged_wrong_declines": unjudged["wrong_declines"],
            "unjudged_out_of_corpus_declines": unjudged["out_of_corpus_declines"],
            "rows": rows}  # every question's row: thresholds are chosen from them


def summarize(rows: list[dict]) -> dict:
    inside = [r for r in rows if r["in_corpus"]]
    outside = [r for r in rows if not r["in_corpus"]]
    answered = [r for r in inside if not r["abstained"]]

    def share(items, key) -> float | None:
        return round(sum(bool(r[key]) for r in items) / len(items), 4) if items else None

    shorts = [r for r in inside if r["em"] is not None]
    words = [r["words"] for r in answered]
    return {
        "answerable": len(inside),
        "out_of_corpus": len(outside),
        "gold_in_passages": share(inside, "gold_in_passages"),
        "gold_in_answer": share(inside, "gold_in_answer"),
        "gold_in_naive": share(inside, "gold_in_naive"),
        "short_em": round(sum(r["em"] for r in shorts) / len(inside), 4) if shorts else None,
        "short_f1": round(sum(r["f1"] for r in shorts) / len(inside), 4) if shorts else None,
        "words_p50": percentile(words, 50) if words else None,
        "words_p90": percentile(words, 90) if words else None,
        "naive_words_p50": percentile([r["naive_words"] for r in answered], 50) if answered else None,
        "wrong_declines": share(inside, "abstained"),
        "out_of_corpus_declines": share(outside, "abstained"),
        "quote_validity": share(rows, "valid"),
        "latency_p50_ms": round(1000 * percentile([r["seconds"] for r in rows], 50), 1),
        "latency_p90_ms": round(1000 * percentile([r["seconds"] for r in rows], 90), 1),
    }


ROWS = (
    ("gold_in_passages", "gold in the passages (retrieval)"),
    ("gold_in_answer", "gold in the answer"),
    ("gold_in_naive", "gold in a naive answer: same passages and words, sentences by word overlap"),
    ("short_em", "short answer exact match"),
    ("short_f1", "short answer F1"),
    ("words_p50", "answer words, median"),
    ("words_p90", "answer words, p90"),
    ("naive_words_p50", "naive baseline words, median"),
    ("wrong_declines", "answerable questions declined"),
    ("out_of_corpus_declines", "out-of-corpus questions declined"),
    ("judge_threshold", "answer judge's threshold (none: off)"),
    ("unjudged_wrong_declines", "answerable questions declined without the judge"),
    ("unjudged_out_of_corpus_declines", "out-of-corpus questions declined without the judge"),
    ("quote_validity", "quote and short-answer offsets valid"),
    ("latency_p50_ms", "latency p50 (ms)"),
    ("latency_p90_ms", "latency p90 (ms)"),
)


def markdown(result: dict) -> str:
    title = (f"# SQuAD v1.1 ({result['split']} articles): {result['answerable']} answerable questions over "
             f"{result['indexed_articles']} indexed articles, {result['out_of_corpus']} about "
             f"{len(result['held_out_articles'])} articles left out of the index")
    return answerer_table(title, result, ROWS + BAR_ROWS)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("squad", help="answer quality on SQuAD v1.1 articles (open setting: retrieval first)")
    p.add_argument("file", help="a SQuAD v1.1 JSON file, e.g. ../shared/qa-train/squad-v1.1-dev-visible.json")
    p.add_argument("--split", choices=["validation", "calibrate", "train", "all"], default="validation",
                   help="which articles to index and ask about (default: validation, never fitted on; calibrate: the part of train the reader is not fitted on, where its bars are chosen)")
    p.add_argument("--per-article", dest="per_article", type=int, default=50, help="questions sampled per article (default 50)")
    p.add_argument("--held-out", dest="held_out", type=int, default=2,
                   help="articles of the split left out of the index; their questions should be declined (default 2)")
    p.add_argument("--held-out-questions", dest="held_out_questions", type=int, default=40,
                   help="questions sampled per left-out article (default 40)")
    p.add_argument("--llm", action="append", help="answerer spec to score (repeatable; default: extractive)")
    add_judge_argument(p)
    p.add_argument("--reader", default="auto", help="the extractive answerers' span reader: auto, mpnet, minilm or a "
                                                   "parameter file of `rag fit-reader` (default auto)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--out", default="out/bench/squad", help="where results.json and results.md go")
    p.add_argument("--index", help="keep the index here and reuse it (default: a temporary folder)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..answer.reader import SpanReader, reader_files
    from ..pipeline import Rag
    from ..settings import Settings
    from ..types import Document

    log = lambda message: print(message, file=sys.stderr, flush=True)
    articles = split(load_squad(args.file), args.split)
    ordered = sorted(articles, key=lambda a: hashlib.sha256(f"{args.seed}:{a.title}".encode()).hexdigest())
    held_out = ordered[: args.held_out]
    indexed = ordered[args.held_out :]
    if not indexed:
        from ..errors import ConfigError

        raise ConfigError(f"no {args.split} articles left to index; lower --held-out")
    questions = sample(indexed, args.per_article, args.seed) + sample(held_out, args.held_out_questions, args.seed)
    scratch = None if args.index else tempfile.mkdtemp(prefix="rag-squad-")
    index_path = os.path.join(scratch, "index") if scratch else args.index
    try:
        threshold = judge_threshold(args.judge)
        # every span and every answer kept, scored: the bars and the judge's threshold apply below
        rag = Rag(Settings(index_path=index_path, reader=args.reader, short_answer_bar=0.0, judge=args.judge, judge_threshold=0.0))
        card = SpanReader(reader_files(args.reader))  # its bars: what the product shows of the spans
        log(f"indexing {len(indexed)} {args.split} articles ({len(held_out)} left out) into {index_path}")
        rag.add_documents([Document.from_text(source_of(a.title), a.text) for a in indexed])
        specs = args.llm or ["extractive"]
        answerers = {}
        for spec in specs:
            log(f"asking {len(questions)} questions with {spec}")
            answerers[spec] = score(rag, spec, questions, {a.title for a in held_out}, log, threshold)
            answerers[spec].update(at_bar(judged_at(answerers[spec]["rows"], threshold), card.bar_for(spec), "in_corpus"))
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    first = answerers[specs[0]]
    result = {
        "split": args.split,
        "indexed_articles": len(indexed),
        "held_out_articles": [a.title for a in held_out],
        "answerable": first["answerable"],
        "out_of_corpus": first["out_of_corpus"],
        "answerers": answerers,
        "command": "rag " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else None,
    }
    write_results(Path(args.out), result, markdown(result), log)
    return 0
