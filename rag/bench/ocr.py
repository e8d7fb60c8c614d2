"""`rag bench ocr`: character error rate and speed of reading the generated corpus (rag.bench.scans).

The seed articles and the table document are written as 200-dpi scans and read back through the
loader (rag.ingest.pdf: render, Tesseract, layout); the character error rate is the edit distance to the
text set on the pages over that text's length, after collapsing whitespace. Pages per minute count
the whole load (render, OCR, layout) with pages OCR'd in parallel on every core. The text PDFs with
running headers, footers and two columns are read too: their error rate measures the layout alone.
`--rapidocr` reads the same page images with RapidOCR (when installed) for the engine comparison
in docs/documents.md.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from ..verify.align import edit_distance
from .scans import Generated, write_corpus


def normalized(text: str) -> str:
    return " ".join(text.split())


def cer(got: str, want: str) -> tuple[int, int]:
    """(edits, characters) of `got` against `want`, whitespace collapsed."""
    want = normalized(want)
    return edit_distance(normalized(got), want), len(want)


def expected(generated: Generated) -> str:
    return "\n\n".join(page.text for page in generated.pages)


def read_corpus(folder: Path, made: dict[str, Generated], log=print) -> dict:
    """Load every generated PDF in `folder`; per-document and total error rates, and the time."""
    from ..ingest.documents import load_file

    edits = chars = pages = 0
    per_doc = {}
    started = time.perf_counter()
    for stem, generated in made.items():
        doc = load_file(folder / f"{stem}.pdf")
        e, n = cer(doc.text, expected(generated))
        edits, chars, pages = edits + e, chars + n, pages + len(generated.pages)
        per_doc[stem] = round(e / n, 4)
        log(f"  {stem}: {len(generated.pages)} pages, CER {e / n:.2%}")
    seconds = time.perf_counter() - started
    return {"cer": round(edits / chars, 4), "pages": pages, "seconds": round(seconds, 2),
            "pages_per_minute": round(pages / seconds * 60, 1), "documents": per_doc}


def read_rapidocr(folder: Path, made: dict[str, Generated], threads: int) -> dict:
    """The same scans read with RapidOCR (its ONNX models, `threads` threads) through the same layout."""
    import pypdfium2 as pdfium
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as err:
        from ..errors import MissingDependencyError

        raise MissingDependencyError("rapidocr-onnxruntime (only for --rapidocr)", "pip install rapidocr-onnxruntime") from err

    from ..ingest.layout import page_text, reading_order
    from ..ingest.ocr import OCR_DPI, OcrLine

    engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
    edits = chars = pages = 0
    started = time.perf_counter()
    for stem, generated in made.items():
        document = pdfium.PdfDocument(folder / f"{stem}.pdf")
        texts = []
        for page in document:
            image = page.render(scale=OCR_DPI / 72, grayscale=True).to_pil()
            found, _ = engine(np.asarray(image))
            lines = [OcrLine(text, (min(p[0] for p in box), min(p[1] for p in box), max(p[0] for p in box), max(p[1] for p in box)), float(score))
                     for box, text, score in found or []]
            texts.append(page_text(reading_order(lines)).text)
            pages += 1
        document.close()
        e, n = cer("\n\n".join(texts), expected(generated))
        edits, chars = edits + e, chars + n
    seconds = time.perf_counter() - started
    return {"cer": round(edits / chars, 4), "pages": pages, "seconds": round(seconds, 2), "pages_per_minute": round(pages / seconds * 60, 1)}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("ocr", help="OCR error rate and pages per minute on generated 200-dpi scans")
    p.add_argument("--seeds", default="seeds", help="folder of .txt articles to set on pages (default: %(default)s)")
    p.add_argument("--out", help="keep the generated PDFs here (scans/ and furnished/); default: a temporary folder")
    p.add_argument("--rapidocr", action="store_true", help="also read the scans with RapidOCR (rapidocr-onnxruntime)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..ingest.ocr import engine

    engine()  # a one-line error naming the install command when Tesseract is missing
    with tempfile.TemporaryDirectory(prefix="rag-bench-ocr-") as scratch:
        out = Path(args.out or scratch)
        scans = write_corpus(args.seeds, out / "scans", kind="scan")
        furnished = write_corpus(args.seeds, out / "furnished", kind="furnished")
        cores = os.cpu_count()
        print(f"scans (200 dpi, noise and skew), Tesseract, pages in parallel on {cores} cores:")
        scanned = read_corpus(out / "scans", scans)
        print(f"OCR: CER {scanned['cer']:.2%} over {scanned['pages']} pages, "
              f"{scanned['pages_per_minute']} pages/min on {cores} cores ({scanned['seconds']} s)")
        print("text PDFs with a running header, footer, page numbers and two columns:")
        laid = read_corpus(out / "furnished", furnished)
        print(f"layout: CER {laid['cer']:.2%} over {laid['pages']} pages")
        if args.rapidocr:
            other = read_rapidocr(out / "scans", scans, threads=cores or 1)
            print(f"RapidOCR: CER {other['cer']:.2%} over {other['pages']} pages, {other['pages_per_minute']} pages/min "
                  f"on {cores} cores ({other['seconds']} s)")
    return 0
