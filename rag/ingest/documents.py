"""Load source files into `Document`s: .txt/.md as-is, .html visible text; .pdf and images through
rag.ingest.pdf (text layer or OCR, laid out by rag.ingest.layout, with pages), .docx through rag.ingest.docx.

A file that cannot be read raises `LoadError` naming the file and the reason; `load_paths`
collects those per file so one bad file never stops the others. Whatever a parser library raises
on a hostile file becomes that file's `LoadError`, and documents past the size limits in
`Settings` (text length; a .docx's unzipped XML, checked before parsing) are skipped.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import LoadError
from ..settings import Settings
from ..types import Document
from .budget import Deadline, too_large
from .docx import docx_to_text, docx_xml_bytes  # noqa: F401 (docx_xml_bytes: part of this module's API)
from .htmltext import html_to_text
from .layout import Extracted
from .metadata import for_file
from .pdf import IMAGE_SUFFIXES, image_to_text, pdf_to_text

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx"} | IMAGE_SUFFIXES
MAX_DOCUMENT_CHARS = Settings.max_document_chars
MAX_DOCX_XML_BYTES = Settings.max_docx_xml_bytes
SECONDS_PER_MB = Settings.document_seconds_per_mb
UTF8_MAX_BYTES = 4  # per character: a text file of more than 4 bytes per allowed character cannot fit


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


def discover(paths: list[str | os.PathLike], *, follow_links: bool = False) -> tuple[list[Path], list[Skipped]]:
    """Expand folders (recursively, hidden files skipped) into regular files, in sorted order. A
    folder yields only files whose real path stays under it: a symbolic link that leads out of it
    (or to a folder) is followed only with `follow_links`; broken links, link loops and special
    files (named pipes, sockets, devices) are skipped, each with its reason."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found: list[Path] = []
            _walk(path, path.resolve(), follow_links, {path.resolve()}, found, skipped)
            files += sorted(found)
        elif path.is_file():
            files.append(path)
        elif path.is_symlink() or path.exists():
            skipped.append(Skipped(_link_name(path), _not_a_file(path)))
        else:
            skipped.append(Skipped(str(raw), "no such file or folder; check the path"))
    return files, skipped


def _walk(folder: Path, root: Path, follow_links: bool, seen: set[Path], found: list[Path], skipped: list[Skipped]) -> None:
    """Add the regular files under `folder` to `found` (`seen`: real folders entered, against loops)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        skipped.append(Skipped(_link_name(folder), f"cannot read folder ({err.strerror})"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        child = Path(entry.path)
        target = child
        if entry.is_symlink():
            try:
                target = child.resolve(strict=True)
            except (OSError, RuntimeError):
                skipped.append(Skipped(_link_name(child), _not_a_file(child)))
                continue
            inside = target == root or root in target.parents
            if target.is_dir() and not follow_links:
                skipped.append(Skipped(_link_name(child), "a symbolic link to a folder; not followed (--follow-links follows it)"))
                continue
            if not inside and not follow_links:
                skipped.append(Skipped(_link_name(child), f"a symbolic link to a file outside {_link_name(root)}; "
                                                          "not followed (--follow-links indexes it)"))
                continue
        if target.is_dir():
            real = target.resolve()
            if real in seen:
                skipped.append(Skipped(_link_name(child), "a symbolic link back to a folder already indexed; not followed"))
                continue
            _walk(child, root, follow_links, seen | {real}, found, skipped)
        elif target.is_file():
            found.append(child)
        else:
            skipped.append(Skipped(_link_name(child), _not_a_file(target)))


def _not_a_file(path: Path) -> str:
    """Why `path`, which exists as a name but is no regular file or folder, is skipped."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            return "a symbolic link loop; not followed"
        except OSError as err:
            if err.errno == errno.ELOOP:
                return "a symbolic link loop; not followed"
            return "a broken symbolic link (its target does not exist)"
    try:
        mode = path.stat().st_mode
    except OSError as err:
        return f"cannot read file ({err.strerror})"
    kinds = [(stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device")]
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return f"not a regular file ({kind}); only regular files are indexed"


def _link_name(path: Path) -> str:
    """How a skipped name is shown: where it stands, not where a link leads."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def load_paths(
    paths: list[str | os.PathLike],
    *,
    max_document_chars: int = MAX_DOCUMENT_CHARS,
    max_docx_xml_bytes: int = MAX_DOCX_XML_BYTES,
    progress: bool = False,
    follow_links: bool = False,
    seconds_per_mb: float = SECONDS_PER_MB,
) -> tuple[list[Document], list[Skipped]]:
    files, skipped = discover(paths, follow_links=follow_links)
    documents: list[Document] = []
    seen: set[str] = set()
    for file in files:
        try:
            doc = load_file(file, max_document_chars=max_document_chars, max_docx_xml_bytes=max_docx_xml_bytes, progress=progress,
                            seconds_per_mb=seconds_per_mb)
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
    progress: bool = False,
    seconds_per_mb: float = SECONDS_PER_MB,
) -> Document:
    """One file as a `Document`; `progress` shows a bar while pages are OCR'd. Reading it may take
    `seconds_per_mb` (rag.ingest.budget) besides OCR, else it is skipped."""
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
    deadline = Deadline(source, len(data), seconds_per_mb)
    if not data.strip():
        raise LoadError(source, "file is empty; add text or remove it")
    if suffix in TEXT_SUFFIXES:
        extracted = Extracted(decode_text(data, source))
    elif suffix in HTML_SUFFIXES:
        html = decode_text(data, source)
        try:
            extracted = Extracted(html_to_text(html, deadline))
        except LoadError:
            raise
        except Exception as err:  # whatever the parser raises on a hostile file is this file's problem only
            raise LoadError(source, f"unreadable HTML ({err.__class__.__name__}); re-save it") from err
    elif suffix == ".pdf":
        extracted = pdf_to_text(data, source, max_document_chars, progress=progress)
    elif suffix in IMAGE_SUFFIXES:
        extracted = image_to_text(data, source, progress=progress)
    else:
        extracted = docx_to_text(data, source, max_docx_xml_bytes, deadline)
    deadline.check()
    text = extracted.text
    if len(text) > max_document_chars:
        raise too_large(source, len(text), max_document_chars)
    if not text.strip():
        raise LoadError(source, "no text could be extracted (scanned or empty document?)")

    return Document(
        source=source, text=text, sha256=hashlib.sha256(data).hexdigest(), pages=extracted.pages,
        origin=str(path.resolve()), ocr=extracted.ocr, rows=extracted.rows, metadata=for_file(path, text, extracted.properties),
    )


def _mb(n: int) -> str:
    return f"{n / 2**20:.3g}"


def decode_text(data: bytes, source: str) -> str:
    if b"\x00" in data[:8192]:
        raise LoadError(source, "looks like a binary file, not text; convert it to .txt/.pdf/.docx")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LoadError(source, f"not valid UTF-8 text (byte {err.start}); re-save it as UTF-8") from err
