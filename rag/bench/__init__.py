"""Benchmarks behind `rag bench NAME`: one module per benchmark, each with `add_parser(subparsers)`.

They measure the public API (`Rag`, `Settings`, `Document`) and never reach into the index.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def write_results(out: Path, result: dict, table: str, log: Callable[[str], None]) -> None:
    """results.json (every number) and results.md (the table) under `out`; the table is printed."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "results.md").write_text(table)
    print(table)
    log(f"wrote {out / 'results.json'} and {out / 'results.md'}")
