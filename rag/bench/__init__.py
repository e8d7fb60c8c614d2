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


def answerer_table(title: str, result: dict, rows: tuple[tuple[str, str], ...]) -> str:
    """A Markdown table of each answerer's figures (`result["answerers"]`), a row per (key, label),
    under a title and above the command that printed it."""
    specs = list(result["answerers"])
    lines = [title, "", "| metric | " + " | ".join(f"`{s}`" for s in specs) + " |", "|---|" + "---:|" * len(specs)]
    for key, label in rows:
        cells = [result["answerers"][s].get(key) for s in specs]
        lines.append(f"| {label} | " + " | ".join(_cell(v) for v in cells) + " |")
    if result.get("command"):
        lines += ["", f"Command: `{result['command']}`"]
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return value if isinstance(value, str) else f"{value:g}"
