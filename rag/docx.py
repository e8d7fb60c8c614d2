"""A .docx's text with python-docx: paragraphs and tables in document order, each table row a line
that carries its column headers ("Country: Indonesia | Treaty signed: 1974"), so a quoted row
reads on its own. The unzipped XML is measured from the zip directory before anything is parsed.
"""

from __future__ import annotations

import io

from .errors import LoadError, MissingDependencyError
from .layout import Extracted
from .metadata import docx_properties

CORRUPT = "corrupt or unreadable .docx ({}); re-save it from the word processor"


def docx_xml_bytes(data: bytes) -> int:
    """What a .docx's XML parts unzip to, from the zip directory alone (nothing is decompressed).
    A part of another name that compresses like text (more than 10:1) counts too: the parser
    reads every part a relationship names, whatever it is called."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(
            info.file_size
            for info in archive.infolist()
            if info.filename.endswith((".xml", ".rels")) or info.file_size > 10 * max(info.compress_size, 1)
        )


def docx_to_text(data: bytes, source: str, max_xml_bytes: int) -> Extracted:
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
        blocks: list[list[str] | str] = []  # a paragraph's text, or a table's rows
        document = docx.Document(io.BytesIO(data))
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                rows = table_rows([_cells(row) for row in item.rows])
                if rows:
                    blocks.append(rows)
            elif item.text.strip():
                blocks.append(item.text)
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
