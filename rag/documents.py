"""Load source files into `Document`s: .txt/.md as-is, .html visible text, .pdf with pages, .docx.

A file that cannot be read raises `LoadError` naming the file and the reason; `load_paths`
collects those per file so one bad file never stops the others.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import LoadError, MissingDependencyError
from .types import Document

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx"}
# Elements whose text a reader never sees as content.
HTML_HIDDEN = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "svg", "iframe")
HTML_BLOCKS = ("p", "div", "li", "tr", "br", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre", "blockquote", "table", "ul", "ol", "title")


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"skipped {self.source}: {self.reason}"


def display_path(path: Path) -> str:
    """A stable name for a file: relative to the working directory when inside it."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def discover(paths: list[str | os.PathLike]) -> tuple[list[Path], list[Skipped]]:
    """Expand folders (recursively, hidden files skipped) into files, in sorted order."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts):
                    files.append(child)
        elif path.is_file():
            files.append(path)
        else:
            skipped.append(Skipped(str(raw), "no such file or folder; check the path"))
    return files, skipped


def load_paths(paths: list[str | os.PathLike]) -> tuple[list[Document], list[Skipped]]:
    files, skipped = discover(paths)
    documents: list[Document] = []
    seen: set[str] = set()
    for file in files:
        try:
            doc = load_file(file)
        except LoadError as err:
            skipped.append(Skipped(err.source, err.reason))
            continue
        if doc.source not in seen:
            seen.add(doc.source)
            documents.append(doc)
    return documents, skipped


def load_file(path: str | os.PathLike, source: str | None = None) -> Document:
    path = Path(path)
    source = source or display_path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        known = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise LoadError(source, f"unsupported file type '{suffix or '(none)'}'; supported: {known}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise LoadError(source, f"cannot read file ({err.strerror})") from err
    if not data.strip():
        raise LoadError(source, "file is empty; add text or remove it")
    pages: tuple[tuple[int, int], ...] = ()
    if suffix in TEXT_SUFFIXES:
        text = decode_text(data, source)
    elif suffix in HTML_SUFFIXES:
        text = html_to_text(decode_text(data, source))
    elif suffix == ".pdf":
        text, pages = pdf_to_text(data, source)
    else:
        text = docx_to_text(data, source)
    if not text.strip():
        raise LoadError(source, "no text could be extracted (scanned or empty document?)")
    return Document(source=source, text=text, sha256=hashlib.sha256(data).hexdigest(), pages=pages)


def decode_text(data: bytes, source: str) -> str:
    if b"\x00" in data[:8192]:
        raise LoadError(source, "looks like a binary file, not text; convert it to .txt/.pdf/.docx")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LoadError(source, f"not valid UTF-8 text (byte {err.start}); re-save it as UTF-8") from err


def html_to_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(HTML_HIDDEN):
        tag.decompose()
    for tag in soup.find_all(attrs={"role": "navigation"}):
        tag.decompose()
    for tag in soup.find_all(HTML_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return "\n".join(line for line in lines if line)


def pdf_to_text(data: bytes, source: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    import io

    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as err:  # pragma: no cover - pypdf is a core dependency
        raise MissingDependencyError("pypdf", "pip install pypdf") from err
    import logging

    log = logging.getLogger("pypdf")  # it logs what it repairs; a file it cannot read gets our one line
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        reader = PdfReader(io.BytesIO(data))
        texts = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        raise LoadError(source, f"corrupt or unreadable PDF ({err.__class__.__name__}); re-export it") from err
    finally:
        log.setLevel(level)
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    offset = 0
    for number, page_text in enumerate(texts, start=1):
        page_text = page_text.strip()
        if not page_text:
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        pages.append((offset, number))
        parts.append(page_text)
        offset += len(page_text)
    return "".join(parts), tuple(pages)


def docx_to_text(data: bytes, source: str) -> str:
    import io
    import zipfile

    try:
        import docx
    except ImportError as err:
        raise MissingDependencyError("python-docx", "pip install python-docx") from err
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        raise LoadError(source, "corrupt or unreadable .docx; re-save it from the word processor") from err
    paragraphs = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                paragraphs.append(" | ".join(cells))
    return "\n\n".join(paragraphs)
