"""A document corpus the project makes itself: the seed articles and a table document laid out
on letter pages, written as image-only 200-dpi scans (mild noise and skew) and as text PDFs
with a running header, a footer, page numbers and two columns.

Nothing is downloaded: text is set in matplotlib's DejaVu Sans (the `bench` extra). Each
generator returns the file's bytes and, per page, the text a reader sees on it (`Page.text`),
which the OCR benchmark and the tests compare extraction against. Deterministic: the same
inputs give the same bytes.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SCAN_DPI = 200
PAGE_INCHES = (8.5, 11.0)
MARGIN_INCHES = 1.0
FONT_POINTS = 11
LINE_SPACING = 1.4  # of the font size
HEADER = "Ministry of Home Affairs - Internal Review 2025"
FOOTER = "Confidential: for internal use only"
TABLE_TITLE = "Extradition register (generated test document)"
TABLE_INTRO = (
    "The register below lists the partner countries and the year each arrangement was signed. "
    "It is generated test data for the document pipeline, not an official record."
)
TABLE_HEADERS = ("Country", "Treaty signed", "Arrangement")
TABLE_ROWS = (
    ("Indonesia", "1974", "Extradition treaty"),
    ("Thailand", "1911", "Extradition treaty"),
    ("Australia", "2005", "Extradition treaty"),
    ("Hong Kong", "1995", "Surrender of fugitives"),
    ("United States", "1995", "Extradition treaty"),
    ("China", "2017", "Extradition treaty"),
    ("India", "2010", "Extradition treaty"),
    ("Pakistan", "2024", "Extradition treaty"),
)
TABLE_OUTRO = "Requests under each arrangement are handled by the Attorney General's Chambers."


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    text: str  # what a reader sees as body text: paragraphs joined by "\n", table rows one per line


@dataclass(frozen=True)
class Generated:
    data: bytes
    pages: tuple[Page, ...]


@lru_cache(maxsize=1)
def font_path() -> str:
    try:
        import matplotlib
    except ImportError as err:
        from ..errors import MissingDependencyError

        raise MissingDependencyError("matplotlib (its DejaVu fonts set the generated pages)", "pip install rag-quotes[bench]") from err
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


@lru_cache(maxsize=8)
def _font(pixels: int):
    from PIL import ImageFont

    return ImageFont.truetype(font_path(), pixels)


def wrap(paragraph: str, width: float, measure, *, hyphenate: bool = False) -> list[str]:
    """Greedy word wrap to `width` (in `measure`'s units). With `hyphenate`, a long word that does
    not fit is split with a hyphen when at least four letters stay on each side."""
    lines: list[str] = []
    line = ""
    for word in paragraph.split():
        candidate = f"{line} {word}" if line else word
        if measure(candidate) <= width:
            line = candidate
            continue
        if hyphenate and line and word.isalpha() and len(word) >= 8:
            for cut in range(len(word) - 4, 3, -1):
                head = f"{line} {word[:cut]}-"
                if measure(head) <= width:
                    lines.append(head)
                    line = word[cut:]
                    break
            else:
                lines.append(line)
                line = word
            continue
        if line:
            lines.append(line)
        line = word
    if line:
        lines.append(line)
    return lines


def joined(lines: list[str]) -> str:
    """The text of wrapped lines read as prose: hyphenated words whole again, lines joined by spaces."""
    out = ""
    for line in lines:
        if out.endswith("-") and out[-2:-1].isalpha() and line[:1].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}" if out else line
    return out


def table_lines() -> list[str]:
    """The table document as a reader should get it: each row carries its column headers."""
    rows = [" | ".join(f"{h}: {v}" for h, v in zip(TABLE_HEADERS, row)) for row in TABLE_ROWS]
    return [TABLE_TITLE, TABLE_INTRO, *rows, TABLE_OUTRO]


# ---- scans: image-only PDFs ---------------------------------------------------------------


def scan_pdf(text: str, *, seed: int = 0, table: bool = False) -> Generated:
    """`text` (paragraphs separated by blank lines or newlines) set on letter pages and scanned at
    200 dpi: grey, slightly rotated, with sensor noise. With `table`, the table document instead."""
    images, pages = [], []
    for number, lines in enumerate(_layout_scan(text, table), start=1):
        image = _draw(lines)
        images.append(_degrade(image, seed * 1000 + number))
        pages.append(Page(number, "\n".join(_page_text(lines))))
    out = io.BytesIO()
    fixed = time.gmtime(1735689600)  # 2025-01-01, not the time of writing: the same bytes each run
    images[0].save(out, "PDF", resolution=SCAN_DPI, save_all=True, append_images=images[1:], creationDate=fixed, modDate=fixed)
    return Generated(out.getvalue(), tuple(pages))


def _layout_scan(text: str, table: bool) -> list[list[tuple[float, float, str, str]]]:
    """Pages of (x, baseline y, kind, text) in pixels; kind is "p" (a paragraph's line, starting
    one when the previous line was the paragraph's last: "p0") or "row" (a table row)."""
    px = SCAN_DPI / 72 * FONT_POINTS
    font = _font(round(px))
    width_px = (PAGE_INCHES[0] - 2 * MARGIN_INCHES) * SCAN_DPI
    top, bottom = MARGIN_INCHES * SCAN_DPI, (PAGE_INCHES[1] - MARGIN_INCHES) * SCAN_DPI
    step = px * LINE_SPACING
    blocks: list[tuple[str, list[str]]] = []
    if table:
        blocks.append(("p", [TABLE_TITLE]))
        blocks.append(("p", wrap(TABLE_INTRO, width_px, font.getlength)))
        blocks.append(("row", list(TABLE_HEADERS)))
        blocks.extend(("row", list(row)) for row in TABLE_ROWS)
        blocks.append(("p", wrap(TABLE_OUTRO, width_px, font.getlength)))
    else:
        for paragraph in (p for p in text.splitlines() if p.strip()):
            blocks.append(("p", wrap(paragraph, width_px, font.getlength)))
    pages: list[list] = [[]]
    y = top + px
    for kind, lines in blocks:
        if kind == "row":
            if y > bottom:
                pages.append([])
                y = top + px
            cells = "\t".join(lines)
            pages[-1].append((MARGIN_INCHES * SCAN_DPI, y, "row", cells))
            y += step
            continue
        for i, line in enumerate(lines):
            if y > bottom:
                pages.append([])
                y = top + px
            pages[-1].append((MARGIN_INCHES * SCAN_DPI, y, "p0" if i == 0 else "p", line))
            y += step
        y += step * 0.6  # paragraph gap
    return [p for p in pages if p]


def _page_text(lines) -> list[str]:
    """The reader's text of one page's laid-out lines (see `Page.text`)."""
    out: list[str] = []
    para: list[str] = []
    headers: list[str] | None = None
    for _, _, kind, text in lines:
        if kind == "row":
            if para:
                out.append(joined(para))
                para = []
            cells = text.split("\t")
            if tuple(cells) == TABLE_HEADERS:
                headers = cells
                continue
            out.append(" | ".join(f"{h}: {v}" for h, v in zip(headers or TABLE_HEADERS, cells)))
            continue
        if kind == "p0" and para:
            out.append(joined(para))
            para = []
        para.append(text)
    if para:
        out.append(joined(para))
    return out


def _draw(lines):
    from PIL import Image, ImageDraw

    size = (round(PAGE_INCHES[0] * SCAN_DPI), round(PAGE_INCHES[1] * SCAN_DPI))
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    px = SCAN_DPI / 72 * FONT_POINTS
    font = _font(round(px))
    column = (PAGE_INCHES[0] - 2 * MARGIN_INCHES) * SCAN_DPI / len(TABLE_HEADERS)
    for x, y, kind, text in lines:
        if kind == "row":
            for i, cell in enumerate(text.split("\t")):
                draw.text((x + i * column, y), cell, font=font, fill=20, anchor="ls")
        else:
            draw.text((x, y), text, font=font, fill=20, anchor="ls")
    return image


def _degrade(image, seed: int):
    """Mild scanner damage: a rotation under half a degree, a grey paper tone, sensor noise."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    angle = float(rng.uniform(-0.5, 0.5))
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    pixels = np.asarray(image, dtype=np.float32) * 0.9 + 12  # paper is not white, ink not black
    pixels += rng.normal(0, 8, pixels.shape)
    specks = rng.random(pixels.shape) < 0.0004
    pixels[specks] = rng.uniform(0, 120, int(specks.sum()))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")


# ---- text PDFs with page furniture and two columns ----------------------------------------


def furnished_pdf(text: str, *, columns: int = 2, table: bool = False) -> Generated:
    """`text` as a text PDF: each page has a running header, a footer and "Page N of M"; the body
    is set in `columns` columns, long words hyphenated at line ends. The content stream runs
    across the columns line by line, so reading in stream order mixes the columns. With `table`,
    the table document in one column, its table set in aligned columns."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    points = FONT_POINTS - 1
    font = _font(100)  # measure at 100 px, scale to points

    def measure(s: str) -> float:
        return font.getlength(s) * points / 100

    page_w, page_h = PAGE_INCHES[0] * 72, PAGE_INCHES[1] * 72
    margin, gap = MARGIN_INCHES * 72, 24.0
    col_w = (page_w - 2 * margin - gap * (columns - 1)) / columns
    step = points * LINE_SPACING
    rows_per_page = int((page_h - 2 * margin) / step)
    # the body as lines of (kind, text), then poured into columns
    body: list[tuple[str, str]] = []
    if table:
        col_w = page_w - 2 * margin
        body += [("p0", TABLE_TITLE), ("gap", "")]
        body += [("p0" if i == 0 else "p", s) for i, s in enumerate(wrap(TABLE_INTRO, col_w, measure, hyphenate=True))]
        body.append(("gap", ""))
        body.append(("row", "\t".join(TABLE_HEADERS)))
        body += [("row", "\t".join(row)) for row in TABLE_ROWS]
        body += [("break", "")]  # the outro on a second page, so the running header and footer repeat
        body += [("p0" if i == 0 else "p", s) for i, s in enumerate(wrap(TABLE_OUTRO, col_w, measure, hyphenate=True))]
        columns = 1
    else:
        for paragraph in (p for p in text.splitlines() if p.strip()):
            body += [("p0" if i == 0 else "p", s) for i, s in enumerate(wrap(paragraph, col_w, measure, hyphenate=True))]
            body.append(("gap", ""))
    per_page = rows_per_page * columns
    if len(body) <= per_page and "break" not in (k for k, _ in body):  # two pages at least: furniture repeats
        middle = next(i for i in range(len(body) // 2, len(body)) if body[i][0] == "p0")
        body.insert(middle, ("break", ""))
    chunks: list[list[tuple[str, str]]] = [[]]
    for kind, line in body:
        if kind == "break" or len(chunks[-1]) == per_page:
            chunks.append([])
        if kind != "break":
            chunks[-1].append((kind, line))
    out = io.BytesIO()
    pages: list[Page] = []
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}), PdfPages(out, metadata={"CreationDate": None}) as pdf:
        for number, lines in enumerate(chunks, start=1):
            fig = Figure(figsize=PAGE_INCHES)
            placed: list[tuple[float, float, str, str]] = []  # x, y from the top, kind, text
            for i, (kind, line) in enumerate(lines):
                col, row = divmod(i, rows_per_page)
                placed.append((margin + col * (col_w + gap), margin + points + row * step, kind, line))
            placed.sort(key=lambda p: (p[1], p[0]))  # stream order: across the columns, line by line

            def put(x: float, y: float, s: str, fig=fig) -> None:
                fig.text(x / page_w, 1 - y / page_h, s, fontsize=points, va="baseline", ha="left")

            put(margin, margin / 2, HEADER)
            for x, y, kind, line in placed:
                if kind == "row":
                    for j, cell in enumerate(line.split("\t")):
                        put(x + j * col_w / len(TABLE_HEADERS), y, cell)
                elif line:
                    put(x, y, line)
            put(margin, page_h - margin / 2, FOOTER)
            put(page_w - margin - measure(f"Page {number} of {len(chunks)}"), page_h - margin / 2, f"Page {number} of {len(chunks)}")
            pdf.savefig(fig)
            reading = [(k, s) for k, s in lines if k != "gap"]
            pages.append(Page(number, "\n".join(_page_text([(0, 0, k, s) for k, s in reading]))))
    return Generated(out.getvalue(), tuple(pages))


def seed_texts(folder: str | Path) -> dict[str, str]:
    """The seed articles of `folder` by file stem."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(Path(folder).glob("*.txt"))}


def write_corpus(seeds: str | Path, target: str | Path, *, kind: str = "scan") -> dict[str, Generated]:
    """Every seed article and the table document as `kind` ("scan" or "furnished") PDFs in `target`."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    make = scan_pdf if kind == "scan" else furnished_pdf
    made: dict[str, Generated] = {}
    for i, (stem, text) in enumerate(seed_texts(seeds).items()):
        made[stem] = make(text, seed=i) if kind == "scan" else make(text)  # type: ignore[call-arg]
    made["table"] = make("", table=True)
    for stem, generated in made.items():
        (target / f"{stem}.pdf").write_bytes(generated.data)
    return made
