"""`rag bench beir FOLDER`: dense, BM25 and hybrid retrieval scored side by side on a BEIR folder.

Each document is indexed as `title + " " + text` through `Rag.add_documents`; each query is its
`text` only (query metadata can hold the gold evidence, so it is never read). A document's rank
is that of its best chunk. nDCG@10, Recall@10 and MRR@10 come from the k=10 searches a user
would run (timed for the latency figures); Recall@100 from searches deep enough to reach 100
distinct documents. With `--tune`, the hybrid fusion settings are grid-searched instead
(do this on the train split only, then report test with the chosen values).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from ..evaluation.metrics import evaluate, mean_metric, percentile
from ..search.fusion import reciprocal_rank_fusion
from . import write_results

MODES = ("dense", "bm25", "hybrid")
COLUMNS = (("ndcg", 10, "nDCG@10"), ("recall", 10, "Recall@10"), ("recall", 100, "Recall@100"), ("mrr", 10, "MRR@10"))
# The --tune grid. Only the dense:bm25 weight ratio changes the RRF order, so bm25 stays at 1.
TUNE_GRID = {
    "candidates": (20, 50, 100, 200),
    "rrf_k": (1, 2, 3, 5, 10, 20, 40, 60, 100),
    "dense_weight": (0.5, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.2, 1.5, 2.0),
}


@dataclass(frozen=True)
class Beir:
    name: str
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # query id -> text, only queries judged in the split, in qrels order
    qrels: dict[str, dict[str, int]]


def load_beir(folder: str | os.PathLike, split: str = "test", limit_queries: int | None = None) -> Beir:
    from ..errors import RagError

    folder = Path(folder)
    names = {"corpus": "corpus.jsonl", "queries": "queries.jsonl", "qrels": f"qrels/{split}.tsv"}
    files = {label: folder / name for label, name in names.items()}
    for file in files.values():
        if not file.is_file():
            raise RagError(f"{file} not found: a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv")
    corpus = {}
    with open(files["corpus"], encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                corpus[str(row["_id"])] = (row.get("title") or "", row.get("text") or "")
    qrels: dict[str, dict[str, int]] = {}
    with open(files["qrels"], encoding="utf-8") as handle:
        for n, line in enumerate(handle):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or (n == 0 and not parts[2].lstrip("-").isdigit()):
                continue  # the header row
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    if limit_queries:
        qrels = dict(list(qrels.items())[:limit_queries])
    texts = {}
    with open(files["queries"], encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                texts[str(row["_id"])] = row["text"]  # text only: never the metadata
    missing = [q for q in qrels if q not in texts]
    if missing:
        raise RagError(f"{len(missing)} judged queries are not in {files['queries']} (first: {missing[0]})")
    return Beir(folder.resolve().name, corpus, {q: texts[q] for q in qrels}, qrels)


def ranked_docs(rag, query: str, mode: str, n_docs: int, k: int | None = None) -> list[str]:
    """Up to n_docs document ids, each ranked by its best chunk; searches deeper until n_docs differ."""
    k = k or n_docs
    while True:
        hits = rag.search(query, k=k, mode=mode)
        docs = list(dict.fromkeys(h.chunk.source for h in hits))
        if len(docs) >= n_docs or len(hits) < k:
            return docs[:n_docs]
        k *= 2


def build_index(rag, data: Beir, *, progress: bool = False) -> dict:
    from ..types import Document

    documents = [Document.from_text(doc_id, title + " " + text) for doc_id, (title, text) in data.corpus.items()]
    started = time.perf_counter()
    report = rag.add_documents(documents, progress=progress)
    seconds = time.perf_counter() - started
    built = report.embedded == report.chunks  # a fresh build, not a reused index
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "truncated": report.truncated,
        "reused": not built,
        "seconds": round(seconds, 2) if built else None,
        "docs_per_s": round(report.documents / seconds, 2) if built and seconds else None,
    }


def run_modes(rag, data: Beir, *, warmup: int = 20, log=print) -> dict:
    queries = list(data.queries.items())
    results = {}
    for mode in MODES:
        for _, text in queries[:warmup]:
            rag.search(text, k=10, mode=mode)
        run10, run100, latencies = {}, {}, []
        load_before = os.getloadavg()[0]
        for qid, text in queries:
            started = time.perf_counter()
            hits = rag.search(text, k=10, mode=mode)
            latencies.append((time.perf_counter() - started) * 1000)
            docs = list(dict.fromkeys(h.chunk.source for h in hits))
            run10[qid] = docs if len(docs) >= 10 or len(hits) < 10 else ranked_docs(rag, text, mode, 10, k=20)
        for qid, text in queries:
            run100[qid] = ranked_docs(rag, text, mode, 100)
        scores = evaluate(data.qrels, run10, [("ndcg", 10), ("recall", 10), ("mrr", 10)])
        scores["recall@100"] = mean_metric("recall", data.qrels, run100, 100)
        results[mode] = {
            **{key: round(value, 4) for key, value in scores.items()},
            "p50_ms": round(percentile(latencies, 50), 2),
            "p95_ms": round(percentile(latencies, 95), 2),
            # other processes slow CPU timings: the 1-minute load average around the timed queries
            "load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
        log(f"{mode}: nDCG@10 {scores['ndcg@10']:.4f}, p50 {results[mode]['p50_ms']:.1f} ms")
    return results


def tune_fusion(rag, data: Beir, grid: dict = TUNE_GRID, log=print) -> list[dict]:
    """nDCG@10 of hybrid RRF for every grid point, best first, fusing the same chunk rankings
    the retriever fuses (each list cut at `candidates`)."""
    depth = max(grid["candidates"])
    source: dict[str, str] = {}  # chunk id -> its document
    dense: dict[str, list[str]] = {}  # query id -> chunk ids, best first
    bm25: dict[str, list[str]] = {}
    for qid, text in data.queries.items():
        for mode, store in (("dense", dense), ("bm25", bm25)):
            hits = rag.search(text, k=depth, mode=mode)
            store[qid] = [h.chunk.id for h in hits]
            source.update((h.chunk.id, h.chunk.source) for h in hits)
    log(f"fusing {len(data.queries)} queries over {len(list(product(*grid.values())))} settings")
    rows = []
    for candidates, rrf_k, dense_weight in product(grid["candidates"], grid["rrf_k"], grid["dense_weight"]):
        run = {}
        for qid in data.queries:
            rankings = {"dense": dense[qid][:candidates], "bm25": bm25[qid][:candidates]}
            fused = reciprocal_rank_fusion(rankings, k=rrf_k, weights={"dense": dense_weight, "bm25": 1.0})
            run[qid] = list(dict.fromkeys(source[cid] for cid, _, _ in fused))[:10]
        rows.append({
            "candidates": candidates, "rrf_k": rrf_k, "dense_weight": dense_weight, "bm25_weight": 1.0,
            "ndcg@10": round(mean_metric("ndcg", data.qrels, run, 10), 4),
        })
    return sorted(rows, key=lambda r: -r["ndcg@10"])


def markdown(result: dict) -> str:
    index, s = result["index"], result["settings"]
    lines = [
        f"### {result['dataset']} ({result['split']}, {result['queries']} queries, {index['documents']} documents)",
        "",
        "| mode | " + " | ".join(label for _, _, label in COLUMNS) + " | p50 ms | p95 ms |",
        "|---|" + "---:|" * (len(COLUMNS) + 2),
    ]
    for mode, row in result["modes"].items():
        cells = [f"{row[f'{m}@{k}']:.4f}" for m, k, _ in COLUMNS] + [f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}"]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    built = (
        f"indexed in {index['seconds']:.1f} s ({index['docs_per_s']:.1f} docs/s; {index['truncated']} chunks "
        "longer than the model reads were truncated)"
        if not index["reused"] else f"reused an existing index ({index['embedded']} chunks embedded)"
    )
    threads = result["machine"].get("query_threads")
    threads = f", {threads} torch threads" if threads else ""
    load = ", ".join(f"{mode} {row['load_1m'][0]:.1f}-{row['load_1m'][1]:.1f}" for mode, row in result["modes"].items())
    lines += [
        "",
        f"{index['documents']} documents, {index['chunks']} chunks; {built}.",
        (
            f"Model {s['embedding_model']} ({s.get('embedding_backend', 'torch')} backend), chunks of {s['chunk_tokens']} tokens (overlap {s['chunk_overlap']}); "
            f"hybrid = RRF k={s['rrf_k']}, weights dense {s['dense_weight']} / bm25 {s['bm25_weight']}, "
            f"{s['candidates']} candidates per list. Latency: warm `Rag.search(k=10)` per query on "
            f"{result['machine']['cpus']} CPU cores ({result['machine']['cpu']}{threads}), "
            f"1-minute load average {load}."
        ),
    ]
    hybrid = result["modes"].get("hybrid")
    if hybrid:
        lines += ["", ("Targets (printed, not asserted): hybrid nDCG@10 >= 0.70: "
                       f"{_met(hybrid['ndcg@10'] >= HYBRID_NDCG)}; warm hybrid p50 <= {P50_MS:g} ms: {_met(hybrid['p50_ms'] <= P50_MS)}.")]
        published = PUBLISHED_DENSE.get((result["dataset"], s["embedding_model"]))
        dense = result["modes"].get("dense")
        if published is not None and dense and s["chunk_tokens"] >= 2048:  # one chunk per document, as MTEB
            lines[-1] += (f" Dense nDCG@10 within 0.01 of the published {published}: "
                          f"{_met(abs(dense['ndcg@10'] - published) <= 0.01)} ({dense['ndcg@10']:.4f}).")
    return "\n".join(lines) + "\n"


HYBRID_NDCG, P50_MS = 0.70, 20.0
PUBLISHED_DENSE = {("scifact", "all-MiniLM-L6-v2"): 0.6451}  # MTEB, from the benchmark's README


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch else None


def add_parser(subparsers) -> None:
    from ..settings import DEFAULT_EMBEDDING_MODEL

    p = subparsers.add_parser("beir", help="retrieval quality and latency on a BEIR-format folder")
    p.add_argument("folder", help="folder with corpus.jsonl, queries.jsonl and qrels/<split>.tsv")
    p.add_argument("--out", help="where results.json and results.md go (default: out/bench/<dataset>)")
    p.add_argument("--split", default="test", help="qrels split to score (default: test)")
    p.add_argument("--model", default=os.environ.get("RAG_EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL),
                   help="embedding model (default: %(default)s)")
    p.add_argument("--chunk-tokens", dest="chunk_tokens", type=int,
                   help="chunk size in tokens (default: the library's; larger than every document = one chunk each)")
    p.add_argument("--chunk-overlap", dest="chunk_overlap", type=int, help="chunk overlap in tokens")
    p.add_argument("--limit-queries", dest="limit_queries", type=int, help="score only the first N judged queries")
    p.add_argument("--rrf-k", dest="rrf_k", type=int, help="RRF constant for hybrid")
    p.add_argument("--dense-weight", dest="dense_weight", type=float, help="weight of the dense ranking in hybrid")
    p.add_argument("--bm25-weight", dest="bm25_weight", type=float, help="weight of the BM25 ranking in hybrid")
    p.add_argument("--candidates", type=int, help="chunks taken from each ranking before fusing")
    p.add_argument("--warmup", type=int, default=20, help="untimed queries per mode before timing (default 20)")
    p.add_argument("--embedding-backend", dest="embedding_backend", choices=["openvino", "torch"],
                   help="run the embedding model with OpenVINO (the library's default) or torch")
    p.add_argument("--query-threads", dest="query_threads", type=int,
                   help="torch backend: CPU threads while querying (default: torch's, one per core); 1 avoids stalls "
                   "when other processes share the cores")
    p.add_argument("--index", help="keep the index in this folder and reuse it on later runs (only missing or "
                   "changed documents are embedded); default: a temporary folder, deleted afterwards")
    p.add_argument("--tune", action="store_true", help="grid-search the hybrid fusion settings on --split (use train)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..pipeline import Rag
    from ..settings import Settings

    data = load_beir(args.folder, args.split, args.limit_queries)
    out = Path(args.out or Path("out") / "bench" / data.name)
    scratch = None if args.index else tempfile.mkdtemp(prefix="rag-bench-")
    index_path = os.path.join(scratch, "index") if scratch else args.index
    # Recall@100 ranks documents 100 deep: searches go past the interactive limit of 100 chunks
    values = {"index_path": index_path, "embedding_model": args.model, "retrieval": "hybrid", "max_k": 100_000}
    for name in ("chunk_tokens", "chunk_overlap", "rrf_k", "dense_weight", "bm25_weight", "candidates", "embedding_backend"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    settings = Settings(**values)
    log = lambda message: print(message, file=sys.stderr, flush=True)
    try:
        rag = Rag(settings)
        log(f"{data.name}: indexing {len(data.corpus)} documents into {index_path}")
        index = build_index(rag, data, progress=sys.stderr.isatty())
        if args.query_threads:
            import torch

            torch.set_num_threads(args.query_threads)
        out.mkdir(parents=True, exist_ok=True)
        if args.tune:
            rows = tune_fusion(rag, data, log=log)
            (out / f"tune-{args.split}.json").write_text(json.dumps(rows, indent=2))
            print(f"| candidates | rrf_k | dense_weight | nDCG@10 ({args.split}) |\n|---:|---:|---:|---:|")
            for r in rows[:15]:
                print(f"| {r['candidates']} | {r['rrf_k']} | {r['dense_weight']} | {r['ndcg@10']:.4f} |")
            return 0
        log(f"{data.name}: {len(data.queries)} {args.split} queries x {', '.join(MODES)}")
        result = {
            "dataset": data.name,
            "split": args.split,
            "queries": len(data.queries),
            "command": "rag " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else None,
            "settings": {k: v for k, v in settings.to_dict().items() if k not in ("index_path", "store_url")},
            "index": index,
            "modes": run_modes(rag, data, warmup=args.warmup, log=log),
            "machine": {**machine(), "query_threads": _torch_threads()},
        }
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    write_results(out, result, markdown(result), log)
    return 0
