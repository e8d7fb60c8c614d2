"""`rag` command line: a thin layer over the Python API. Each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from ..errors import RagError
from ..settings import DEFAULT_EMBEDDING_MODEL, DEFAULT_INDEX

# name -> module; each module has add_parser(subparsers) and run(args) -> int
COMMANDS = {
    "index": "rag.cli.indexing",
    "docs": "rag.cli.indexing",
    "remove": "rag.cli.indexing",
    "search": "rag.cli.searching",
    "ask": "rag.cli.asking",
    "eval": "rag.cli.evaluating",
    "feedback": "rag.cli.feedbacking",
    "serve": "rag.cli.serving",
    "mcp": "rag.cli.mcp",
    "bench": "rag.cli.benching",
    "fit-reader": "rag.cli.fitting",
    "fit-relevance": "rag.cli.fitting",
    "fit-judge": "rag.cli.fitting",
    "fit-judge-threshold": "rag.cli.fitting",
    "fit-short-answer": "rag.cli.fitting",
}

EXIT_SKIPPED = 3  # the run finished but some input files (or batch lines) were skipped
# Whole ANSI escape sequences, and C0 and C1 control characters other than tab and newline: document
# text printed to a terminal must not move the cursor, retitle the window or hide what follows
CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing the screen
    r"|\x1b[]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, SOS, PM and APC strings: a window title...
    r"|\x1b[ -/]*[0-~]"  # any other escape sequence (ESC c resets the terminal)
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def printable(text: str) -> str:
    """Document text made safe for a terminal: control characters and escape sequences removed."""
    return CONTROL.sub("", text)


def printable_span(context: str, offset: int, start: int, end: int) -> str:
    """`printable` of the text [start, end) that stands in `context` (which starts at `offset`), judged
    in that context: a span cut from inside an escape sequence (a short answer that starts at the
    "31m" of ESC[31m) loses the rest of it too, instead of showing it as text."""
    lo, hi = start - offset, end - offset
    kept, at = [], lo
    for match in CONTROL.finditer(context):
        if match.start() >= hi:
            break
        if match.end() > at:
            kept.append(context[at : max(at, match.start())])
            at = match.end()
    return "".join(kept) + context[at:hi]


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default=os.environ.get("RAG_INDEX", DEFAULT_INDEX), help="index folder (default: %(default)s)")
    parser.add_argument("--model", default=os.environ.get("RAG_EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL), help="sentence-transformers model name or path (default: %(default)s)")
    parser.add_argument("--store", default=os.environ.get("RAG_STORE", "faiss"), help="vector store: faiss (default) or pgvector")
    parser.add_argument("--store-url", default=os.environ.get("RAG_STORE_URL"), help="database URL for server-backed stores")
    parser.add_argument("--embedding-backend", dest="embedding_backend", choices=["openvino", "torch"],
                        default=os.environ.get("RAG_EMBEDDING_BACKEND"),
                        help="run the embedding model with OpenVINO (default) or torch")
    parser.add_argument("--embedding-precision", dest="embedding_precision", choices=["auto", "bf16", "int8", "f32"],
                        default=os.environ.get("RAG_EMBEDDING_PRECISION"),
                        help="OpenVINO's precision: auto (default: bf16 with AMX or AVX512-BF16, int8 with VNNI, else f32), "
                             "or bf16, int8, f32")
    parser.add_argument("--reader", default=os.environ.get("RAG_READER"),
                        help="the extractive answerer's span reader: auto (default: mpnet when its fitted layers ship), "
                             "mpnet, minilm (faster), or a parameter file of `rag fit-reader`")
    # a string default goes through `type` too: a bad RAG_SHORT_ANSWER_BAR is argparse's one-line error
    parser.add_argument("--short-answer-bar", dest="short_answer_bar", type=float, default=os.environ.get("RAG_SHORT_ANSWER_BAR"),
                        help="the sureness a bold short answer needs (default: the bar fitted in the reader's card; "
                             "0 shows every span the reader finds)")
    parser.add_argument("--judge", default=os.environ.get("RAG_JUDGE"),
                        help="the answer judge every answer's quotes go through: off (default), on (the fitted one: declines "
                             "near misses, and some right answers: docs/judge.md), or a parameter file of `rag fit-judge`")
    parser.add_argument("--judge-threshold", dest="judge_threshold", type=float, default=os.environ.get("RAG_JUDGE_THRESHOLD"),
                        help="the judge's probability an answer needs (default: the judge's fitted threshold; 0 keeps every answer)")
    parser.add_argument("--context-tokens", dest="context_tokens", type=int,
                        help="an LLM's prompt budget for passages, in tokens (default 1500; less is faster on a CPU)")
    parser.add_argument("--embed-with", dest="embed_with", choices=["local", "ray"], default=os.environ.get("RAG_EMBED_WITH"), help="embed locally (default) or with Ray Data; RAY_ADDRESS names a cluster")


def add_filter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--filter", dest="filters", action="append", default=[], metavar="COND",
                        help="only documents whose metadata matches (repeatable; all must hold): key=value, "
                             "'key in a, b', key>=2025-06-01 (> >= < <= on dates and numbers), source=folder/*")


def no_match(filters: list[str]) -> str:
    """What to print when the filters keep no document."""
    return f"no indexed document matches --filter {' --filter '.join(repr(f) for f in filters)} (`rag docs` lists each one's metadata)"


def named(source: str, title: str) -> str:
    """A document as the terminal shows it: its file name, then its title where it has one."""
    return f"{source} ({title})" if title else source


def settings_from(args: argparse.Namespace, **extra):
    from ..settings import Settings

    values = {"index_path": args.index, "embedding_model": args.model, "store": args.store, "store_url": args.store_url}
    for name in ("k", "retrieval", "reranker", "chunk_tokens", "chunk_overlap", "faiss_index", "embed_with",
                 "embedding_backend", "embedding_precision", "reader", "short_answer_bar", "judge", "judge_threshold", "context_tokens", "follow_links"):
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    values.update(extra)
    return Settings(**values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Question answering over your documents, with verified quotes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    seen = set()
    for module in COMMANDS.values():
        if module in seen:
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        seen.add(module)
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except RagError as err:
        print(printable(f"error: {err}"), file=sys.stderr)  # it may name a file or quote a value
        return 1
    except KeyboardInterrupt:
        print("interrupted; the index on disk is unchanged unless the run finished", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rag ask ... | head`: the reader of stdout left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit must not fail again
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
