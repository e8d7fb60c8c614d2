"""Load source files into `Document`s: .txt/.md as-is, .html visible text, .pdf with pages, .docx.

A file that cannot be read raises `LoadError` naming the file and the reason; `load_paths`
collects those per file so one bad file never stops the others. Whatever a parser library raises
on a hostile file becomes that file's `LoadError`, and documents past the size limits in
`Settings` (text length; a .docx's unzipped XML, checked before parsing) are skipped.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import LoadError, MissingDependencyError
from .settings import Settings
from .types import Document

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx"}
# Elements whose text a reader never sees as content.
HTML_HIDDEN = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "svg", "iframe")
MAX_DOCUMENT_CHARS = Settings.max_document_chars
MAX_DOCX_XML_BYTES = Settings.max_docx_xml_bytes
UTF8_MAX_BYTES = 4  # per character: a text file of more than 4 bytes per allowed character cannot fit
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


def load_paths(
    paths: list[str | os.PathLike],
    *,
    max_document_chars: int = MAX_DOCUMENT_CHARS,
    max_docx_xml_bytes: int = MAX_DOCX_XML_BYTES,
) -> tuple[list[Document], list[Skipped]]:
    files, skipped = discover(paths)
    documents: list[Document] = []
    seen: set[str] = set()
    for file in files:
        try:
            doc = load_file(file, max_document_chars=max_document_chars, max_docx_xml_bytes=max_docx_xml_bytes)
        except LoadError as err:
            skipped.append(Skipped(err.source, err.reason))
            continue
        if doc.source not in seen:
            seen.add(doc.source)
            documents.append(doc)
    return documents, skipped


def load_file(
    path: str | os.PathLike,
    source: str | None = None,
    *,
    max_document_chars: int = MAX_DOCUMENT_CHARS,
    max_docx_xml_bytes: int = MAX_DOCX_XML_BYTES,
) -> Document:
    path = Path(path)
    source = source or display_path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        known = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise LoadError(source, f"unsupported file type '{suffix or '(none)'}'; supported: {known}")
    try:
        size = path.stat().st_size
        if suffix in TEXT_SUFFIXES and size > UTF8_MAX_BYTES * max_document_chars:  # too large before decoding
            limit = f"limit {max_document_chars:,} characters"
            raise LoadError(source, f"document too large: {_mb(size)} MB of text ({limit}); split it into smaller files")
        data = path.read_bytes()
    except OSError as err:
        raise LoadError(source, f"cannot read file ({err.strerror})") from err
    if not data.strip():
        raise LoadError(source, "file is empty; add text or remove it")
    pages: tuple[tuple[int, int], ...] = ()
    if suffix in TEXT_SUFFIXES:
        text = decode_text(data, source)
    elif suffix in HTML_SUFFIXES:
        html = decode_text(data, source)
        try:
            text = html_to_text(html)
        except MissingDependencyError:
            raise
        except Exception as err:  # whatever the parser raises on a hostile file is this file's problem only
            raise LoadError(source, f"unreadable HTML ({err.__class__.__name__}); re-save it") from err
    elif suffix == ".pdf":
        text, pages = pdf_to_text(data, source, max_document_chars)
    else:
        text = docx_to_text(data, source, max_docx_xml_bytes)
    if len(text) > max_document_chars:
        raise too_large(source, len(text), max_document_chars)
    if not text.strip():
        raise LoadError(source, "no text could be extracted (scanned or empty document?)")
    from .metadata import for_file

    return Document(source=source, text=text, sha256=hashlib.sha256(data).hexdigest(), pages=pages, origin=str(path.resolve()),
                    metadata=for_file(path, data, text))


def too_large(source: str, chars: int, limit: int) -> LoadError:
    reason = f"document too large: {chars:,} characters of text (limit {limit:,}); split it into smaller files"
    return LoadError(source, reason)


def _mb(n: int) -> str:
    return f"{n / 2**20:.3g}"


def decode_text(data: bytes, source: str) -> str:
    if b"\x00" in data[:8192]:
        raise LoadError(source, "looks like a binary file, not text; convert it to .txt/.pdf/.docx")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LoadError(source, f"not valid UTF-8 text (byte {err.start}); re-save it as UTF-8") from err


def html_to_text(html: str) -> str:
    try:
        from bs4 import BeautifulSoup
    except ImportError as err:  # pragma: no cover - beautifulsoup4 is a core dependency
        raise MissingDependencyError("beautifulsoup4", "pip install beautifulsoup4") from err

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(HTML_HIDDEN):
        tag.decompose()
    for tag in soup.find_all(None, attrs={"role": "navigation"}):
        tag.decompose()
    for tag in soup.find_all(HTML_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return "\n".join(line for line in lines if line)


def pdf_to_text(data: bytes, source: str, max_chars: int = MAX_DOCUMENT_CHARS) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The text of each page, joined by blank lines, and where each page starts. Stops reading
    pages once the text passes `max_chars`: the document is skipped anyway."""
    import io

    try:
        from pypdf import PdfReader
    except ImportError as err:  # pragma: no cover - pypdf is a core dependency
        raise MissingDependencyError("pypdf", "pip install pypdf") from err
    import logging

    log = logging.getLogger("pypdf")  # it logs what it repairs; a file it cannot read gets our one line
    level = log.level
    log.setLevel(logging.CRITICAL)
    texts: list[str] = []
    try:
        total = 0
        for page in PdfReader(io.BytesIO(data)).pages:
            texts.append(page.extract_text() or "")
            total += len(texts[-1])
            if total > max_chars:
                raise too_large(source, total, max_chars)
    except LoadError:
        raise
    except Exception as err:  # pypdf raises many kinds on a hostile file; each is this file's problem only
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


def docx_xml_bytes(data: bytes) -> int:
    """What a .docx's XML parts unzip to, from the zip directory alone (nothing is decompressed).
    A part of another name that compresses like text (more than 10:1) counts too: the parser
    reads every part a relationship names, whatever it is called."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(
            info.file_size
            for info in archive.infolist()
            if info.filename.endswith((".xml", ".rels")) or info.file_size > 10 * max(info.compress_size, 1)
        )


def docx_to_text(data: bytes, source: str, max_xml_bytes: int = MAX_DOCX_XML_BYTES) -> str:
    import io

    try:
        import docx
    except ImportError as err:
        raise MissingDependencyError("python-docx", "pip install python-docx") from err
    corrupt = "corrupt or unreadable .docx ({}); re-save it from the word processor"
    try:
        xml_bytes = docx_xml_bytes(data)
    except Exception as err:
        raise LoadError(source, corrupt.format(err.__class__.__name__)) from err
    if xml_bytes > max_xml_bytes:
        reason = f"document too large: its XML unzips to {_mb(xml_bytes)} MB (limit {_mb(max_xml_bytes)} MB)"
        raise LoadError(source, reason)
    try:
        document = docx.Document(io.BytesIO(data))
        paragraphs = [p.text for p in document.paragraphs if p.text.strip()]
        for table in document.tables:
            for row in table.rows:
                cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
                if cells:
                    paragraphs.append(" | ".join(cells))
    except Exception as err:  # lxml, zipfile and python-docx errors alike: this file's problem only
        raise LoadError(source, corrupt.format(err.__class__.__name__)) from err
    return "\n\n".join(paragraphs)
