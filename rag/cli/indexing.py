"""`rag index`, `rag docs`, `rag remove`."""

from __future__ import annotations

import json
import sys

from . import EXIT_SKIPPED, common, named, printable, settings_from


def add_parser(sub) -> None:
    p = sub.add_parser("index", help="index files and folders (default: seeds/)")
    p.add_argument("paths", nargs="*", default=["seeds"], help="files or folders (default: seeds)")
    common(p)
    p.add_argument("--chunk-tokens", dest="chunk_tokens", type=int, help="chunk size in tokens (default 200)")
    p.add_argument("--chunk-overlap", dest="chunk_overlap", type=int, help="overlap in tokens (default 40)")
    p.add_argument("--faiss-index", dest="faiss_index", choices=["auto", "flat", "hnsw", "ivfpq"],
                   help="FAISS search structure (default auto: exact below 100,000 chunks, IVF-PQ from there)")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything (e.g. after changing --model)")
    p.add_argument("--no-prune", dest="prune", action="store_false", help="keep indexed documents that are no longer found")
    p.add_argument("--follow-links", dest="follow_links", action="store_true", default=None,
                   help="follow symbolic links out of the folders given (default: skip them, each listed)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="metadata for every document of this run (repeatable): text, a number or a date (YYYY-MM-DD)")
    p.set_defaults(run=run_index)

    d = sub.add_parser("docs", help="list the indexed documents, with their titles (--meta: and all metadata)")
    d.add_argument("--meta", action="store_true", help="show each document's metadata (what --filter can match)")
    d.add_argument("--json", action="store_true", help="print JSON: source, chunks, metadata")
    common(d)
    d.set_defaults(run=run_docs)

    r = sub.add_parser("remove", help="remove documents from the index")
    r.add_argument("sources", nargs="+", help="document sources as `rag docs` lists them")
    common(r)
    r.set_defaults(run=run_remove)


def run_index(args) -> int:
    from ..ingest.metadata import parse_pairs
    from ..pipeline import Rag

    metadata = parse_pairs(args.meta)
    rag = Rag(settings_from(args))
    report = rag.index(args.paths, rebuild=args.rebuild, prune=args.prune, progress=sys.stderr.isatty() or not args.json,
                       metadata=metadata)
    for skipped in report.skipped:
        print(printable(str(skipped)), file=sys.stderr)  # a file's name may hold escapes too
    if args.json:
        print(json.dumps({
            "documents": report.documents, "chunks": report.chunks, "new": report.new, "changed": report.changed,
            "removed": report.removed, "unchanged": report.unchanged, "embedded": report.embedded,
            "reused": report.reused, "truncated": report.truncated, "seconds": round(report.seconds, 3),
            "skipped": [{"source": s.source, "reason": s.reason} for s in report.skipped],
        }))
    else:
        print(f"{_where(args)}: {report.summary()}; vectors by {rag.embedder.runs_in}")
    return EXIT_SKIPPED if report.skipped else 0


def _where(args) -> str:
    """The index a report is about: the folder, or the database (without its password)."""
    if args.store == "pgvector" and args.store_url:
        from ..store.pgstore import display_url

        return display_url(args.store_url)
    return args.index


def run_docs(args) -> int:
    from ..pipeline import Rag

    rag = Rag(settings_from(args))
    rows = rag.documents()
    metadata = rag.metadata()
    if args.json:
        out = [{"source": s, "chunks": n, "metadata": jsonable(metadata.get(s, {}))} for s, n in rows]
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    for source, n in rows:
        meta = metadata.get(source, {})
        print(printable(f"{n:5d} chunks  {named(source, str(meta.get('title') or ''))}"))
        if args.meta and meta:
            print(printable("             " + "; ".join(f"{k}={v}" for k, v in meta.items())))
    print(f"{len(rows)} documents")
    return 0


def jsonable(metadata: dict) -> dict:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in metadata.items()}


def run_remove(args) -> int:
    from ..pipeline import Rag

    report = Rag(settings_from(args)).remove(args.sources)
    print(f"{_where(args)}: {report.summary()}")
    return 0
