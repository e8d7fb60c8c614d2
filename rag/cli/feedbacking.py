"""`rag feedback`: list the ratings the chat stored beside the index, or export them as QA items."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import common, printable


def add_parser(sub) -> None:
    p = sub.add_parser("feedback", help="list or export the 👍/👎 feedback given in the chat")
    p.add_argument("action", choices=["list", "export"], help="list: one line per rating; export: QA items (JSON lines) for rag eval")
    p.add_argument("-o", "--out", help="write the export to this file (default: standard output)")
    common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..evaluation.feedback import FeedbackStore, export

    store = FeedbackStore(args.index)
    if args.action == "list":
        rows = store.all()
        for f in rows:
            extra = "".join(f"  {label}: {text}" for label, text in (("right answer", f.correct), ("note", f.note)) if text)
            print(printable(f"#{f.id} {f.created} {'👍' if f.rating == 'up' else '👎'} {f.user or '-'} [{f.answerer}] "
                            f"{f.question}{extra}"))
        if not rows:
            print(f"no feedback stored in {store.path}")
        return 0
    items, skipped = export(store)
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    where = f" to {args.out}" if args.out else ""
    print(f"exported {len(items)} QA item{'s' * (len(items) != 1)}{where}; {skipped} rating{'s' * (skipped != 1)} "
          "left out (a 👎 with no right answer typed, or a 👍 with no verified quote)", file=sys.stderr)
    return 0
