"""PDF files made in a test: text PDFs (fpdf2) and image-only scans (Pillow), both in DejaVu Sans
from matplotlib's package data, never a system font. Positions are in PDF points (1/72 inch),
origin top-left, as the tests then check boxes against them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

FONT = Path(pytest.importorskip("matplotlib").get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
A4 = (595.28, 841.89)  # points
SIZE = 12  # points
LEADING = 16  # points from one baseline to the next


@dataclass(frozen=True)
class Line:
    """A line of text at `x` points from the left with its baseline at `y` points from the top."""

    text: str
    x: float
    y: float


def paragraph(lines: list[str], x: float = 72, y: float = 100) -> list[Line]:
    return [Line(text, x, y + n * LEADING) for n, text in enumerate(lines)]


def text_pdf(path: Path, pages: list[list[Line]]) -> Path:
    """A PDF with a text layer: each page's lines drawn in the order given (the content order)."""
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF(format="A4", unit="pt")
    pdf.add_font("dejavu", fname=str(FONT))
    pdf.set_font("dejavu", size=SIZE)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.text(line.x, line.y, line.text)
    pdf.output(str(path))
    return path


def text_width(text: str) -> float:
    """Width in points of `text` in the font and size of `text_pdf`."""
    from PIL import ImageFont

    return ImageFont.truetype(str(FONT), 1000).getlength(text) * SIZE / 1000


def scanned_pdf(path: Path, lines: list[Line], dpi: int = 200) -> tuple[Path, list[tuple[float, float, float, float]]]:
    """A one-page PDF that is only an image of `lines` (no text layer), and each line's ink box as
    fractions of the page (x0, y0, x1, y1, origin top-left)."""
    from PIL import Image, ImageDraw, ImageFont

    scale = dpi / 72
    width, height = round(A4[0] * scale), round(A4[1] * scale)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), round(SIZE * scale))
    boxes = []
    for line in lines:
        at = (line.x * scale, line.y * scale)
        draw.text(at, line.text, font=font, fill="black", anchor="ls")  # anchored at the left end of the baseline
        x0, y0, x1, y1 = draw.textbbox(at, line.text, font=font, anchor="ls")
        boxes.append((x0 / width, y0 / height, x1 / width, y1 / height))
    image.save(path, resolution=dpi)
    return path, boxes


def indexed_pdf(tmp_path: Path, settings, name: str, pages: list[list[Line]]):
    """A folder holding the text PDF `name` and a plain-text note, indexed: (Rag, the PDF's source, its path)."""
    from rag import Rag

    docs = tmp_path / "docs"
    docs.mkdir()
    path = text_pdf(docs / name, pages)
    (docs / "notes.txt").write_text("The Varn river floods every spring.\n")
    rag = Rag(settings)
    rag.index([docs])
    source = next(s for s, _ in rag.documents() if s.endswith(name))
    return rag, source, path
