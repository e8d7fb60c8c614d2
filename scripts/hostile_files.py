"""Write the files docs/security.md times `rag index` on: 10 MB of nested HTML, a Markdown file of
100,000 headings, and a .docx whose zip declares its 2.1 GB (2,000 MiB) word/document.xml as 4 KB.

    python scripts/hostile_files.py OUT    # then: /usr/bin/time -v rag index OUT/html ... (docs/security.md)
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
PARTS = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>',
}


def nested_html(size: int = 10 * 2**20) -> str:
    n = size // len("<div>x </div>")
    return "<html><body>" + "<div>x " * n + "</div>" * n + "</body></html>"


def headings(n: int = 100_000) -> str:
    return "".join("#" * (1 + i % 6) + f" Section {i} Title\n\nBody text {i}.\n\n" for i in range(n))


def understate(data: bytes, member: str, size: int) -> bytes:
    """The zip with `member`'s uncompressed size rewritten to `size` (local header and directory)."""
    out, name = bytearray(data), member.encode()
    for signature, size_at, length_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        at = out.find(signature)
        while at >= 0:
            length = int.from_bytes(out[at + length_at : at + length_at + 2], "little")
            if bytes(out[at + name_at : at + name_at + length]) == name:
                out[at + size_at : at + size_at + 4] = size.to_bytes(4, "little")
            at = out.find(signature, at + 4)
    return bytes(out)


def forged_docx(size: int = 2000 * 2**20) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        with archive.open("word/document.xml", "w", force_zip64=False) as stream:
            stream.write(f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body>'.encode())
            row = b"<w:p><w:r><w:t>aaaaaaaaaaaaaaaa</w:t></w:r></w:p>" * 20_000
            for _ in range(size // len(row)):
                stream.write(row)
            stream.write(b"</w:body></w:document>")
    return understate(buffer.getvalue(), "word/document.xml", 4096)


def main(out: Path) -> None:
    for kind, name, data in (("html", "nested.html", nested_html().encode()), ("md", "headings.md", headings().encode()),
                             ("docx", "forged.docx", forged_docx())):
        (out / kind).mkdir(parents=True, exist_ok=True)
        (out / kind / name).write_bytes(data)
        print(f"{out / kind / name}: {len(data):,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile"))
