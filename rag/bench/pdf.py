"""`rag bench pdf`: how well the loader reads PDFs from each producer (rag.bench.producers).

Every producer installed here writes its documents into a temporary folder (or `--out`); each is
read back through `rag.ingest.documents.load_file` and scored against the text it was made from: word
error rate (word-level edit distance over the known text's words), whether every block (title,
paragraph, table row) comes in reading order, and the seconds the load took (not the writing).
A producer that is not installed is listed with the command that installs it. `--styles` adds the
Chromium minutes set in other styles (rag.bench.producers.STYLES).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ..verify.align import edit_distance
from . import producers
from .producers import Made, Unavailable

QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def words(text: str) -> list[str]:
    """`text` as words: split at whitespace, typographic quotes as plain ones (a typesetter's
    right quote for an apostrophe is no error); nothing else is normalised."""
    return text.translate(QUOTES).split()


def wer(got: str, want: str) -> tuple[int, int]:
    """(word edits, words) of `got` against `want`: the Levenshtein distance over words."""
    vocabulary: dict[str, str] = {}

    def coded(ws: list[str]) -> str:  # one character per distinct word, so the character distance counts words
        return "".join(vocabulary.setdefault(w, chr(0x10000 + len(vocabulary))) for w in ws)

    want_words = words(want)
    return edit_distance(coded(words(got)), coded(want_words)), len(want_words)


def in_order(got: str, blocks: tuple[str, ...], lead: int = 4) -> bool:
    """Whether each block's first `lead` words stand in `got` after the previous block's."""
    hay = words(got)
    at = 0
    for block in blocks:
        needle = words(block)[:lead]
        found = next((i for i in range(at, len(hay) - len(needle) + 1) if hay[i : i + len(needle)] == needle), None)
        if found is None:
            return False
        at = found + len(needle)
    return True


COLUMNS = "| producer | pages | words | WER | reading order ok | seconds |\n|---|---:|---:|---:|---|---:|\n"


def score(made: Made, folder: Path) -> dict:
    """One document written to `folder`, loaded and scored."""
    import pypdfium2 as pdfium

    from ..ingest.documents import load_file

    path = folder / f"{made.producer}.pdf"
    path.write_bytes(made.data)
    started = time.perf_counter()
    text = load_file(path).text
    seconds = time.perf_counter() - started
    document = pdfium.PdfDocument(made.data)
    pages = len(document)
    document.close()
    edits, words = wer(text, made.text)
    return {"producer": made.producer, "pages": pages, "words": words, "errors": edits, "wer": edits / words,
            "in_order": in_order(text, made.blocks), "seconds": seconds}


def row(result: dict) -> str:
    return (f"| {result['producer']} | {result['pages']} | {result['words']} | {result['wer']:.2%} | "
            f"{'yes' if result['in_order'] else 'no'} | {result['seconds']:.2f} |\n")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("pdf", help="word error rate of PDFs from Chromium, fpdf2, Ghostscript, groff, LibreOffice")
    p.add_argument("--out", help="keep the generated PDFs here; default: a temporary folder")
    p.add_argument("--styles", action="store_true", help="also the Chromium minutes in 14 other styles (letter spacing, italics, 6 pt, ...)")
    p.set_defaults(run=run)


def run(args) -> int:
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="rag-bench-pdf-") as scratch:
        folder = Path(args.out or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        runs = dict(producers.PRODUCERS)
        if args.styles:
            runs["chromium-styles"] = producers.chromium_styles
        for name, produce in runs.items():
            try:
                made = produce()
            except Unavailable as err:
                skipped.append(f"{name}: {err}")
                continue
            results += [score(m, folder) for m in made]
    table = COLUMNS + "".join(row(r) for r in results)
    print(table, end="")
    words = sum(r["words"] for r in results)
    errors = sum(r["errors"] for r in results)
    if words:
        print(f"\nall: {errors} word errors in {words} words ({errors / words:.2%})")
    for line in skipped:
        print(f"skipped {line}")
    return 0
