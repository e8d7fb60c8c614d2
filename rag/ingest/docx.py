"""A .docx's text with python-docx: paragraphs and tables in document order, each table row a line
that carries its column headers ("Country: Indonesia | Treaty signed: 1974"), so a quoted row
reads on its own. The unzipped XML is measured from the zip directory before anything is parsed,
then every part is inflated by streaming with a counter that stops at the limit whatever the zip
says, and python-docx reads those parts (stored, so nothing is inflated twice).
"""

from __future__ import annotations

import copy
import io
import zipfile
import zlib

from ..errors import LoadError, MissingDependencyError
from .budget import Deadline
from .layout import Extracted
from .metadata import docx_properties

CORRUPT = "corrupt or unreadable .docx ({}); re-save it from the word processor"


def docx_xml_bytes(data: bytes) -> int:
    """What a .docx's XML parts unzip to, from the zip directory alone (nothing is decompressed).
    A part of another name that compresses like text (more than 10:1) counts too: the parser
    reads every part a relationship names, whatever it is called."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(
            info.file_size
            for info in archive.infolist()
            if info.filename.endswith((".xml", ".rels")) or info.file_size > 10 * max(info.compress_size, 1)
        )


CHUNK = 1 << 20  # bytes inflated at a time


class TooLarge(Exception):
    """A part unzips past the limit, or past the size its zip entry declares."""


def inflated(data: bytes, max_xml_bytes: int) -> bytes:
    """The package again, each part inflated by streaming (CHUNK bytes at a time, never more) and
    stored. A counter stops a part one byte past the size its zip entry declares, and the parts that
    read as XML (named .xml/.rels, or more than 10:1) at `max_xml_bytes` in all. zipfile alone
    trusts the directory: it inflates up to 2 GB in one call before cutting a part to its stated size."""
    out = io.BytesIO()
    xml = 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as stored:
        for info in archive.infolist():
            if info.is_dir():
                continue
            probe = copy.copy(info)
            probe.file_size = info.file_size + 1  # zipfile reads no further than this: one byte shows the lie
            del probe.CRC  # checked here, over what is read, once the part is whole
            counted, parts, size, crc = info.filename.endswith((".xml", ".rels")), [], 0, 0
            with archive.open(probe) as stream:
                while piece := stream.read(CHUNK):
                    size += len(piece)
                    if size > info.file_size:
                        raise TooLarge(f"part {info.filename} unzips to more than the {info.file_size:,} bytes its zip entry declares")
                    if not counted and size > 10 * max(info.compress_size, 1):
                        counted, xml = True, xml + size - len(piece)
                    xml += len(piece) if counted else 0
                    if xml > max_xml_bytes:
                        raise TooLarge(f"its XML unzips to more than {_mb(max_xml_bytes)} MB (limit {_mb(max_xml_bytes)} MB)")
                    parts.append(piece)
                    crc = zlib.crc32(piece, crc)
            if crc != info.CRC:
                raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
            stored.writestr(info.filename, b"".join(parts))
    return out.getvalue()


def docx_to_text(data: bytes, source: str, max_xml_bytes: int, deadline: Deadline | None = None) -> Extracted:
    try:
        import docx
        from docx.table import Table
    except ImportError as err:
        raise MissingDependencyError("python-docx", "pip install python-docx") from err
    try:
        xml_bytes = docx_xml_bytes(data)
    except Exception as err:
        raise LoadError(source, CORRUPT.format(err.__class__.__name__)) from err
    if xml_bytes > max_xml_bytes:
        reason = f"document too large: its XML unzips to {_mb(xml_bytes)} MB (limit {_mb(max_xml_bytes)} MB)"
        raise LoadError(source, reason)
    try:
        package = inflated(data, max_xml_bytes)
    except TooLarge as err:
        raise LoadError(source, f"document too large: {err}; a forged or damaged zip") from err
    except Exception as err:  # zipfile's errors: a bad CRC, a truncated part
        raise LoadError(source, CORRUPT.format(err.__class__.__name__)) from err
    try:
        blocks: list[list[str] | str] = []  # a paragraph's text, or a table's rows
        document = docx.Document(io.BytesIO(package))
        for item in document.iter_inner_content():
            if deadline:
                deadline.tick()
            if isinstance(item, Table):
                rows = table_rows([_cells(row) for row in item.rows])
                if rows:
                    blocks.append(rows)
            elif item.text.strip():
                blocks.append(item.text)
    except LoadError:
        raise
    except Exception as err:  # lxml, zipfile and python-docx errors alike: this file's problem only
        raise LoadError(source, CORRUPT.format(err.__class__.__name__)) from err
    text, spans = "", []
    for block in blocks:
        text += "\n\n" if text else ""
        if isinstance(block, str):
            text += block
            continue
        for i, row in enumerate(block):
            text += "\n" if i else ""
            spans.append((len(text), len(text) + len(row)))
            text += row
    return Extracted(text, rows=tuple(spans), properties=docx_properties(document))


def _cells(row) -> list[str]:
    """A row's cell texts, a merged cell once (python-docx repeats it for each grid column)."""
    out, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) in seen:
            continue
        seen.add(id(cell._tc))
        out.append(" ".join(cell.text.split()))
    return out


def table_rows(rows: list[list[str]]) -> list[str]:
    """The rows after the first (the header) as "Header: value | ..." lines; empty cells left out,
    a cell under an empty header as its value alone. A table of one row is that row."""
    rows = [r for r in rows if any(r)]
    if len(rows) < 2:
        return [" | ".join(c for c in r if c) for r in rows]
    header, lines = rows[0], []
    for row in rows[1:]:
        cells = [f"{h}: {v}" if h else v for h, v in zip([*header, *[""] * len(row)], row) if v]
        lines.append(" | ".join(cells))
    return lines


def _mb(n: int) -> str:
    return f"{n / 2**20:.3g}"
