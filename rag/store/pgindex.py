"""The pgvector backend: the whole index in PostgreSQL, what `Settings(store="pgvector", store_url=...)` uses.

Documents, chunks, vectors and full text in tables rag_meta, rag_documents and rag_chunks; the
incremental indexing of rag.store.incremental, each run one transaction (a killed run changes nothing),
and hybrid search (vector rank and `ts_rank_cd` full-text rank fused by reciprocal rank fusion)
in one SQL statement. It never embeds by itself: vectors come from the embedder it is given.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from ..embed.embedders import Embedder
from ..errors import ConfigError, IndexNotFoundError
from ..ingest.chunks import vector_id
from ..search.filters import Filter, loaded, stored
from ..settings import Settings
from ..types import Chunk, Document, Hit, MetaValue
from . import incremental
from .incremental import FORMAT_VERSION, Change, IndexReport, check_model, check_version, chunking
from .pgstore import connect, display_url, guarded, iterative_scan, psycopg_modules, tune_search

if TYPE_CHECKING:
    from psycopg import Connection

OPTIONS = "--store pgvector --store-url URL"  # what names this index on the command line

# BM25 here is PostgreSQL full-text search with its own `english` stemmer and stopwords, not
# rag.store.bm25's bm25s: the database ranks in SQL, so its terms differ on purpose (the answers and the
# verifier use rag.text.terms with either store).
SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_meta (key text PRIMARY KEY, value jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS rag_documents (
    source text PRIMARY KEY,
    sha256 text NOT NULL,
    text text NOT NULL,
    pages jsonb NOT NULL DEFAULT '[]',
    n_chunks integer NOT NULL,
    origin text
);
CREATE TABLE IF NOT EXISTS rag_chunks (
    source text NOT NULL REFERENCES rag_documents (source) ON DELETE CASCADE,
    vid bigint NOT NULL,
    id text NOT NULL,
    ordinal integer NOT NULL,
    start integer NOT NULL,
    "end" integer NOT NULL,
    page integer,
    n_tokens integer NOT NULL,
    text text NOT NULL,
    heading text NOT NULL DEFAULT '',
    ocr boolean NOT NULL DEFAULT false,
    ocr_confidence real,
    embedding vector({dimension}) NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', heading || E'\\n' || text)) STORED,
    PRIMARY KEY (source, vid)
);
CREATE INDEX IF NOT EXISTS rag_chunks_embedding ON rag_chunks USING hnsw (embedding vector_ip_ops);
CREATE INDEX IF NOT EXISTS rag_chunks_tsv ON rag_chunks USING gin (tsv);
"""
# a document's metadata, one row per key, as the folder's chunks.sqlite keeps it (rag.search.filters.stored);
# tables from before metadata gain it on the next update and read as documents without any until then
METADATA = """
CREATE TABLE IF NOT EXISTS rag_metadata (
    source text NOT NULL REFERENCES rag_documents (source) ON DELETE CASCADE,
    key text NOT NULL,
    kind text NOT NULL,
    text text NOT NULL,
    number float8,
    PRIMARY KEY (source, key)
);
CREATE INDEX IF NOT EXISTS rag_metadata_key ON rag_metadata (key, number);
"""
HAS_METADATA = "SELECT to_regclass('rag_metadata') IS NOT NULL"
PUT_METADATA = "INSERT INTO rag_metadata (source, key, kind, text, number) VALUES (%s, %s, %s, %s, %s)"
PUT_DOCUMENT = """INSERT INTO rag_documents (source, sha256, text, pages, n_chunks, origin) VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (source) DO UPDATE SET sha256 = EXCLUDED.sha256, text = EXCLUDED.text, pages = EXCLUDED.pages,
    n_chunks = EXCLUDED.n_chunks, origin = EXCLUDED.origin"""
# tables from before documents had an origin read as documents made in memory until an update adds it
HAS_ORIGIN = """SELECT EXISTS (SELECT FROM pg_attribute
    WHERE attrelid = 'rag_documents'::regclass AND attname = 'origin' AND NOT attisdropped)"""
COUNTS = "SELECT (SELECT count(*) FROM rag_documents), (SELECT count(*) FROM rag_chunks)"
RENUMBER_CHUNK = "UPDATE rag_chunks SET ordinal = %s, page = %s, n_tokens = %s WHERE source = %s AND vid = %s"
COPY_CHUNKS = """COPY rag_chunks (source, vid, id, ordinal, start, "end", page, n_tokens, text, heading, ocr, ocr_confidence, embedding)
    FROM STDIN (FORMAT BINARY)"""
CHUNK_TYPES = ["text", "int8", "text", "int4", "int4", "int4", "int4", "int4", "text", "text", "bool", "float4", "vector"]
PUT_META = "INSERT INTO rag_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"

# Search: the nearest `depth` chunks by vector and the best `depth` by full-text rank (the query's
# stemmed words OR-ed, as BM25 scores any of them), fused as rag.search.fusion does, ties broken alike.
# A filter is a WHERE on each (`{where}`): with hnsw.iterative_scan the index scan goes on until
# `depth` rows pass it, so a selective filter still returns k.
DENSE = """SELECT source, vid, -distance AS score, row_number() OVER (ORDER BY distance) AS rank
    FROM (SELECT source, vid, embedding <#> %(vector)s AS distance FROM rag_chunks WHERE {where}
          ORDER BY distance LIMIT %(depth)s) nearest"""
LEXICAL = """SELECT source, vid, score, row_number() OVER (ORDER BY score DESC, vid) AS rank
    FROM (SELECT source, vid, ts_rank_cd(tsv, terms.q)::float8 AS score
          FROM rag_chunks, (SELECT replace(plainto_tsquery('english', %(text)s)::text, ' & ', ' | ')::tsquery) terms (q)
          WHERE tsv @@ terms.q AND {where} ORDER BY score DESC LIMIT %(depth)s) matched"""
NOTHING = "SELECT NULL::text AS source, NULL::bigint AS vid, NULL::float8 AS score, NULL::bigint AS rank WHERE false"
SCORES = {
    "dense": "d.score",
    "bm25": "l.score",
    "hybrid": "coalesce(%(dense_weight)s::float8 / (%(rrf_k)s + d.rank), 0)"
    " + coalesce(%(bm25_weight)s::float8 / (%(rrf_k)s + l.rank), 0)",
}
SEARCH = """WITH dense AS ({dense}), lexical AS ({lexical}),
fused AS (
    SELECT coalesce(d.source, l.source) AS source, coalesce(d.vid, l.vid) AS vid, {score} AS score,
           d.rank AS dense_rank, l.rank AS bm25_rank, d.score AS dense, l.score AS bm25
    FROM dense d FULL JOIN lexical l ON d.source = l.source AND d.vid = l.vid
)
SELECT f.score, f.dense_rank, f.bm25_rank, f.dense, f.bm25,
       c.id, c.source, c.start, c."end", c.text, c.ordinal, c.page, c.n_tokens, {heading}, c.ocr, c.ocr_confidence
FROM fused f JOIN rag_chunks c ON c.source = f.source AND c.vid = f.vid
ORDER BY f.score DESC, least(f.dense_rank, f.bm25_rank), f.dense_rank NULLS LAST, f.bm25_rank
LIMIT %(k)s"""


class PgBackend:
    """The index of `Settings(store="pgvector")`, in tables rag_meta, rag_documents and rag_chunks
    (an `IndexBackend`)."""

    def __init__(self, settings: Settings, embedder: Embedder):
        if not settings.store_url:
            raise ConfigError("store pgvector needs a database URL: pass --store-url postgresql://USER@HOST:PORT/DB")
        psycopg_modules()
        self.settings, self.embedder, self.url = settings, embedder, settings.store_url
        self._conn: Connection | None = None
        self._lock = threading.RLock()
        self._iterative: bool | None = None  # pgvector 0.8+ (hnsw.iterative_scan), asked once

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def _transaction(self):
        """One transaction on the (re)opened connection; failures become `StoreError`s."""
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.url)
            conn = self._conn
            with guarded(self.url, conn, on_lost=self.close), conn.transaction():
                yield conn

    @overload
    def _meta(self, conn, *, required: Literal[True] = True) -> dict: ...
    @overload
    def _meta(self, conn, *, required: bool) -> dict | None: ...
    def _meta(self, conn, *, required: bool = True) -> dict | None:
        """The meta table's values, checked against this version and embedder."""
        where = display_url(self.url)
        if conn.execute("SELECT to_regclass('rag_meta')").fetchone()[0] is None:
            if required:
                raise IndexNotFoundError(f"no index in {where}: build one with `rag index [PATH ...] {OPTIONS}`")
            return None
        meta = dict(conn.execute("SELECT key, value FROM rag_meta").fetchall())
        check_version(meta.get("format_version"), where, OPTIONS)
        check_model(meta["embedding"], self.embedder.model_id, where, OPTIONS)
        return meta

    def update(self, change: Change, *, rebuild: bool = False, progress: bool = False) -> IndexReport:
        self._add_origin_column()
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('rag.index'))")  # one writer at a time
            meta = None if rebuild else self._meta(conn, required=False)
            exists = meta is not None and meta["chunking"] == chunking(self.settings)  # else: rebuilt
            writer = PgWriter(conn, self.settings, self.embedder, exists=exists)
            return incremental.update(writer, change, self.settings, self.embedder, progress=progress)

    def _add_origin_column(self) -> None:
        """Tables from before documents had an origin (or metadata) gain the column (the table) in a
        transaction of its own: it locks the table for a moment, not readers for a whole update."""
        with self._transaction() as conn:
            if conn.execute("SELECT to_regclass('rag_documents')").fetchone()[0]:
                if not conn.execute(HAS_ORIGIN).fetchone()[0]:
                    conn.execute("ALTER TABLE rag_documents ADD COLUMN IF NOT EXISTS origin text")
                if not conn.execute(HAS_METADATA).fetchone()[0]:
                    conn.execute(METADATA)

    def documents(self) -> list[tuple[str, int]]:
        """(source, number of chunks) of every indexed document, sorted by source."""
        with self._transaction() as conn:
            self._meta(conn)
            return [tuple(row) for row in conn.execute("SELECT source, n_chunks FROM rag_documents ORDER BY source")]

    def metadata(self, sources: list[str] | None = None) -> dict[str, dict[str, MetaValue]]:
        with self._transaction() as conn:
            self._meta(conn)
            return self._metadata(conn, sources)

    @staticmethod
    def _metadata(conn, sources: list[str] | None) -> dict[str, dict[str, MetaValue]]:
        if not conn.execute(HAS_METADATA).fetchone()[0]:
            return {}
        query = "SELECT source, key, kind, text, number FROM rag_metadata"
        if sources is None:
            rows = conn.execute(query + " ORDER BY source, key").fetchall()
        else:
            rows = conn.execute(query + " WHERE source = ANY(%s) ORDER BY source, key", (list(sources),)).fetchall()
        out: dict[str, dict[str, MetaValue]] = {}
        for source, key, kind, text, number in rows:
            out.setdefault(source, {})[key] = loaded(kind, text, number)
        return out

    def metadata_keys(self) -> list[str]:
        with self._transaction() as conn:
            self._meta(conn)
            return self._keys(conn)

    @staticmethod
    def _keys(conn) -> list[str]:
        if not conn.execute(HAS_METADATA).fetchone()[0]:
            return []
        return [key for (key,) in conn.execute("SELECT DISTINCT key FROM rag_metadata ORDER BY key")]

    def document(self, source: str) -> Document | None:
        with self._transaction() as conn:
            self._meta(conn)
            origin = "origin" if conn.execute(HAS_ORIGIN).fetchone()[0] else "NULL"
            query = f"SELECT source, text, sha256, pages, {origin} FROM rag_documents WHERE source = %s"
            row = conn.execute(query, (source,)).fetchone()
            metadata = self._metadata(conn, [source]).get(source, {}) if row else {}
        if row is None:
            return None
        return Document(source=row[0], text=row[1], sha256=row[2], pages=tuple(tuple(p) for p in row[3]), origin=row[4],
                        metadata=metadata)

    def search(self, query: str, *, k: int, mode: str, filters: Filter | None = None) -> list[Hit]:
        """Nearest vectors, full-text rank, or both fused, in one statement (each `candidates` deep);
        `filters` is a WHERE on both searches."""
        s = self.settings
        depth = max(k, s.candidates) if mode == "hybrid" else k
        params = {"text": query, "depth": depth, "k": k, "rrf_k": s.rrf_k}
        params.update(dense_weight=s.dense_weight, bm25_weight=s.bm25_weight)
        where = "TRUE"
        if filters is not None:
            where, more = filters.sql(documents="rag_chunks.source", metadata="rag_metadata", dialect="postgres")
            params.update(more)
        if mode != "bm25":
            params["vector"] = self.embedder.embed([query], query=True)[0]
        dense = NOTHING if mode == "bm25" else DENSE.format(where=where)
        lexical = NOTHING if mode == "dense" else LEXICAL.format(where=where)
        with self._transaction() as conn:
            meta = self._meta(conn)
            if filters is not None:
                filters.check(self._keys(conn))
            # tables from before chunks had headings: searchable as they are until `rag index` rebuilds them
            heading = "c.heading" if "context" in meta["chunking"] else "''"
            sql = SEARCH.format(dense=dense, lexical=lexical, score=SCORES[mode], heading=heading)
            if self._iterative is None:
                self._iterative = iterative_scan(conn)
            tune_search(conn, depth, self._iterative)
            if filters is not None and not self._iterative:  # an HNSW scan would stop at ef_search rows
                conn.execute("SET LOCAL enable_indexscan = off")  # exact: every kept row is scored
            rows = conn.execute(sql, params).fetchall()
            found = self._metadata(conn, sorted({row[6] for row in rows})) if rows else {}  # row[6]: c.source
        hits: list[Hit] = []
        for fused, dense_rank, bm25_rank, dense, bm25, *chunk in rows:
            ranks, raw = {"dense_rank": dense_rank, "bm25_rank": bm25_rank}, {"dense": dense, "bm25": bm25}
            detail: dict[str, float] = {name: int(v) for name, v in ranks.items() if v is not None}
            detail.update({name: float(v) for name, v in raw.items() if v is not None})
            cid, source, start, end, text, ordinal, page, n_tokens, heading, ocr, confidence = chunk
            confidence = None if confidence is None else round(confidence, 4)  # a real: as it was stored
            hit_chunk = Chunk(cid, source, start, end, text, ordinal, page, n_tokens, heading, ocr, confidence)
            hit_chunk = replace(hit_chunk, metadata=found[hit_chunk.source]) if hit_chunk.source in found else hit_chunk
            hits.append(Hit(chunk=hit_chunk, score=float(fused), rank=len(hits) + 1, scores=detail))
        return hits


class PgWriter:
    """One update of the tables, inside the caller's transaction (an `IndexWriter`)."""

    def __init__(self, conn, settings: Settings, embedder: Embedder, *, exists: bool):
        self.conn, self.settings, self.embedder, self.exists = conn, settings, embedder, exists

    def indexed(self) -> dict[str, tuple[str, str | None]]:
        if not self.exists:
            return {}
        rows = self.conn.execute("SELECT source, sha256, origin FROM rag_documents").fetchall()
        return {source: (sha256, origin) for source, sha256, origin in rows}

    def counts(self) -> tuple[int, int]:
        return tuple(self.conn.execute(COUNTS).fetchone())

    def begin(self) -> None:
        if not self.exists:  # none yet, a rebuild, or other chunking: new tables
            self.conn.execute("DROP TABLE IF EXISTS rag_metadata, rag_chunks, rag_documents, rag_meta")
            self.conn.execute(SCHEMA.format(dimension=int(self.embedder.dimension)))
            self.conn.execute(METADATA)

    def chunk_ids(self, source: str) -> dict[str, int]:
        return dict(self.conn.execute("SELECT id, vid FROM rag_chunks WHERE source = %s", (source,)).fetchall())

    def put(self, document: Document, chunks: list[Chunk], previous: dict[str, int]) -> None:
        """The document row; its vanished chunks deleted, its kept ones renumbered."""
        from psycopg.types.json import Jsonb

        vanished = "DELETE FROM rag_chunks WHERE source = %s AND NOT (id = ANY(%s))"
        self.conn.execute(vanished, (document.source, [c.id for c in chunks]))
        pages = Jsonb([list(p) for p in document.pages])
        row = (document.source, document.sha256, document.text, pages, len(chunks), document.origin)
        self.conn.execute(PUT_DOCUMENT, row)
        kept = [(c.ordinal, c.page, c.n_tokens, c.source, previous[c.id]) for c in chunks if c.id in previous]
        if kept:
            with self.conn.cursor() as cur:
                cur.executemany(RENUMBER_CHUNK, kept)
        self.set_metadata(document.source, document.metadata)

    def set_origin(self, source: str, origin: str | None) -> None:
        self.conn.execute("UPDATE rag_documents SET origin = %s WHERE source = %s", (origin, source))

    def metadata(self) -> dict[str, dict]:
        return PgBackend._metadata(self.conn, None) if self.exists else {}

    def set_metadata(self, source: str, metadata: dict) -> None:
        self.conn.execute("DELETE FROM rag_metadata WHERE source = %s", (source,))
        if metadata:
            with self.conn.cursor() as cur:
                cur.executemany(PUT_METADATA, [(source, key, *stored(value)) for key, value in metadata.items()])

    def remove(self, sources: set[str]) -> None:
        if sources:  # their chunks go with them (ON DELETE CASCADE)
            self.conn.execute("DELETE FROM rag_documents WHERE source = ANY(%s)", (sorted(sources),))

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        with self.conn.cursor() as cur, cur.copy(COPY_CHUNKS) as copy:
            copy.set_types(CHUNK_TYPES)
            for c, v in zip(chunks, vectors):
                row = (c.source, vector_id(c.id), c.id, c.ordinal, c.start, c.end, c.page, c.n_tokens, c.text, c.heading, c.ocr, c.ocr_confidence)
                copy.write_row((*row, v))

    def commit(self) -> tuple[int, int]:
        """Write the meta table; the caller's transaction commits it all."""
        from psycopg.types.json import Jsonb

        values = {
            "format_version": FORMAT_VERSION,
            "embedding": {"model": self.embedder.model_id, "dimension": self.embedder.dimension, "normalized": True},
            "chunking": chunking(self.settings),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        with self.conn.cursor() as cur:
            cur.executemany(PUT_META, [(key, Jsonb(value)) for key, value in values.items()])
        return self.counts()
