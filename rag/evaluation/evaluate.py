"""Score the system on a QA set through the public API: retrieval, answers, citations, abstention.

A QA item (one JSON object per line):
    {"id", "question", "type", "answerable": bool,
     "facts": [[surface form, ...], ...],            # each fact: acceptable spellings
     "evidence": [{"source": "seeds/x.txt", "quote": "verbatim text"}]}
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..pipeline import Rag
from ..types import Answer
from ..verify.align import locate
from ..verify.claims import split_claims

METRICS = (
    "hit_at_k",
    "mrr",
    "fact_recall",
    "citation_precision",
    "citation_recall",
    "quote_validity",
    "abstention_precision",
    "abstention_recall",
    "answerable_abstained",
    "latency_p50",
    "latency_p95",
)
LOWER_IS_BETTER = {"answerable_abstained", "latency_p50", "latency_p95"}


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    type: str
    answerable: bool
    facts: tuple[tuple[str, ...], ...]
    evidence: tuple[tuple[str, str], ...]


def load_qa(path: str | Path) -> list[Item]:
    items = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            items.append(
                Item(
                    id=str(raw["id"]),
                    question=raw["question"],
                    type=raw.get("type", "single"),
                    answerable=bool(raw.get("answerable", True)),
                    facts=tuple(tuple(f) for f in raw.get("facts", [])),
                    evidence=tuple((e["source"], e["quote"]) for e in raw.get("evidence", [])),
                )
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"{path} line {lineno}: not a QA item ({err.__class__.__name__}: {err})") from err
    return items


def contains_fact(text: str, forms: tuple[str, ...]) -> bool:
    """A surface form counts when it stands as whole words (so "US" does not match "thus")."""
    for form in forms:
        pattern = r"(?<!\w)" + re.escape(form.strip()) + r"(?!\w)"
        if re.search(pattern, text, re.IGNORECASE):
            return True
    return False


def gold_spans(rag: Rag, item: Item) -> list[tuple[str, int, int]]:
    """(indexed source, start, end) of each gold quote, located in the indexed document text. A
    source indexed in another format (a scanned PDF of seeds/x.txt: x.pdf) is matched by its name
    stem, and its quote located approximately (rag.verify.align: at most 10% of its characters differ)."""
    spans: list[tuple[str, int, int]] = []
    indexed = [s for s, _ in rag.documents()]
    for source, quote in item.evidence:
        match = next((s for s in indexed if s == source or s.endswith("/" + Path(source).name)), None)
        match = match or next((s for s in indexed if Path(s).stem == Path(source).stem), None)
        doc = rag.document(match) if match else None
        span = locate(quote, doc.text) if doc is not None else None
        if not match or span is None:
            raise ConfigError(f"{item.id}: gold quote not found in {source}; fix the QA set or re-index")
        spans.append((match, *span))
    return spans


def overlaps(source: str, start: int, end: int, gold: list[tuple[str, int, int]]) -> bool:
    return any(source == s and start < e and b < end for s, b, e in gold)


def score_item(rag: Rag, item: Item, answer: Answer, seconds: float) -> dict:
    gold = gold_spans(rag, item) if item.answerable else []
    ranks = [h.rank for h in answer.passages if overlaps(h.chunk.source, h.chunk.start, h.chunk.end, gold)]
    claims = split_claims(answer.text) if not answer.abstained else []
    backed = {c.sentence for c in answer.citations if c.verified}
    valid = []
    for c in answer.citations:
        if c.quote:
            doc = rag.document(c.source)
            valid.append(doc is not None and doc.text[c.start : c.end] == c.quote)
    row = {
        "id": item.id,
        "type": item.type,
        "question": item.question,
        "answerable": item.answerable,
        "abstained": answer.abstained,
        "answer": answer.text,
        "query": answer.query,
        "seconds": round(seconds, 4),
        "quotes": len(valid),
        "quotes_valid": sum(valid),
        "issues": list(answer.issues),
    }
    if item.answerable:
        found = [contains_fact(answer.text, forms) for forms in item.facts] if not answer.abstained else [False] * len(item.facts)
        good = [c.verified and overlaps(c.source, c.start, c.end, gold) for c in answer.citations]
        row.update(
            hit=bool(ranks),
            rr=1.0 / min(ranks) if ranks else 0.0,
            fact_recall=sum(found) / len(found) if found else 1.0,
            facts_missing=[forms[0] for forms, ok in zip(item.facts, found) if not ok],
            citation_precision=(sum(good) / len(good)) if good else None,
            citation_recall=(sum(claim in backed for claim, _ in claims) / len(claims)) if claims else None,
        )
    return row


def evaluate(rag: Rag, items: list[Item], spec: str) -> dict:
    rows = []
    for item in items:
        t = time.perf_counter()
        answer = rag.ask(item.question, llm=spec)
        rows.append(score_item(rag, item, answer, time.perf_counter() - t))
    return {"spec": spec, "summary": summarize(rows), "by_type": by_type(rows), "questions": rows}


def summarize(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    abstained = [r for r in rows if r["abstained"]]
    latencies = sorted(r["seconds"] for r in rows)
    quotes = sum(r["quotes"] for r in rows)

    def mean(values):
        values = [v for v in values if v is not None]
        return round(statistics.fmean(values), 4) if values else None

    right_abstentions = sum(1 for r in unanswerable if r["abstained"])
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit_at_k": mean([float(r["hit"]) for r in answerable]),
        "mrr": mean([r["rr"] for r in answerable]),
        "fact_recall": mean([r["fact_recall"] for r in answerable]),
        "citation_precision": mean([r["citation_precision"] for r in answerable if not r["abstained"]]),
        "citation_recall": mean([r["citation_recall"] for r in answerable if not r["abstained"]]),
        "quote_validity": round(sum(r["quotes_valid"] for r in rows) / quotes, 4) if quotes else 1.0,
        "abstention_precision": round(right_abstentions / len(abstained), 4) if abstained else None,
        "abstention_recall": round(right_abstentions / len(unanswerable), 4) if unanswerable else None,
        "answerable_abstained": sum(1 for r in answerable if r["abstained"]),
        "latency_p50": round(percentile(latencies, 50), 4),
        "latency_p95": round(percentile(latencies, 95), 4),
    }


def by_type(rows: list[dict]) -> dict:
    out = {}
    for kind in sorted({r["type"] for r in rows}):
        group = [r for r in rows if r["type"] == kind]
        if kind == "unanswerable" or not group[0]["answerable"]:
            out[kind] = {"n": len(group), "abstention_recall": round(sum(r["abstained"] for r in group) / len(group), 4)}
        else:
            out[kind] = {
                "n": len(group),
                "hit_at_k": round(statistics.fmean(float(r["hit"]) for r in group), 4),
                "fact_recall": round(statistics.fmean(r["fact_recall"] for r in group), 4),
            }
    return out


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    pos = (len(sorted_values) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def check_thresholds(summary: dict, thresholds: dict) -> list[str]:
    """Metrics that miss their threshold, as one-line messages. `max_NAME` bounds NAME from above;
    latency thresholds are upper bounds too; everything else is a lower bound."""
    failures = []
    for name, limit in thresholds.items():
        metric = name.removeprefix("max_")
        value = summary.get(metric)
        if value is None:
            continue
        if name.startswith("max_") or metric in LOWER_IS_BETTER:
            if value > limit:
                failures.append(f"{metric} = {value} is above the allowed {limit}")
        elif value < limit:
            failures.append(f"{metric} = {value} is below the threshold {limit}")
    return failures


def load_thresholds(path: str | Path) -> dict:
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read thresholds file {path}: {err}") from err
    return dict(data.get("thresholds", data))
