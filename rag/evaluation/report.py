"""Write an evaluation run as JSON, a Markdown report and a PNG chart of metrics by question type."""

from __future__ import annotations

import json
from pathlib import Path

from .evaluate import METRICS

LABELS = {
    "hit_at_k": "retrieval hit@k",
    "mrr": "retrieval MRR",
    "fact_recall": "answer fact recall",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "quote_validity": "quote validity",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "answerable_abstained": "answerable questions abstained",
    "latency_p50": "latency p50 (s)",
    "latency_p95": "latency p95 (s)",
}


def markdown_table(runs: list[dict]) -> str:
    header = "| metric | " + " | ".join(f"`{r['spec']}`" for r in runs) + " |"
    lines = [header, "|---|" + "---:|" * len(runs)]
    for name in METRICS:
        cells = [_fmt(r["summary"].get(name)) for r in runs]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(runs: list[dict], out_dir: Path, command: str, failures: dict[str, list[str]]) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "report.md", "chart": out_dir / "metrics_by_type.png"}
    paths["json"].write_text(json.dumps({"command": command, "runs": runs, "gate_failures": failures}, indent=2, ensure_ascii=False))
    parts = [f"# Evaluation report\n\nCommand: `{command}`\n", markdown_table(runs), ""]
    for run in runs:
        parts.append(f"\n## `{run['spec']}` by question type\n")
        parts.append("| type | n | hit@k | fact recall | abstention recall |\n|---|---:|---:|---:|---:|")
        for kind, row in run["by_type"].items():
            parts.append(
                f"| {kind} | {row['n']} | {_fmt(row.get('hit_at_k'))} | {_fmt(row.get('fact_recall'))} | {_fmt(row.get('abstention_recall'))} |"
            )
        misses = [q for q in run["questions"] if _missed(q)]
        if misses:
            parts.append(f"\n### `{run['spec']}`: questions that missed\n")
            parts.append("| id | type | what went wrong | answer |\n|---|---|---|---|")
            for q in misses:
                parts.append(f"| {q['id']} | {q['type']} | {_why(q)} | {_cell(q['answer'])} |")
        gate = failures.get(run["spec"], [])
        parts.append("\n**Gate:** " + ("passed" if not gate else "FAILED: " + "; ".join(gate)))
    paths["markdown"].write_text("\n".join(parts) + "\n")
    chart(runs, paths["chart"])
    return paths


def chart(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({k for r in runs for k in r["by_type"]})
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=120)
    width = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        values = []
        for kind in kinds:
            row = run["by_type"].get(kind, {})
            values.append(row.get("fact_recall", row.get("abstention_recall", 0.0)) or 0.0)
        xs = [x + i * width - 0.4 + width / 2 for x in range(len(kinds))]
        bars = ax.bar(xs, values, width, label=run["spec"])
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(range(len(kinds)), [f"{k}\n({'abstention' if k == 'unanswerable' else 'fact'} recall)" for k in kinds], fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("score")
    ax.set_title("Answer quality by question type")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _missed(q: dict) -> bool:
    if not q["answerable"]:
        return not q["abstained"]
    return q["abstained"] or q["fact_recall"] < 1.0 or q["quotes_valid"] < q["quotes"]


def _why(q: dict) -> str:
    if not q["answerable"]:
        return "answered an unanswerable question"
    if q["abstained"]:
        return "abstained" + ("" if q["hit"] else " (evidence not retrieved)")
    reasons = []
    if q["facts_missing"]:
        reasons.append("missing " + ", ".join(q["facts_missing"]))
    if not q["hit"]:
        reasons.append("evidence not retrieved")
    if q["quotes_valid"] < q["quotes"]:
        reasons.append("INVALID QUOTE")
    return "; ".join(reasons)


def _cell(text: str, n: int = 120) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= n else text[: n - 1] + "…"


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
