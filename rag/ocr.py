"""Optical character recognition of a page image: its text lines, each with its box and confidence.

Runs RapidOCR (PP-OCRv4 models shipped inside the `rapidocr-onnxruntime` wheel, so nothing is
downloaded) on the CPU. It reads an image; rendering a PDF page to one (at `OCR_DPI`) is the caller's job.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import MissingDependencyError

if TYPE_CHECKING:
    from PIL.Image import Image

OCR_DPI = 200  # resolution to render a page at before OCR: 10-point text is then ~28 px high


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the image passed in, origin top-left
    confidence: float  # 0..1


def ocr_image(image: Image) -> tuple[OcrLine, ...]:
    """The text lines of `image` in reading order (top to bottom, then left to right); the same
    image always gives the same lines."""
    import numpy as np

    result, _ = _engine()(np.asarray(image.convert("RGB")))
    lines = []
    for points, text, score in result or ():
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
        if text.strip():
            lines.append(OcrLine(text, (min(xs), min(ys), max(xs), max(ys)), float(score)))
    return tuple(lines)  # RapidOCR sorts its boxes top to bottom, then left to right within a row


@functools.cache
def _engine() -> Any:
    """The OCR engine, loaded once (about a second) on first use."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as err:
        if err.name == "rapidocr_onnxruntime":
            raise MissingDependencyError("rapidocr-onnxruntime", "pip install 'rag-quotes[pdf]'") from err
        # OpenCV, which it imports, needs libGL and GLib from the system
        raise MissingDependencyError(f"a system library for OCR ({err})", "apt-get install -y libgl1 libglib2.0-0") from err
    return RapidOCR(print_verbose=False)
