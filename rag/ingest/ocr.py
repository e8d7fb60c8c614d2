"""Optical character recognition for pages without a text layer (scans, photos), with Tesseract.

Tesseract (the Debian/Ubuntu `tesseract-ocr` program, run as a subprocess) was measured against
RapidOCR on the generated 200-dpi scans: 1.4% against 7.4% character errors, 58 against 9.5 pages
a minute (docs/documents.md). Each call runs one single-threaded Tesseract process
(OMP_THREAD_LIMIT=1 in its environment only): OpenMP's spinning threads made one page five times
slower on a busy 2-core machine, and pages run in parallel instead (`ocr_pages`).
Nothing is downloaded: the engine and its English model come from the system package.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from ..errors import LoadError, MissingDependencyError
from ..progress import progress_bar
from .layout import reading_order

if TYPE_CHECKING:
    from PIL.Image import Image

OCR_DPI = 200  # PDF pages are rendered at this resolution for OCR (300 read the generated scans worse)
INSTALL = "pip install rag-quotes[ocr]"  # and the engine: apt-get install tesseract-ocr
LANGUAGE = "eng"  # Tesseract's English model reads Malay (Latin script) names too; `tesseract-ocr-msa` adds "msa"
GAP_LINE_HEIGHTS = 1.5  # words further apart than this on one line are separate pieces (columns, table cells)
TIMEOUT_S = 120  # per page
# A word read with a full stop, under this confidence, before a word in lower case: the stop is noise.
# On the generated scans such stops had confidence 0.25 to 0.74; the one real one, 0.94.
UNSURE_STOP = 0.85


@dataclass(frozen=True)
class OcrLine:
    """A piece of recognised text on one line, in pixels of the image (origin top-left)."""

    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    confidence: float  # 0..1, the mean of its words'


def engine() -> str:
    """The tesseract program's path; `MissingDependencyError` naming the install command without it."""
    try:
        import PIL  # noqa: F401 (renders pages and reads image files)
    except ImportError as err:
        raise MissingDependencyError("OCR (Pillow)", INSTALL) from err
    found = shutil.which("tesseract")
    if found is None:
        raise MissingDependencyError("OCR (the tesseract-ocr program)", f"{INSTALL}` and `apt-get install tesseract-ocr")
    return found


def available() -> bool:
    try:
        engine()
    except MissingDependencyError:
        return False
    return True


def ocr_image(image: Image) -> tuple[OcrLine, ...]:
    """The text lines of `image` in reading order (rag.ingest.layout.reading_order: columns one after
    another, a table row by row); deterministic for the same image."""
    lines = _recognise(image)
    return tuple(reading_order(lines))


def ocr_pages(images: Iterator[Image] | Sequence[Image], total: int, *, workers: int | None = None, progress: bool = False) -> list[tuple[OcrLine, ...]]:
    """`ocr_image` of each image, in parallel (one Tesseract process per core), in order. Images
    are taken from `images` as workers free up, so a long document is never all in memory."""
    workers = max(1, min(workers or os.cpu_count() or 1, total))
    bar = progress_bar(total, "OCR", progress, unit="page")
    results: list[tuple[OcrLine, ...]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[tuple[OcrLine, ...]]] = deque()
        for image in images:
            if len(pending) >= 2 * workers:
                results.append(pending.popleft().result())
                bar.update(1)
            pending.append(pool.submit(ocr_image, image))
        for future in pending:
            results.append(future.result())
            bar.update(1)
    bar.close()
    return results


def _recognise(image: Image) -> list[OcrLine]:
    """Tesseract's words, grouped into its lines and split where words stand far apart."""
    program = engine()
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "PNG")  # a median filter against specks misread digits: none
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            [program, "stdin", "stdout", "-l", LANGUAGE, "--psm", "3", "tsv"],
            input=buffer.getvalue(), capture_output=True, env=env, timeout=TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise LoadError("(image)", f"OCR took longer than {TIMEOUT_S}s for one page") from err
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise LoadError("(image)", f"tesseract failed: {message[-1] if message else done.returncode}")
    return _lines(done.stdout.decode("utf-8", errors="replace"))


def _lines(tsv: str) -> list[OcrLine]:
    words: dict[tuple[int, int, int, int], list[tuple[float, float, float, float, float, str]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        page, block, par, line = (int(c) for c in cols[1:5])
        x, y, w, h = (float(c) for c in cols[6:10])
        words.setdefault((page, block, par, line), []).append((x, y, x + w, y + h, max(0.0, float(cols[10])) / 100, cols[11].strip()))
    out: list[OcrLine] = []
    for line_words in words.values():
        for i, (word, after) in enumerate(pairwise(line_words)):
            if word[4] < UNSURE_STOP and word[5].endswith(".") and word[5][-2:-1].isalnum() and after[5][:1].islower():
                line_words[i] = (*word[:5], word[5][:-1])  # a speck read as a full stop mid-sentence
        height = sorted(w[3] - w[1] for w in line_words)[len(line_words) // 2]
        piece = [line_words[0]]
        for word in line_words[1:]:
            if word[0] - piece[-1][2] > GAP_LINE_HEIGHTS * height:
                out.append(_piece(piece))
                piece = []
            piece.append(word)
        out.append(_piece(piece))
    return out


def _piece(words: list[tuple[float, float, float, float, float, str]]) -> OcrLine:
    box = (min(w[0] for w in words), min(w[1] for w in words), max(w[2] for w in words), max(w[3] for w in words))
    return OcrLine(" ".join(w[5] for w in words), box, round(sum(w[4] for w in words) / len(words), 4))
