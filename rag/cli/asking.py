"""`rag ask`: one question, or a batch of them (JSON lines in, JSON lines out)."""

from __future__ import annotations

import json
import sys
import textwrap

from . import common, settings_from


def add_parser(sub) -> None:
    p = sub.add_parser("ask", help="answer a question with verified quotes, or say the documents do not hold it")
    p.add_argument("question", nargs="?", help="the question (omit with --batch)")
    p.add_argument("--llm", help="answerer: extractive (default), extractive:strict (declines more near misses), openai:MODEL, ollama:MODEL or gguf:PATH")
    p.add_argument("-k", type=int, help="passages to retrieve (default 5)")
    p.add_argument("--retrieval", choices=["hybrid", "dense", "bm25"], help="retrieval method (default hybrid)")
    p.add_argument("--batch", metavar="FILE", help="JSON lines with a `question` field ('-' for stdin); writes one JSON answer per line")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-stream", dest="stream", action="store_false", help="do not show an LLM's draft on the terminal while it is written")
    common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..errors import ConfigError
    from ..pipeline import Rag

    settings = settings_from(args, **({"answerer": args.llm} if args.llm else {}))
    rag = Rag(settings)
    if args.batch:
        return run_batch(rag, args)
    if not args.question:
        raise ConfigError("give a question, e.g. rag ask \"which countries have extradition treaties with Malaysia?\", or --batch FILE")
    if args.json:
        print(json.dumps(rag.ask(args.question, k=args.k).to_dict(), ensure_ascii=False, indent=2))
        return 0
    # An LLM's tokens stream to the terminal as a draft, on stderr, so that only verified text ever
    # reaches stdout; the draft is withdrawn in so many words when verification rejects it.
    draft = args.stream and sys.stderr.isatty() and not rag.answerer().name.startswith("extractive")
    answer, streamed = None, False
    for event in rag.ask_stream(args.question, k=args.k):
        if event["type"] == "token" and draft:
            if not streamed:
                print("draft (not yet checked against the documents):", file=sys.stderr)
            print(event["text"], end="", file=sys.stderr, flush=True)
            streamed = True
        elif event["type"] == "answer":
            answer = event["answer"]
    if streamed:
        verdict = "withdrawn: the documents do not support it" if answer.abstained else "checked; the answer follows"
        print(f"\n(draft {verdict})\n", file=sys.stderr)
    print_answer(answer)
    return 0


def print_answer(answer) -> None:
    if answer.query != answer.question:
        print(f"(searched for: {answer.query})")
    if answer.abstained:
        print(answer.text)
        if answer.passages:
            print("\nNearest passages:")
            for hit in answer.passages[:3]:
                c = hit.chunk
                print(f"  [{hit.rank}] {c.source} chars {c.start}-{c.end}: {textwrap.shorten(c.text, 160)}")
        return
    print(answer.text)
    print("\nSources:")
    for c in answer.citations:
        mark = "verified" if c.verified else "NOT verified"
        page = f" p.{c.page}" if c.page else ""
        print(f"  [{c.marker}] {c.source}{page} chars {c.start}-{c.end} ({mark})")
        if c.quote:
            print(textwrap.indent(f"“{c.quote}”", "      "))
    for issue in answer.issues:
        print(f"  ! {issue}")


def run_batch(rag, args) -> int:
    from ..errors import ConfigError

    handle = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")
    with handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                question = item["question"]
            except (ValueError, KeyError, TypeError) as err:
                raise ConfigError(f"{args.batch} line {lineno}: expected a JSON object with a \"question\" field") from err
            answer = rag.ask(question, history=[tuple(t) for t in item.get("history", [])], k=args.k)
            out = answer.to_dict()
            if "id" in item:
                out = {"id": item["id"], **out}
            print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0
