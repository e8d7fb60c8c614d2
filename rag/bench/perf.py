"""`rag bench perf FOLDER`: this tool against the LangChain baseline a user would write, in one run.

Both index the same BEIR corpus (`title + " " + text` per document) with the same bundled model:
ours through `Rag.add_documents` (chunks, vectors, BM25, SQLite, saved to disk), the baseline as
`FAISS.from_documents(docs, HuggingFaceEmbeddings(model_name=<bundled model>))` + `save_local`
(one vector per document, truncated by the model). Each system runs in its own subprocess, so
peak memory (ru_maxrss) is its own. Reported for each: indexing throughput, warm retrieval and
end-to-end extractive answer latency, cold start of a fresh process until its first answer, peak
memory, nDCG@10 on the qrels, and the ratios; plus the CPU's measured matmul rate against the
model's FLOPs per token, to show how close indexing runs to the machine's ceiling, and the CPU
flags that decide which precision our embedder runs in.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..embed.embedders import resolve_model_path
from ..evaluation.metrics import mean_metric, percentile
from . import write_results

BASELINE_COLD = """
import sys, time
t0 = time.perf_counter()
from langchain_community.vectorstores import FAISS
from langchain_huggingface import HuggingFaceEmbeddings
emb = HuggingFaceEmbeddings(model_name=sys.argv[2])
store = FAISS.load_local(sys.argv[1], emb, allow_dangerous_deserialization=True)
from rag.bench.perf import baseline_answer
print(baseline_answer(store, emb, sys.argv[3]))
"""


def load_subset(folder: str, split: str, limit_docs: int | None, limit_queries: int | None):
    """The BEIR data; with limit_docs, the first N documents and the judged queries they answer."""
    from .beir import Beir, load_beir

    data = load_beir(folder, split, limit_queries)
    if not limit_docs:
        return data
    corpus = dict(list(data.corpus.items())[:limit_docs])
    qrels = {q: {d: r for d, r in rel.items() if d in corpus} for q, rel in data.qrels.items()}
    qrels = {q: rel for q, rel in qrels.items() if any(r > 0 for r in rel.values())}
    return Beir(data.name, corpus, {q: data.queries[q] for q in qrels}, qrels)


def word_pieces(model: str, texts: list[str], truncated: bool = False) -> int:
    """Word pieces the model's tokenizer makes of the texts; `truncated`: as many as the model reads."""
    from ..embed.embedders import OpenVINOEmbedder

    reader = OpenVINOEmbedder(model)  # its tokenizer only: nothing is exported or compiled
    counts = reader.count_word_pieces(texts)
    limit = reader.max_seq_length if truncated else None
    return int(sum(min(c, limit) if limit else c for c in counts))


def timed(fn, items) -> tuple[list, list[float]]:
    out, ms = [], []
    for item in items:
        t = time.perf_counter()
        out.append(fn(item))
        ms.append((time.perf_counter() - t) * 1000)
    return out, ms


def spread(ms: list[float]) -> dict:
    return {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2)}


# --- the two systems, each run in its own process (`python -m rag.bench.perf SYSTEM ...`) ------


def run_ours(data, work: Path, args) -> dict:
    from ..embed.embedders import make_embedder
    from ..pipeline import Rag
    from ..settings import Settings
    from ..store.folder import FolderBackend
    from ..types import Document
    from .beir import ranked_docs

    backend, _, precision = args.backend.partition(":")
    settings = Settings(index_path=str(work / f"ours-{backend}-{precision or 'auto'}"), embedding_model=args.model,
                        max_k=100_000)
    started = time.perf_counter()
    embedder = make_embedder(args.model, batch_size=settings.embedding_batch_size, backend=backend,
                             precision=precision or "auto")
    embedder.embed(["warm up"])  # loads (and on the first run ever, exports) the model
    load_s = time.perf_counter() - started
    rag = Rag(settings, embedder=embedder)
    documents = [Document.from_text(doc_id, f"{title} {text}") for doc_id, (title, text) in data.corpus.items()]
    started = time.perf_counter()
    report = rag.add_documents(documents)
    index_s = time.perf_counter() - started
    assert isinstance(rag.backend, FolderBackend)  # the benchmark builds a folder index
    _, texts = rag.backend.opened.chunks.all_chunks()
    embedded_tokens = word_pieces(args.model, texts, truncated=True)
    queries = list(data.queries.items())
    for _, q in queries[:10]:
        rag.search(q, k=10)
    hits, search_ms = timed(lambda q: rag.search(q, k=10), [q for _, q in queries])
    runs = {"hybrid": {qid: list(dict.fromkeys(h.chunk.source for h in hs)) for (qid, _), hs in zip(queries, hits)}}
    for mode in ("dense", "bm25"):
        runs[mode] = {qid: ranked_docs(rag, q, mode, 10) for qid, q in queries}
    for qid, q in queries:  # a document's rank is its best chunk's; search deeper until 10 differ
        if len(runs["hybrid"][qid]) < 10:
            runs["hybrid"][qid] = ranked_docs(rag, q, "hybrid", 10, k=20)
    answers, answer_ms = timed(rag.ask, [q for _, q in queries[: args.answer_queries]])
    return {
        "name": f"rag ({args.backend})", "runs_in": embedder.runs_in, "load_s": round(load_s, 2), "index_s": round(index_s, 2),
        "documents": report.documents, "chunks": report.chunks, "embedded_tokens": embedded_tokens,
        "retrieval": {"what": "Rag.search(q, k=10), hybrid (dense + BM25, RRF)", **spread(search_ms)},
        "answer": {"what": "Rag.ask(q): hybrid k=5 + extractive sentences + quote verification", **spread(answer_ms),
                   "answered": sum(not a.abstained for a in answers)},
        "ndcg@10": {mode: round(mean_metric("ndcg", data.qrels, run, 10), 4) for mode, run in runs.items()},
        "index_path": settings.index_path,
    }


class _LangChainEmbedder:
    """Our extractive answerer's embedder interface over a LangChain `Embeddings`."""

    def __init__(self, embeddings):
        self.embeddings = embeddings
        self.model_id = "langchain"

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        return np.asarray(self.embeddings.embed_documents(list(texts)), dtype=np.float32)


def baseline_answer(store, embeddings, question: str, k: int = 5) -> str:
    """similarity_search(k=5), then the same extractive sentence selection as ours (no verifying)."""
    from ..answer.extractive import ExtractiveAnswerer
    from ..types import Chunk, Hit

    docs = store.similarity_search(question, k=k)
    hits = [Hit(Chunk(str(i), d.metadata.get("id", ""), 0, len(d.page_content), d.page_content, 0), 0.0, i + 1)
            for i, d in enumerate(docs)]
    # select() calls only embed(); the adapter implements no more of the Embedder protocol
    chosen = ExtractiveAnswerer(_LangChainEmbedder(embeddings)).select(question, hits)  # type: ignore[arg-type]
    return " ".join(f"{c.text} [{c.passage}]" for c in chosen)


def run_baseline(data, work: Path, args) -> dict:
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document as LCDocument
    from langchain_huggingface import HuggingFaceEmbeddings

    started = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=resolve_model_path(args.model))
    embeddings.embed_query("warm up")
    load_s = time.perf_counter() - started
    docs = [LCDocument(page_content=f"{title} {text}", metadata={"id": doc_id}) for doc_id, (title, text) in data.corpus.items()]
    started = time.perf_counter()
    store = FAISS.from_documents(docs, embeddings)
    store.save_local(str(work / "baseline"))
    index_s = time.perf_counter() - started
    queries = list(data.queries.items())
    for _, q in queries[:10]:
        store.similarity_search(q, k=10)
    found, search_ms = timed(lambda q: store.similarity_search(q, k=10), [q for _, q in queries])
    run = {qid: [d.metadata["id"] for d in ds] for (qid, _), ds in zip(queries, found)}
    answers, answer_ms = timed(lambda q: baseline_answer(store, embeddings, q), [q for _, q in queries[: args.answer_queries]])
    return {
        "name": "LangChain baseline", "runs_in": "torch f32", "load_s": round(load_s, 2), "index_s": round(index_s, 2),
        "documents": len(docs), "chunks": len(docs),
        "embedded_tokens": word_pieces(args.model, [d.page_content for d in docs], truncated=True),
        "retrieval": {"what": "FAISS.similarity_search(q, k=10), dense", **spread(search_ms)},
        "answer": {"what": "similarity_search(k=5) + the same extractive sentence selection (no verification)",
                   **spread(answer_ms), "answered": sum(bool(a) for a in answers)},
        "ndcg@10": {"dense": round(mean_metric("ndcg", data.qrels, run, 10), 4)},
        "index_path": str(work / "baseline"),
    }


def worker(argv: list[str]) -> int:
    """Entry of a subprocess: `python -m rag.bench.perf SYSTEM ARGS_JSON OUT_JSON`."""
    system, spec, out = argv
    args = SimpleNamespace(**json.loads(Path(spec).read_text()))
    data = load_subset(args.folder, args.split, args.limit_docs, args.limit_queries)
    result = (run_baseline if system == "baseline" else run_ours)(data, Path(args.work), args)
    Path(out).write_text(json.dumps(result))
    return 0


def measured(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, stdout) of a fresh process; the RSS is the child's own (wait4)."""
    import threading

    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    output: dict[str, str] = {}
    readers = [threading.Thread(target=lambda s=s: output.__setitem__(s, getattr(process, s).read())) for s in ("stdout", "stderr")]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    _, status, usage = os.wait4(process.pid, 0)  # reap it ourselves: Popen.wait() would lose the rusage
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{shlex.join(command)} failed ({process.returncode}):\n{output['stderr'][-3000:]}")
    return wall, usage.ru_maxrss / 1024, output["stdout"]


# --- the machine's ceiling -------------------------------------------------------------------


def model_flops_per_token(model: str, seq: float) -> float:
    """Forward FLOPs per token of a BERT encoder: the dense layers plus attention over `seq` tokens."""
    config = json.loads((Path(resolve_model_path(model)) / "config.json").read_text())
    d, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return layers * (2 * (4 * d * d + 2 * d * ffn) + 4 * seq * d)


def matmul_gflops(seconds: float = 2.0) -> dict:
    """Best measured GFLOP/s of a 1024^3 matmul: numpy float32, torch float32 and bfloat16."""
    out = {}
    n = 1024
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    candidates: dict[str, Callable[[], object]] = {"numpy_fp32": lambda: a @ b}
    try:
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        ha, hb = ta.to(torch.bfloat16), tb.to(torch.bfloat16)
        candidates.update({"torch_fp32": lambda: ta @ tb, "torch_bf16": lambda: ha @ hb})
    except ImportError:  # pragma: no cover
        pass
    for name, fn in candidates.items():
        fn()
        best, deadline = float("inf"), time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        out[name] = round(2 * n**3 / best / 1e9, 1)
    return out


# --- the driver -------------------------------------------------------------------------------


def cold_start(command: list[str], runs: int, env: dict | None = None) -> dict:
    walls, rss = [], []
    for _ in range(runs):
        wall, peak, _ = measured(command, env)
        walls.append(wall)
        rss.append(peak)
    return {"median_s": round(float(np.median(walls)), 2), "runs_s": [round(w, 2) for w in walls], "peak_mib": round(max(rss), 1)}


def run(args) -> int:
    from .beir import machine

    log = lambda message: print(message, file=sys.stderr, flush=True)
    data = load_subset(args.folder, args.split, args.limit_docs, args.limit_queries)
    import importlib.util

    from ..errors import MissingDependencyError

    if any(importlib.util.find_spec(m) is None for m in ("langchain_community", "langchain_huggingface")):
        raise MissingDependencyError("the LangChain baseline (langchain-community, langchain-huggingface)",
                                     "pip install -c constraints.txt -e '.[bench]'")
    work = Path(tempfile.mkdtemp(prefix="rag-perf-"))
    spec = {k: getattr(args, k) for k in ("folder", "split", "limit_docs", "limit_queries", "model", "answer_queries")}
    spec["work"] = str(work)
    systems = [("baseline", None)] + [("ours", backend) for backend in args.backends.split(",")]
    results, first_question = [], next(iter(data.queries.values()))
    corpus_tokens = word_pieces(args.model, [f"{t} {x}" for t, x in data.corpus.values()])
    try:
        for system, backend in systems:
            (work / "spec.json").write_text(json.dumps({**spec, "backend": backend}))
            log(f"{system}{f' ({backend})' if backend else ''}: indexing {len(data.corpus)} documents, "
                f"{len(data.queries)} queries")
            _, peak, _ = measured([sys.executable, "-m", "rag.bench.perf", system, str(work / "spec.json"), str(work / "out.json")])
            result = json.loads((work / "out.json").read_text())
            result["peak_mib"] = round(peak, 1)
            if system == "baseline":
                command = [sys.executable, "-c", BASELINE_COLD, result["index_path"], resolve_model_path(args.model), first_question]
                env = None
            else:
                command = [sys.executable, "-m", "rag.cli", "ask", first_question, "--index", result["index_path"], "--json"]
                name, _, precision = backend.partition(":")
                env = {**os.environ, "RAG_EMBEDDING_BACKEND": name, "RAG_EMBEDDING_MODEL": args.model,
                       "RAG_EMBEDDING_PRECISION": precision or "auto"}
            result["cold_start"] = cold_start(command, args.cold_runs, env)
            result["docs_per_s"] = round(result["documents"] / result["index_s"], 2)
            result["tokens_per_s"] = round(corpus_tokens / result["index_s"], 1)
            results.append(result)
            log(f"  indexed in {result['index_s']:.1f} s ({result['docs_per_s']:.1f} docs/s), nDCG@10 {result['ndcg@10']}, "
                f"cold start {result['cold_start']['median_s']:.1f} s")
        gflops = matmul_gflops()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "dataset": data.name, "split": args.split, "documents": len(data.corpus), "queries": len(data.queries),
        "corpus_word_pieces": corpus_tokens,
        "command": "rag " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else None,
        "systems": results, "ratios": ratios(results), "targets": targets(results), "ceiling": ceiling(results, gflops, args.model),
        "machine": machine(), "cpu": cpu_choice(),
    }
    out = Path(args.out or Path("out") / "bench" / f"perf-{data.name}")
    write_results(out, report, markdown(report), log)
    return 0


def cpu_choice() -> dict:
    """The CPU flags that decide our embedder's precision, and what `auto` picks from them."""
    from ..embed.quantize import CHOICES, choose_precision, cpu_flags

    flags = cpu_flags()
    deciding = {f for needs, _, _ in CHOICES for f in needs} | {"avx2", "avx512f"}
    precision, why = choose_precision(flags)
    return {"flags": sorted(flags & deciding), "absent": sorted(deciding - flags), "auto": precision, "why": why}


def cpu_line(cpu: dict) -> str:
    return (f"flags that decide the precision: {' '.join(cpu['flags']) or 'none'} (absent: {' '.join(cpu['absent']) or 'none'}); "
            f"auto runs the embedder in {cpu['auto']} ({cpu['why']}).")


def ratios(results: list[dict]) -> dict:
    """Each of our runs against the baseline: >1 means ours is better (faster, smaller)."""
    base, out = results[0], {}
    for r in results[1:]:
        out[r["name"]] = {
            "indexing_throughput": round(r["docs_per_s"] / base["docs_per_s"], 2),
            "retrieval_p50": round(base["retrieval"]["p50_ms"] / r["retrieval"]["p50_ms"], 2),
            "answer_p50": round(base["answer"]["p50_ms"] / r["answer"]["p50_ms"], 2),
            "cold_start": round(base["cold_start"]["median_s"] / r["cold_start"]["median_s"], 2),
            "peak_memory_indexing": round(base["peak_mib"] / r["peak_mib"], 2),
        }
    return out


# The goals this benchmark checks (printed, never asserted: timings depend on the machine)
TARGETS = {"indexing_vs_baseline": 2.0, "ndcg_below_float32": 0.005, "retrieval_p50_ms": 10.0, "answer_p50_ms": 150.0,
           "cold_start_s": 1.5}


def targets(results: list[dict]) -> list[dict]:
    """Each goal, what each of our runs measured, and whether it met it."""
    base = results[0]
    reference = next((r for r in results[1:] if " f32" in r["runs_in"]), None)  # torch, or openvino:f32
    out = []
    for r in results[1:]:
        checks = [
            ("indexing throughput vs the baseline", r["docs_per_s"] / base["docs_per_s"], ">=", TARGETS["indexing_vs_baseline"], "x"),
            ("warm hybrid retrieval p50", r["retrieval"]["p50_ms"], "<=", TARGETS["retrieval_p50_ms"], " ms"),
            ("warm answer p50", r["answer"]["p50_ms"], "<=", TARGETS["answer_p50_ms"], " ms"),
            ("cold start to first answer", r["cold_start"]["median_s"], "<=", TARGETS["cold_start_s"], " s"),
        ]
        if reference is not None and reference is not r:
            drop = reference["ndcg@10"]["dense"] - r["ndcg@10"]["dense"]
            checks.append((f"dense nDCG@10 below float32 {reference['name']}", drop, "<=", TARGETS["ndcg_below_float32"], ""))
        for label, value, op, goal, unit in checks:
            met = value >= goal if op == ">=" else value <= goal
            out.append({"system": r["name"], "goal": f"{label} {op} {goal:g}{unit}", "measured": round(value, 4), "met": met})
    return out


def ceiling(results: list[dict], gflops: dict, model: str) -> dict:
    """Achieved model GFLOP/s of each indexing run (embedded tokens x FLOPs/token / indexing time)."""
    rows = {}
    for r in results:
        seq = r["embedded_tokens"] / max(r["chunks"], 1)
        flops = model_flops_per_token(model, seq)
        rows[r["name"]] = {"mean_tokens_per_sequence": round(seq, 1), "mflops_per_token": round(flops / 1e6, 1),
                           "achieved_gflops": round(r["embedded_tokens"] * flops / r["index_s"] / 1e9, 1)}
    return {"matmul_gflops": gflops, "indexing": rows}


def markdown(report: dict) -> str:
    rows = report["systems"]
    head = "| | " + " | ".join(r["name"] for r in rows) + " |"
    lines = [f"### {report['dataset']} ({report['documents']} documents, {report['queries']} {report['split']} queries)", "",
             head, "|---|" + "---:|" * len(rows)]

    def line(label, fn):
        lines.append(f"| {label} | " + " | ".join(fn(r) for r in rows) + " |")

    line("embedding model runs in", lambda r: r["runs_in"])
    line("vectors (chunks)", lambda r: f"{r['chunks']:,}")
    line("model word pieces embedded", lambda r: f"{r['embedded_tokens']:,}")
    line("indexing time (s)", lambda r: f"{r['index_s']:.1f}")
    line("indexing docs/s", lambda r: f"{r['docs_per_s']:.1f}")
    line("indexing corpus tokens/s", lambda r: f"{r['tokens_per_s']:,.0f}")
    line("model load s (excluded)", lambda r: f"{r['load_s']:.1f}")
    line("warm retrieval p50 / p95 ms", lambda r: f"{r['retrieval']['p50_ms']:.1f} / {r['retrieval']['p95_ms']:.1f}")
    line("answer p50 / p95 ms", lambda r: f"{r['answer']['p50_ms']:.1f} / {r['answer']['p95_ms']:.1f}")
    line("cold start to first answer (s, median)", lambda r: f"{r['cold_start']['median_s']:.2f}")
    line("peak memory indexing / cold answer (MiB)", lambda r: f"{r['peak_mib']:.0f} / {r['cold_start']['peak_mib']:.0f}")
    line("nDCG@10 dense", lambda r: f"{r['ndcg@10']['dense']:.4f}")
    line("nDCG@10 hybrid (default)", lambda r: f"{r['ndcg@10']['hybrid']:.4f}" if "hybrid" in r["ndcg@10"] else "-")
    lines += ["", "Ratios against the baseline (>1: ours is better):", "",
              "| | indexing throughput | retrieval p50 | answer p50 | cold start | peak memory (indexing) |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in report["ratios"].items():
        lines.append(f"| {name} | {r['indexing_throughput']:.2f}x | {r['retrieval_p50']:.2f}x | {r['answer_p50']:.2f}x "
                     f"| {r['cold_start']:.2f}x | {r['peak_memory_indexing']:.2f}x |")
    lines += ["", "Targets (printed, not asserted):", "", "| system | goal | measured | met |", "|---|---|---:|---|"]
    for t in report["targets"]:
        lines.append(f"| {t['system']} | {t['goal']} | {t['measured']:g} | {'yes' if t['met'] else '**no**'} |")
    c = report["ceiling"]
    lines += ["", "Machine ceiling: matmul " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in c["matmul_gflops"].items()) + "; indexing ran at "
              + ", ".join(f"{k} {v['achieved_gflops']:.0f} GFLOP/s ({v['mflops_per_token']:.1f} MFLOP/token)" for k, v in c["indexing"].items())
              + " (model FLOPs only; ours also chunks, builds BM25 and writes SQLite in that time).",
              "", "What each figure measures: " + "; ".join(f"{r['name']}: retrieval = {r['retrieval']['what']}, answer = {r['answer']['what']}" for r in rows) + ".",
              f"{report['machine']['cpus']} CPU cores ({report['machine']['cpu']}); " + cpu_line(report["cpu"])]
    return "\n".join(lines) + "\n"


def add_parser(subparsers) -> None:
    from ..settings import DEFAULT_EMBEDDING_MODEL

    p = subparsers.add_parser("perf", help="indexing, latency, cold start and memory against a LangChain baseline")
    p.add_argument("folder", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    p.add_argument("--limit-docs", dest="limit_docs", type=int, help="index only the first N documents (and the queries they answer)")
    p.add_argument("--limit-queries", dest="limit_queries", type=int, help="only the first N judged queries")
    p.add_argument("--split", default="test", help="qrels split (default: %(default)s)")
    p.add_argument("--backends", default="openvino", help="our embedding backends to run, comma-separated: openvino, torch, "
                   "or openvino:PRECISION (bf16, int8, f32; plain openvino picks per CPU) (default: %(default)s)")
    p.add_argument("--model", default=DEFAULT_EMBEDDING_MODEL, help="embedding model for both systems (default: %(default)s)")
    p.add_argument("--answer-queries", dest="answer_queries", type=int, default=100, help="questions timed end to end (default: %(default)s)")
    p.add_argument("--cold-runs", dest="cold_runs", type=int, default=3, help="fresh processes per system for cold start (default: %(default)s)")
    p.add_argument("--out", help="where results.json and results.md go (default: out/bench/perf-<dataset>)")
    p.set_defaults(run=run)


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1:]))
