"""`rag bench news FILE`: answer quality on news articles, near misses and conflicting sources.

Reads a SQuAD v2-layout file with near misses and conflict pairs (`../shared/qa-train/news-qa.json`),
takes the articles of one split (the same fixed rule on the title as SQuAD: validation is never
fitted on), indexes them together with `seeds/` through the public API, and asks every question
the way a user would (retrieval first). Printed for each answerer:

- short answer EM / F1 over the answerable questions (no short answer scores 0), and the
  precision of the short answers shown (a shown short answer is right when its F1 is at least 0.5)
- gold in the answer, median / p90 answer words, answerable questions declined
- near misses declined, in all and by kind (other entity, missing detail, wrong time, not in the article)
- conflict pairs whose answer states both values, and conflicts claimed on questions that have none
- quote validity: every citation's and short answer's text equals the indexed text at its offsets

`results.json` keeps every question's row (confidence included), so that a threshold can be
chosen on the fit split and checked on validation.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..evaluation.metrics import percentile
from . import BAR_ROWS, add_judge_argument, answerer_table, at_bar, judge_threshold, judged_at, write_results
from .squad import Article, contains_gold, exact_match, f1, load_squad, split

RIGHT_F1 = 0.5  # a shown short answer with at least this F1 against gold counts as right


@dataclass(frozen=True)
class Conflict:
    question_ids: tuple[str, ...]
    values: tuple[str, ...]


def load_news(path: str | os.PathLike) -> tuple[list[Article], dict[str, str], list[Conflict]]:
    """(articles, {question id: near-miss kind}, conflict pairs) of a news-qa file."""
    articles = load_squad(path)
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    kinds = {qa["id"]: qa.get("near_miss") or "unlabelled" for article in data["data"] for p in article["paragraphs"]
             for qa in p["qas"] if qa.get("is_impossible")}
    conflicts = [Conflict(tuple(c.get("question_ids") or [c["question_id"]]), tuple(c["values"]))
                 for c in data.get("conflicts", [])]
    return articles, kinds, conflicts


def score(rag, spec: str, articles: list[Article], kinds: dict[str, str], conflicts: list[Conflict], log,
          threshold: float | None = None) -> dict:
    """Every metric for one answerer, at the judge's `threshold` (rag.bench.judged_at); the
    declines without the judge beside them."""
    paired = {qid: c for c in conflicts for qid in c.question_ids}
    rows = []
    questions = [q for a in articles for q in a.questions]
    for i, q in enumerate(questions, start=1):
        t = time.perf_counter()
        answer = rag.ask(q.text, llm=spec)
        seconds = time.perf_counter() - t
        short = answer.short_answer
        # where the documents disagree the short answer's place holds every side's value: the best one is scored
        offered = [short.text] if short else [v.text for v in answer.conflict_values]
        valid = [rag.document(c.source).text[c.start : c.end] == c.quote for c in answer.citations]
        if short is not None:
            valid.append(rag.document(short.source).text[short.start : short.end] == short.text)
        shown = " ".join([answer.text, *(c.quote for c in answer.citations)])
        conflict = paired.get(q.id)
        rows.append({
            "id": q.id, "answerable": bool(q.answers), "near_miss": kinds.get(q.id), "abstained": answer.abstained,
            "confidence": answer.confidence, "short": " · ".join(offered) or None,
            "short_confidence": short.confidence if short else None,
            "gold_in_answer": bool(q.answers) and not answer.abstained and contains_gold(answer.text, q.answers),
            "words": 0 if answer.abstained else len(re.sub(r"\[\d+\]", "", answer.text).split()),
            "em": max((exact_match(t, q.answers) for t in offered), default=0.0) if q.answers else 0.0,
            "f1": max((f1(t, q.answers) for t in offered), default=0.0) if q.answers else 0.0,
            "conflict_claimed": bool(answer.conflict),
            "conflict_pair": conflict is not None,
            "both_values": conflict is not None and all(contains_gold(shown, (v,)) for v in conflict.values),
            "valid": all(valid), "seconds": seconds, "judged": answer.judged,
        })
        if i % 50 == 0:
            log(f"  {spec}: {i}/{len(questions)}")
    unjudged = summarize(rows)
    return {**summarize(judged_at(rows, threshold)), "judge_threshold": threshold,
            "unjudged_wrong_declines": unjudged["wrong_declines"], "unjudged_near_miss_declines": unjudged["near_miss_declines"],
            "rows": rows}


def summarize(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    near = [r for r in rows if not r["answerable"]]
    answered = [r for r in answerable if not r["abstained"]]
    shown = [r for r in answerable if r["short"]]

    def share(items, key) -> float | None:
        return round(sum(bool(r[key]) for r in items) / len(items), 4) if items else None

    by_kind = {}
    for kind in sorted({r["near_miss"] for r in near}):
        of_kind = [r for r in near if r["near_miss"] == kind]
        by_kind[kind] = f"{sum(r['abstained'] for r in of_kind)}/{len(of_kind)}"
    pairs = [r for r in rows if r["conflict_pair"]]
    return {
        "answerable": len(answerable),
        "near_misses": len(near),
        "short_em": round(sum(r["em"] for r in answerable) / len(answerable), 4) if answerable else None,
        "short_f1": round(sum(r["f1"] for r in answerable) / len(answerable), 4) if answerable else None,
        "short_shown": share(answerable, "short"),
        "short_precision": round(sum(r["f1"] >= RIGHT_F1 for r in shown) / len(shown), 4) if shown else None,
        "gold_in_answer": share(answerable, "gold_in_answer"),
        "words_p50": percentile([r["words"] for r in answered], 50) if answered else None,
        "words_p90": percentile([r["words"] for r in answered], 90) if answered else None,
        "wrong_declines": share(answerable, "abstained"),
        "near_miss_declines": share(near, "abstained"),
        "near_miss_declines_by_kind": by_kind,
        "conflicts_with_both_values": f"{sum(r['both_values'] for r in pairs)}/{len(pairs)}",
        "false_conflicts": sum(r["conflict_claimed"] for r in rows if not r["conflict_pair"]),
        "quote_validity": share(rows, "valid"),
        "latency_p50_ms": round(1000 * percentile([r["seconds"] for r in rows], 50), 1) if rows else None,
    }


ROWS = (
    ("short_em", "short answer exact match"),
    ("short_f1", "short answer F1"),
    ("short_shown", "answerable questions with a short answer (every span shown)"),
    ("short_precision", f"short answers shown that are right (F1 >= {RIGHT_F1})"),
    ("gold_in_answer", "gold in the answer"),
    ("words_p50", "answer words, median"),
    ("words_p90", "answer words, p90"),
    ("wrong_declines", "answerable questions declined"),
    ("near_miss_declines", "near misses declined"),
    ("near_miss_declines_by_kind", "near misses declined, by kind"),
    ("conflicts_with_both_values", "conflict questions whose answer shows both values"),
    ("false_conflicts", "conflicts claimed on other questions"),
    ("quote_validity", "quote and short-answer offsets valid"),
    ("latency_p50_ms", "latency p50 (ms)"),
    ("judge_threshold", "answer judge's threshold (none: off)"),
    ("unjudged_wrong_declines", "answerable questions declined without the judge"),
    ("unjudged_near_miss_declines", "near misses declined without the judge"),
)


def markdown(result: dict) -> str:
    title = (f"# News ({result['split']} articles): {result['articles']} articles indexed with {result['seeds']}, "
             f"{result['answerable']} answerable questions and {result['near_misses']} near misses")
    return answerer_table(title, result, ROWS + BAR_ROWS)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("news", help="answer quality on news articles: near misses and conflicting sources (open setting)")
    p.add_argument("file", help="a news-qa file (SQuAD v2 layout with near misses), e.g. ../shared/qa-train/news-qa.json")
    p.add_argument("--split", choices=["validation", "calibrate", "train", "all"], default="validation",
                   help="which articles to index and ask about (default: validation, never fitted on; calibrate: the part of train the reader is not fitted on, where its bars are chosen)")
    p.add_argument("--seeds", default="seeds", help="a folder indexed beside the articles (default: seeds; '' for none)")
    p.add_argument("--llm", action="append", help="answerer spec to score (repeatable; default: extractive)")
    p.add_argument("--reader", default="auto", help="the extractive answerers' span reader: auto, mpnet, minilm or a "
                                                   "parameter file of `rag fit-reader` (default auto)")
    add_judge_argument(p)
    p.add_argument("--out", default="out/bench/news", help="where results.json and results.md go")
    p.add_argument("--index", help="keep the index here and reuse it (default: a temporary folder)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..answer.reader import SpanReader, reader_files
    from ..pipeline import Rag
    from ..settings import Settings
    from ..types import Document

    log = lambda message: print(message, file=sys.stderr, flush=True)
    articles, kinds, conflicts = load_news(args.file)
    articles = split(articles, args.split)
    scratch = None if args.index else tempfile.mkdtemp(prefix="rag-news-")
    index_path = os.path.join(scratch, "index") if scratch else args.index
    try:
        threshold = judge_threshold(args.judge)
        # every span and every answer kept, scored: the bars and the judge's threshold apply below
        rag = Rag(Settings(index_path=index_path, reader=args.reader, short_answer_bar=0.0, judge=args.judge, judge_threshold=0.0))
        card = SpanReader(reader_files(args.reader))  # its bars: what the product shows of the spans
        log(f"indexing {len(articles)} {args.split} articles and {args.seeds or 'no seeds'} into {index_path}")
        if args.seeds:
            rag.index([args.seeds])
        rag.add_documents([Document.from_text(f"news/{_slug(a.title)}.txt", a.text) for a in articles])
        specs = args.llm or ["extractive"]
        answerers = {}
        for spec in specs:
            log(f"asking {sum(len(a.questions) for a in articles)} questions with {spec}")
            answerers[spec] = score(rag, spec, articles, kinds, conflicts, log, threshold)
            answerers[spec].update(at_bar(judged_at(answerers[spec]["rows"], threshold), card.bar_for(spec)))
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    first = answerers[specs[0]]
    result = {
        "split": args.split, "reader": args.reader, "judge": args.judge, "articles": len(articles), "seeds": args.seeds or "no other documents",
        "answerable": first["answerable"], "near_misses": first["near_misses"], "answerers": answerers,
        "command": "rag " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else None,
    }
    write_results(Path(args.out), result, markdown(result), log)
    return 0


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:80] or "article"
