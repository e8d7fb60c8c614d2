"""`rag eval`: run the QA set, print the table, write JSON + Markdown + PNG, gate on thresholds."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from . import common, settings_from


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="score answers, citations and abstention on a QA set")
    p.add_argument("qa", nargs="?", default="eval/qa.jsonl", help="QA set, JSON lines (default: %(default)s)")
    p.add_argument("--llm", action="append", help="answerer spec; repeat to compare several side by side (default: extractive)")
    p.add_argument("--corpus", default="seeds", help="documents the QA set was written from, indexed first (default: %(default)s)")
    p.add_argument("--thresholds", default="eval/thresholds.toml", help="gate thresholds (default: %(default)s)")
    p.add_argument("--out", default="out/eval", help="output folder (default: %(default)s)")
    p.add_argument("-k", type=int, help="passages per question (default 5)")
    p.add_argument("--no-gate", dest="gate", action="store_false", help="report only; exit 0 even below thresholds")
    common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..evaluation.evaluate import check_thresholds, evaluate, load_qa, load_thresholds
    from ..evaluation.report import markdown_table, write_outputs
    from ..pipeline import Rag

    items = load_qa(args.qa)
    rag = Rag(settings_from(args))
    report = rag.index([args.corpus], prune=False)
    print(f"index {args.index}: {report.summary()}", file=sys.stderr)
    thresholds = load_thresholds(args.thresholds) if Path(args.thresholds).exists() else {}
    runs, failures = [], {}
    for spec in args.llm or ["extractive"]:
        print(f"evaluating {spec} on {len(items)} questions...", file=sys.stderr)
        result = evaluate(rag, items, spec)
        runs.append(result)
        failures[spec] = check_thresholds(result["summary"], thresholds)
    print(markdown_table(runs))
    command = "rag eval " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["eval"] else "rag eval"
    paths = write_outputs(runs, Path(args.out), command, failures)
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    failed = {spec: f for spec, f in failures.items() if f}
    for spec, problems in failed.items():
        for problem in problems:
            print(f"gate failed for {spec}: {problem}", file=sys.stderr)
    return 1 if failed and args.gate else 0
