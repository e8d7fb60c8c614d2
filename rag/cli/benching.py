"""`rag bench NAME`: one sub-subcommand per benchmark module under rag/bench/.

To add a benchmark, add its module to BENCHES; the module defines `add_parser(subparsers)`,
which adds its parser and sets `run`. A module that is missing or fails to import is skipped.
"""

from __future__ import annotations

import importlib

BENCHES = {"beir": "rag.bench.beir", "perf": "rag.bench.perf", "scale": "rag.bench.scale", "squad": "rag.bench.squad",
           "news": "rag.bench.news", "ocr": "rag.bench.ocr", "pdf": "rag.bench.pdf"}


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks: retrieval quality, answers (SQuAD, news), speed, scale, OCR, PDF text")
    benches = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    for module in BENCHES.values():
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        mod.add_parser(benches)
