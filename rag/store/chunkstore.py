"""The chunk store: documents and chunks in one SQLite file a person can open with `sqlite3`.

Readers open the file read-only (a missing file is an error, never a new empty database); only
`create`, which the index writer uses for a new generation, opens it read-write.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StoreError
from ..search.filters import loaded, stored
from ..types import Chunk, Document, MetaValue, indexed_text

if TYPE_CHECKING:
    from ..search.filters import Filter

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    source TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    text TEXT NOT NULL,
    pages TEXT NOT NULL DEFAULT '[]',
    n_chunks INTEGER NOT NULL,
    origin TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    vid INTEGER NOT NULL UNIQUE,
    source TEXT NOT NULL REFERENCES documents(source),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER,
    n_tokens INTEGER NOT NULL,
    text TEXT NOT NULL,
    heading TEXT NOT NULL DEFAULT '',
    ocr INTEGER NOT NULL DEFAULT 0,
    ocr_confidence REAL
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
"""
# a document's metadata, one row per key (rag.search.filters.stored says how values are kept)
METADATA = """
CREATE TABLE IF NOT EXISTS metadata (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    number REAL,
    PRIMARY KEY (source, key)
);
CREATE INDEX IF NOT EXISTS metadata_key ON metadata(key, number);
"""
CHUNK_COLUMNS = 'id, source, start, "end", text, ordinal, page, n_tokens'  # then the heading and OCR columns


class ChunkStore:
    FILE = "chunks.sqlite"

    def __init__(self, path: Path, *, writable: bool = False):
        self.path = Path(path)
        if writable:
            self.db = sqlite3.connect(self.path, check_same_thread=False)
            self.db.executescript(SCHEMA)
        else:
            if not self.path.is_file():
                raise StoreError(f"{self.path.name} is missing")
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.writable = writable
        try:
            tables = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as err:  # garbage bytes: "file is not a database"
            self.db.close()
            raise StoreError(f"{self.path.name} is not a readable SQLite database: {err}") from err
        if not {"documents", "chunks"} <= tables:
            self.db.close()
            raise StoreError(f"{self.path.name} holds no chunk tables")
        self._columns()

    def _columns(self) -> None:
        """A store from before chunks had headings reads as chunks without one, until `rag index`
        rebuilds it; one from before documents had an origin reads as documents made in memory,
        and gains the column when written; one from before metadata reads as documents without
        any, and gains the table when written."""
        columns = {(table, row[1]) for table in ("chunks", "documents") for row in self.db.execute(f"PRAGMA table_info({table})")}
        if self.writable and ("documents", "origin") not in columns:
            self.db.execute("ALTER TABLE documents ADD COLUMN origin TEXT")
            columns.add(("documents", "origin"))
        if self.writable:
            self.db.executescript(METADATA)
        self._has_metadata = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'metadata'").fetchone() is not None
        self._heading = "heading" if ("chunks", "heading") in columns else "''"
        self._ocr = "ocr, ocr_confidence" if ("chunks", "ocr") in columns else "0, NULL"
        self._origin = "origin" if ("documents", "origin") in columns else "NULL"

    @classmethod
    def open(cls, folder: Path) -> ChunkStore:
        """The store in `folder`, read-only."""
        return cls(Path(folder) / cls.FILE)

    @classmethod
    def create(cls, folder: Path) -> ChunkStore:
        """A new (or the existing) store in `folder`, for writing."""
        return cls(Path(folder) / cls.FILE, writable=True)

    def copy_to(self, folder: Path) -> ChunkStore:
        target = ChunkStore.create(folder)
        self.db.backup(target.db)
        target._columns()
        return target

    def close(self) -> None:
        self.db.close()

    def commit(self) -> None:
        self.db.commit()

    # documents
    def indexed(self) -> dict[str, tuple[str, str | None]]:
        """(sha256, origin) of every document, by source."""
        return {source: (sha256, origin) for source, sha256, origin in self.db.execute(f"SELECT source, sha256, {self._origin} FROM documents")}

    def document(self, source: str) -> Document | None:
        query = f"SELECT source, text, sha256, pages, {self._origin} FROM documents WHERE source = ?"
        row = self.db.execute(query, (source,)).fetchone()
        if row is None:
            return None
        return Document(source=row[0], text=row[1], sha256=row[2], pages=tuple(tuple(p) for p in json.loads(row[3])), origin=row[4],
                        metadata=self.metadata([source]).get(source, {}))

    def documents(self) -> list[tuple[str, int]]:
        """(source, number of chunks) for every indexed document, sorted by source."""
        return list(self.db.execute("SELECT source, n_chunks FROM documents ORDER BY source"))

    def put_document(self, doc: Document, chunks: list[Chunk], vids: list[int]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO documents (source, sha256, text, pages, n_chunks, origin) VALUES (?, ?, ?, ?, ?, ?)",
            (doc.source, doc.sha256, doc.text, json.dumps(doc.pages), len(chunks), doc.origin),
        )
        self.db.executemany(
            'INSERT INTO chunks (id, vid, source, ordinal, start, "end", page, n_tokens, text, heading, ocr, ocr_confidence)'
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [(c.id, v, c.source, c.ordinal, c.start, c.end, c.page, c.n_tokens, c.text, c.heading, c.ocr, c.ocr_confidence)
             for c, v in zip(chunks, vids)],
        )
        self.set_metadata(doc.source, doc.metadata)

    def set_origin(self, source: str, origin: str | None) -> None:
        self.db.execute("UPDATE documents SET origin = ? WHERE source = ?", (origin, source))

    def delete_document(self, source: str) -> list[int]:
        """Remove a document and its chunks; return the removed chunks' vector ids."""
        vids = [v for (v,) in self.db.execute("SELECT vid FROM chunks WHERE source = ?", (source,))]
        self.db.execute("DELETE FROM chunks WHERE source = ?", (source,))
        self.db.execute("DELETE FROM documents WHERE source = ?", (source,))
        self.db.execute("DELETE FROM metadata WHERE source = ?", (source,))
        return vids

    # metadata
    def set_metadata(self, source: str, metadata: dict[str, MetaValue]) -> None:
        self.db.execute("DELETE FROM metadata WHERE source = ?", (source,))
        rows = [(source, key, *stored(value)) for key, value in metadata.items()]
        self.db.executemany("INSERT INTO metadata (source, key, kind, text, number) VALUES (?, ?, ?, ?, ?)", rows)

    def metadata(self, sources: list[str] | None = None) -> dict[str, dict[str, MetaValue]]:
        """{source: {key: value}} of these documents (all when None); documents without any are left out."""
        if not self._has_metadata:
            return {}
        query = "SELECT source, key, kind, text, number FROM metadata"
        if sources is None:
            rows = self.db.execute(query + " ORDER BY source, key").fetchall()
        else:
            rows = []
            for i in range(0, len(sources), 500):
                part = list(sources[i : i + 500])
                rows += self.db.execute(f"{query} WHERE source IN ({','.join('?' * len(part))}) ORDER BY source, key", part).fetchall()
        out: dict[str, dict[str, MetaValue]] = {}
        for source, key, kind, text, number in rows:
            out.setdefault(source, {})[key] = loaded(kind, text, number)
        return out

    def metadata_keys(self) -> list[str]:
        if not self._has_metadata:
            return []
        return [key for (key,) in self.db.execute("SELECT DISTINCT key FROM metadata ORDER BY key")]

    def filtered_vids(self, keep: Filter) -> np.ndarray:
        """Vector ids of the chunks of the documents `keep` keeps, ascending."""
        where, params = keep.sql(documents="d.source", metadata="metadata", dialect="sqlite")
        query = f"SELECT c.vid FROM chunks c WHERE c.source IN (SELECT d.source FROM documents d WHERE {where}) ORDER BY c.vid"
        return np.fromiter((v for (v,) in self.db.execute(query, params)), dtype=np.int64)

    # chunks
    def chunk_vids(self, source: str) -> dict[str, int]:
        return dict(self.db.execute("SELECT id, vid FROM chunks WHERE source = ?", (source,)))

    def chunks_by_vid(self, vids: list[int]) -> dict[int, Chunk]:
        out: dict[int, Chunk] = {}
        vids = [int(v) for v in vids]
        for i in range(0, len(vids), 500):
            part = vids[i : i + 500]
            marks = ",".join("?" * len(part))
            query = f"SELECT vid, {CHUNK_COLUMNS}, {self._heading}, {self._ocr} FROM chunks WHERE vid IN ({marks})"
            for row in self.db.execute(query, part):
                vid, cid, source, start, end, text, ordinal, page, n_tokens, heading, ocr, confidence = row
                out[vid] = Chunk(cid, source, start, end, text, ordinal, page, n_tokens, heading, bool(ocr), confidence)
        metadata = self.metadata(sorted({c.source for c in out.values()}))
        return {vid: replace(c, metadata=metadata[c.source]) if c.source in metadata else c for vid, c in out.items()}

    def all_chunks(self) -> tuple[list[int], list[str]]:
        """(vids, indexed texts: heading and text) of every chunk in a stable order (by vid)."""
        rows = self.db.execute(f"SELECT vid, {self._heading}, text FROM chunks ORDER BY vid").fetchall()
        return [r[0] for r in rows], [indexed_text(heading, text) for _, heading, text in rows]

    def count(self) -> tuple[int, int]:
        docs = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return docs, chunks
