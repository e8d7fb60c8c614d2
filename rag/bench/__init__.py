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


def at_bar(rows: list[dict], bar: float, answerable: str = "answerable", right: float = 0.5) -> dict:
    """What the reader's fitted short-answer bar would show of the spans scored (the benchmarks
    read with every span shown): the share of answerable questions with a short answer at or
    above the bar, and the share of those right (F1 >= `right`)."""
    asked = [r for r in rows if r.get(answerable)]
    shown = [r for r in asked if r.get("short") and (r.get("short_confidence", r.get("confidence")) or 0.0) >= bar]
    return {"bar": bar, "bar_shown": round(len(shown) / len(asked), 4) if asked else None,
            "bar_precision": round(sum(r["f1"] >= right for r in shown) / len(shown), 4) if shown else None}


def judged_at(rows: list[dict], threshold: float | None) -> list[dict]:
    """The rows as the answer judge (rag.answer.judge) at `threshold` leaves them (the benchmarks
    read with every answer kept and its probability recorded as `judged`): an answer below it is
    a decline, with no short answer, no gold and no conflict. As they are when `threshold` is None."""
    if threshold is None:
        return rows
    out = []
    for r in rows:
        if r.get("judged") is not None and r["judged"] < threshold and not r["abstained"]:
            r = {**r, "abstained": True, "short": None, "short_confidence": None, "gold_in_answer": False, "words": 0,
                 "em": None if r.get("em") is None else 0.0, "f1": None if r.get("f1") is None else 0.0,
                 "conflict_claimed": False, "both_values": False}
        out.append(r)
    return out


def judge_threshold(choice: str) -> float | None:
    """The fitted threshold of the judge a benchmark's --judge names (None: off)."""
    from ..answer.judge import JUDGE_PARAMS, AnswerJudge
    from ..answer.reader import ReaderFiles

    if choice == "off":
        return None
    return AnswerJudge(ReaderFiles.mpnet(JUDGE_PARAMS if choice == "on" else Path(choice))).threshold


def add_judge_argument(p) -> None:
    p.add_argument("--judge", default="off", help="the answer judge: off (default, as answering), on (the fitted one) or a "
                                                 "parameter file of `rag fit-judge`; answers are read with every one kept and "
                                                 "scored at its threshold, beside the figures without it")


BAR_ROWS = (
    ("bar", "short-answer bar fitted in the reader's card (sureness)"),
    ("bar_shown", "answerable questions whose short answer the bar shows"),
    ("bar_precision", "of those, right (F1 >= 0.5)"),
)


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
