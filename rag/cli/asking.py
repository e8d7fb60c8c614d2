"""`rag ask`: one question, or a batch of them (JSON lines in, JSON lines out)."""

from __future__ import annotations

import json
import sys
import textwrap

from . import EXIT_SKIPPED, add_filter, common, named, no_match, printable, printable_span, settings_from


def add_parser(sub) -> None:
    p = sub.add_parser("ask", help="answer a question with verified quotes, or say the documents do not hold it")
    p.add_argument("question", nargs="?", help="the question (omit with --batch)")
    p.add_argument("--llm", help="answerer: extractive (default), extractive:strict (declines more near misses), openai:MODEL, ollama:MODEL or gguf:PATH")
    p.add_argument("-k", type=int, help="passages to retrieve, 1 to 100 (default 5)")
    p.add_argument("--retrieval", choices=["hybrid", "dense", "bm25"], help="retrieval method (default hybrid)")
    p.add_argument("--batch", metavar="FILE", help="JSON lines with a `question` field ('-' for stdin); writes one JSON line per input line "
                   "(blank ones too), an answer or an error, each with its \"line\" number; exit code 3 when any line failed")
    p.add_argument("--json", action="store_true", help="print JSON (a PDF citation has its page and its quote's boxes on it)")
    p.add_argument("--no-stream", dest="stream", action="store_false", help="do not show an LLM's draft on the terminal while it is written")
    add_filter(p)
    common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..errors import ConfigError
    from ..pipeline import Rag
    from ..types import AnswerEvent, TokenEvent

    settings = settings_from(args, **({"answerer": args.llm} if args.llm else {}))
    rag = Rag(settings)
    if args.batch:
        return run_batch(rag, args)
    if not args.question:
        raise ConfigError("give a question, e.g. rag ask \"which countries have extradition treaties with Malaysia?\", or --batch FILE")
    if args.json:
        print(json.dumps(rag.with_boxes(rag.ask(args.question, k=args.k, filters=args.filters)).to_dict(), ensure_ascii=False, indent=2))
        return 0
    # An LLM's tokens stream to the terminal as a draft, on stderr, so that only verified text ever
    # reaches stdout; the draft is withdrawn in so many words when verification rejects it.
    draft = args.stream and sys.stderr.isatty() and not rag.answerer().name.startswith("extractive")
    answer, streamed = None, False
    for event in rag.ask_stream(args.question, k=args.k, filters=args.filters):
        if isinstance(event, TokenEvent) and draft:
            if not streamed:
                print("draft (not yet checked against the documents):", file=sys.stderr)
            print(printable(event.text), end="", file=sys.stderr, flush=True)
            streamed = True
        elif isinstance(event, AnswerEvent):
            answer = event.answer
    if answer is None:  # pragma: no cover - the stream always ends with its answer
        raise AssertionError("the answer stream ended without an answer")
    if streamed:
        verdict = "withdrawn: the documents do not support it" if answer.abstained else "checked; the answer follows"
        if answer.withheld and not answer.abstained:
            verdict = "checked; only what the documents support follows"
        print(f"\n(draft {verdict})\n", file=sys.stderr)
    if args.filters and not answer.passages:
        print(no_match(args.filters))
    print_answer(answer)
    return 0


def print_answer(answer) -> None:
    from ..answer.flow import unmentioned_note

    if answer.query != answer.question:
        print(printable(f"(searched for: {answer.query})"))
    if answer.abstained:
        print(printable(answer.text))
        if answer.reason:
            print(printable(f"Why: {answer.reason}."))
        if answer.passages:
            print("\nNearest passages:")
            for hit in answer.passages[:3]:
                c = hit.chunk
                print(printable(f"  [{hit.rank}] {named(c.source, c.title)} chars {c.start}-{c.end}: {textwrap.shorten(c.text, 160)}"))
    else:
        if answer.short_answer:
            short = answer.short_answer
            print(f"Answer: {in_passage(answer, short.source, short.start, short.end, short.text)}\n")
        if answer.conflict_values:
            print(printable("Answer: " + " · ".join(f"{v.text} {''.join(f'[{m}]' for m in v.markers)}" for v in answer.conflict_values)) + "\n")
        if answer.conflict:
            print("The documents disagree; each source is quoted:")
        if answer.unmentioned:
            print(printable(f"Note: {unmentioned_note(answer.unmentioned)}"))
        print(printable(answer.text))
        print("\nSources:")
        titles = {h.chunk.source: h.chunk.title for h in answer.passages}
        for c in answer.citations:
            page = f" p. {c.page}" if c.page else ""
            ocr = next((h.chunk for h in answer.passages if h.chunk.source == c.source and h.chunk.ocr
                        and h.chunk.start < c.end and c.start < h.chunk.end), None)
            read = f", read by OCR, confidence {ocr.ocr_confidence:.2f}" if ocr and ocr.ocr_confidence is not None else ""
            print(printable(f"  [{c.marker}] {named(c.source, titles.get(c.source, ''))}{page} chars {c.start}-{c.end} (verified{read})"))
            print(textwrap.indent(f"“{in_passage(answer, c.source, c.start, c.end, c.quote)}”", "      "))
    if answer.withheld:
        # why, not what: stdout carries no unverified text (--json lists it under "withheld")
        print(f"\nWithheld, not supported by the documents ({len(answer.withheld)} sentences; --json shows them):")
        for n, claim in enumerate(answer.withheld, start=1):
            print(printable(f"  ✗ {n}: {'; '.join(p.split(': “')[0] for p in claim.problems)}"))


def in_passage(answer, source: str, start: int, end: int, text: str) -> str:
    """Document text [start, end) for the terminal, cleaned within a retrieved passage that holds it,
    so that an escape sequence the span starts inside leaves nothing behind (`printable_span`)."""
    for hit in answer.passages:
        c = hit.chunk
        if c.source == source and c.start <= start and end <= c.end and len(c.text) == c.end - c.start:
            return printable_span(c.text, c.start, start, end)
    return printable(text)


NOT_A_QUESTION = 'not a JSON object with a "question" field (text)'


def run_batch(rag, args) -> int:
    """One output line per input line, in order, blank lines included: {"line": n, ...the answer} or
    {"line": n, "error": ...}, so that every record names the input line it answers."""
    from ..errors import ConfigError, RagError

    try:
        # closed by the `with handle:` below, which serves stdin too
        handle = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
    except OSError as err:
        raise ConfigError(f"cannot read the batch file {args.batch} ({err.strerror}); give a JSON-lines file or - for stdin") from err
    failed = 0
    with handle:
        for lineno, line in enumerate(handle, start=1):
            try:
                out = {"line": lineno, **_answer_line(rag, line, args.k, args.filters)}
            except (ConfigError, ValueError) as err:
                out = {"line": lineno, "error": str(err) if isinstance(err, ConfigError) else NOT_A_QUESTION}
            except RagError as err:  # the answerer or the store failed for this line; the others may not
                out = {"line": lineno, "error": str(err)}
            failed += "error" in out
            print(json.dumps(out, ensure_ascii=False), flush=True)
    if failed:
        print(f"{failed} batch line(s) failed; each has an {{\"line\": N, \"error\": ...}} record", file=sys.stderr)
    return EXIT_SKIPPED if failed else 0


def _answer_line(rag, line: str, k: int | None, filters: list[str]) -> dict:
    from ..errors import ConfigError
    from ..settings import check_history

    if not line.strip():
        raise ConfigError(f"blank line: {NOT_A_QUESTION}")
    item = json.loads(line)
    if not isinstance(item, dict) or not isinstance(item.get("question"), str):
        raise ValueError("no question")  # noqa: TRY004 - bad input data, reported per line, not a caller's bug
    out = rag.with_boxes(rag.ask(item["question"], history=check_history(item.get("history")), k=k, filters=filters)).to_dict()
    return {"id": item["id"], **out} if "id" in item else out
