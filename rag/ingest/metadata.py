"""Document metadata: typed values (text, number, date) read from the file itself (Markdown/YAML
front matter, PDF and DOCX properties), its modification time, its title, and values a user adds.

What a loader finds goes into `Document.metadata`; the index stores it, returns it with every hit,
and filters by it (rag.search.filters). It never changes a document's text: front matter stays part of it.
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..types import KEY, MAX_TEXT, RESERVED, Document, MetaValue, checked, value_of  # noqa: F401 (checked, value_of, MAX_TEXT: part of this module's API)
from .sections import ENDS_PROSE
from .sections import title as title_span

FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
# the line after the #s, its closing #s stripped in Python: a pattern that strips them ("(.+?)[ \t#]*$")
# backtracks in time quadratic in a long line ("# a", many spaces, "b")
MARKDOWN_HEADING = re.compile(r"^#{1,6}[ \t]+([^\n]*)", re.MULTILINE)
MARKDOWN_SUFFIXES = {".md", ".markdown"}
# Titles that authoring tools write for a document that has none: never shown as its title.
PLACEHOLDER_TITLE = re.compile(
    r"(about:blank|untitled(\s*document)?|document\s*\d*|title|no title|slide\s*\d+|powerpoint presentation"
    r"|microsoft (word|excel|powerpoint)\b.*|.*\.(docx?|pdf|rtf|odt|pptx?|xlsx?|txt|html?|tex|dvi|ps|qxd|indd))",
    re.IGNORECASE,
)


def parse_value(text: str) -> MetaValue:
    """A value typed on the command line: an ISO date, a number, or else text."""
    text = text.strip()
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() and re.fullmatch(r"[+-]?\d+", text) else number


def parse_pairs(pairs: list[str]) -> dict[str, MetaValue]:
    """`["team=legal", "year=2025"]` (rag index --meta) as typed metadata."""
    out: dict[str, object] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--meta takes key=value, not {pair!r}")
        out[key.strip()] = parse_value(value)
    return checked(out)


def for_file(path: Path, text: str, properties: dict[str, object]) -> dict[str, MetaValue]:
    """What a file says about itself: its properties (Markdown front matter, or what its loader
    read: a PDF's or .docx's), its modification date, and its title (the properties', else its
    first heading). A property that cannot be read is left out; it never keeps the file from being
    indexed."""
    suffix = path.suffix.lower()
    found = front_matter(text) if suffix in MARKDOWN_SUFFIXES else properties
    meta: dict[str, MetaValue] = {}
    for key, value in found.items():
        try:
            meta.update(checked({key: value}))
        except ConfigError:
            continue  # a list, a mapping, an odd name: not a filterable value
    try:
        meta.setdefault("modified", datetime.date.fromtimestamp(path.stat().st_mtime))
    except OSError:
        pass
    return with_title(meta, text, markdown=suffix in MARKDOWN_SUFFIXES)


def with_title(meta: dict[str, MetaValue], text: str, *, markdown: bool = False) -> dict[str, MetaValue]:
    """`meta` with a `title`: its own, else the text's first heading (a Markdown `#` line, or a
    first line that reads as a title); unchanged when there is neither."""
    if meta.get("title") and real_title(meta["title"]):
        return meta
    meta = {k: v for k, v in meta.items() if k != "title"}
    heading = None
    body = FRONT_MATTER.sub("", text, count=1) if markdown else text
    if markdown:
        match = MARKDOWN_HEADING.search(body)
        heading = match.group(1).rstrip(" \t#").strip() if match else None
    if not heading:
        span = title_span(body)
        line = body[span[0] : span[1]].lstrip("# ").strip() if span else ""
        heading = line if line and not ENDS_PROSE.search(line) else None  # a first sentence is no title
    return {**meta, "title": heading[:MAX_TEXT]} if heading else meta


def real_title(value: object) -> bool:
    """Whether a title from a file's properties names the document: not a placeholder an authoring
    tool wrote ("about:blank", "Untitled", "Microsoft Word - report.doc", a file name)."""
    text = " ".join(str(value).split()).strip(" -_.:")
    return bool(re.search(r"[^\W\d_]", text)) and not PLACEHOLDER_TITLE.fullmatch(text)


def document_with_title(document: Document) -> Document:
    """An in-memory document with the title its text gives, unless its metadata names one."""
    from dataclasses import replace

    meta = with_title(document.metadata, document.text, markdown=Path(document.source).suffix.lower() in MARKDOWN_SUFFIXES)
    return document if meta == document.metadata else replace(document, metadata=meta)


def front_matter(text: str) -> dict[str, object]:
    """The YAML mapping between `---` lines at the top of a Markdown file ({} when there is none or
    it does not parse). Safe loading only: plain values, never objects."""
    match = FRONT_MATTER.match(text)
    if not match:
        return {}
    import yaml  # type: ignore[import-untyped]

    try:
        loaded = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return {str(k): v for k, v in loaded.items()} if isinstance(loaded, dict) else {}


PDF_DATE = re.compile(r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?")


def pdf_date(value: str) -> datetime.datetime | None:
    """A PDF date string ("D:20250601093000+08'00'") as a datetime; None when it is not one."""
    match = PDF_DATE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) if g else d for g, d in zip(match.groups(), (0, 1, 1, 0, 0, 0)))
    try:
        return datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:  # "D:20251345..."
        return None


def pdf_properties(pdf: Any) -> dict[str, object]:
    """Title, author, subject and creation date from an open pypdfium2 PdfDocument's information."""
    try:
        info = pdf.get_metadata_dict(skip_empty=True)
    except Exception:  # noqa: BLE001 - a damaged info dictionary: the text loaded, so the file is still indexed
        return {}
    found: dict[str, object] = {"title": info.get("Title"), "author": info.get("Author"), "subject": info.get("Subject")}
    created = pdf_date(info.get("CreationDate", ""))
    if created is not None:
        found["created"] = created
    return {k: v for k, v in found.items() if v not in (None, "")}


def docx_properties(document: Any) -> dict[str, object]:
    """Title, author, subject and creation date from a parsed .docx's core properties."""
    try:
        props = document.core_properties
        found: dict[str, object] = {"title": props.title, "author": props.author, "subject": props.subject,
                                    "created": props.created}
    except Exception:  # noqa: BLE001 - the loader read the text already; odd properties never refuse the file
        return {}
    return {k: v for k, v in found.items() if v not in (None, "")}
