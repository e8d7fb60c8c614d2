"""Filtered search through the whole folder backend (`rag bench scale --index-chunks N`): a folder
index of about N synthetic chunks in documents tagged with metadata, searched through `Rag.search`
with and without a filter that keeps 1% of the documents, in each retrieval mode.

What it measures is the backend: the filter resolved by SQLite into allowed chunk ids (timed apart,
for a filter not seen before), FAISS restricted to them, BM25 scoring only them, and fusion. The
texts are random words and are embedded by the `test-hash` test double (384 dimensions, no model),
so query embedding costs nothing and the figures are the search's own; quality is not measured.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from ..evaluation.metrics import percentile

GROUPS = 100  # documents are tagged group=0..99: a filter on one group keeps 1% of them
CHUNKS_PER_DOCUMENT = 100  # one sentence of 8 random words (about 25 tokens) per 32-token chunk


def build(folder: str, n_chunks: int, seed: int, log):
    """A folder index of about `n_chunks` chunks; returns the `Rag` over it."""
    from .. import Document, Rag, Settings

    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(5000)]
    settings = Settings(index_path=folder, embedding_model="test-hash:384", chunk_tokens=32, chunk_overlap=0, max_k=100)
    rag = Rag(settings)
    n_docs = max(GROUPS, n_chunks // CHUNKS_PER_DOCUMENT)
    docs = []
    for d in range(n_docs):
        words = rng.choice(vocabulary, size=(CHUNKS_PER_DOCUMENT, 8))
        text = "\n".join(" ".join(row).capitalize() + "." for row in words)
        docs.append(Document.from_text(f"docs/{d:06d}.txt", text, {"group": d % GROUPS, "year": 2000 + d % 25}))
    started = time.perf_counter()
    report = rag.add_documents(docs)
    log(f"index: {report.documents:,} documents, {report.chunks:,} chunks in {time.perf_counter() - started:.0f} s")
    return rag, report.chunks, docs


def run_filtered(n_chunks: int, k: int, queries: int, seed: int, log) -> dict:
    """p50 of `Rag.search` unfiltered and with `group=7` (1%) per mode, the fewest results a filtered
    query got, and the first query's latency with filters not seen before (resolved by SQLite)."""
    with tempfile.TemporaryDirectory(prefix="rag-bench-filtered-") as folder:
        rag, chunks, docs = build(folder, n_chunks, seed, log)
        rng = np.random.default_rng(seed + 1)
        words = [d.text.split() for d in docs]
        # two words of a document the filter keeps and two of any: queries BM25 can match either way
        texts = [" ".join([*rng.choice(words[7 + GROUPS * rng.integers(len(docs) // GROUPS)], 2), *rng.choice(words[rng.integers(len(docs))], 2)])
                 for _ in range(queries)]
        kept = sum(n for source, n in rag.documents() if int(source[5:11]) % GROUPS == 7)
        rows = []
        for m, mode in enumerate(("dense", "bm25", "hybrid")):
            timings: dict[str, list[float]] = {"unfiltered": [], "filtered": []}
            fewest = k
            for name, filters in (("unfiltered", None), ("filtered", "group=7")):
                for text in texts[:10]:
                    rag.search(text, k=k, mode=mode, filters=filters)  # warm: the filter is resolved once
                for text in texts:
                    t = time.perf_counter()
                    hits = rag.search(text, k=k, mode=mode, filters=filters)
                    timings[name].append((time.perf_counter() - t) * 1000)
                    if filters:
                        assert all(h.chunk.metadata["group"] == 7 for h in hits)
                        fewest = min(fewest, len(hits))
            first = []
            for group in range(20 + 10 * m, 30 + 10 * m):  # a filter not seen before: SQLite resolves it first
                t = time.perf_counter()
                rag.search(texts[group % len(texts)], k=k, mode=mode, filters=f"group={group}")
                first.append((time.perf_counter() - t) * 1000)
            p50, base = percentile(timings["filtered"], 50), percentile(timings["unfiltered"], 50)
            rows.append({"mode": mode, "p50_ms": round(p50, 3), "unfiltered_p50_ms": round(base, 3),
                         "ratio": round(p50 / base, 2), "fewest_returned": fewest, "first_query_p50_ms": round(percentile(first, 50), 3)})
            log(f"index {chunks:,} chunks, {mode:>6}: filtered (1%) p50 {p50:.2f} ms vs unfiltered {base:.2f} ms "
                f"({p50 / base:.2f}x), fewest returned {fewest} of {k}; a new filter's first query {rows[-1]['first_query_p50_ms']:.1f} ms")
        searched_with = rag.backend.opened.vectors.searched_with
    return {"chunks": chunks, "kept_chunks": kept, "k": k, "queries": queries, "searched_with": searched_with, "rows": rows}


def markdown(result: dict) -> str:
    lines = [
        "", (f"Filtered search through the folder backend (`Rag.search`, k={result['k']}): {result['chunks']:,} chunks "
        f"({result['searched_with']}), the filter `group=7` keeps {result['kept_chunks']:,} of them:"), "",
        f"| mode | p50 ms filtered | p50 ms unfiltered | ratio | fewest returned (of {result['k']}) | first query, new filter, p50 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['mode']} | {r['p50_ms']:.2f} | {r['unfiltered_p50_ms']:.2f} | {r['ratio']:.2f}x | {r['fewest_returned']} "
                     f"| {r['first_query_p50_ms']:.1f} |")
    return "\n".join(lines) + "\n"
