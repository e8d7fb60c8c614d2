"""`rag search`: ranked passages with source, offsets and scores."""

from __future__ import annotations

import json

from . import add_filter, common, named, no_match, printable, settings_from


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="show the passages retrieved for a query")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="number of passages, 1 to 100 (default 5)")
    p.add_argument("--retrieval", choices=["hybrid", "dense", "bm25"], help="retrieval method (default hybrid)")
    p.add_argument("--reranker", help="cross-encoder model name or path to rerank with")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_filter(p)
    common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..pipeline import Rag
    from ..types import hit_to_dict

    hits = Rag(settings_from(args)).search(args.query, k=args.k, filters=args.filters)
    if args.json:
        print(json.dumps([hit_to_dict(h) for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print(no_match(args.filters) if args.filters else "no passages found")
    for hit in hits:
        c = hit.chunk
        ranks = ", ".join(f"{k.removesuffix('_rank')} #{v}" for k, v in hit.scores.items() if k.endswith("_rank"))
        page = f" p. {c.page}" if c.page else ""
        ocr = f"  OCR, confidence {c.ocr_confidence:.2f}" if c.ocr and c.ocr_confidence is not None else ""
        print(printable(f"[{hit.rank}] {named(c.source, c.title)}{page} chars {c.start}-{c.end}  score {hit.score:.4f}  ({ranks}){ocr}"))
        if c.heading:
            print(printable(f"under: {' / '.join(c.heading.splitlines())}"))
        print(printable(c.text))  # verbatim (less control characters): the source text at these offsets
        print()
    return 0
