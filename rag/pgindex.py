"""The whole index in PostgreSQL + pgvector: what `Settings(store="pgvector", store_url=...)` uses.

Documents, chunks, vectors and full text in tables rag_meta, rag_documents and rag_chunks; the same
incremental indexing as the FAISS folder index, each run one transaction (a killed run changes
nothing), and hybrid search (vector rank and `ts_rank_cd` full-text rank fused by reciprocal rank
fusion) in one SQL statement. It never embeds by itself: vectors come from the embedder it is given.
"""


import contextlib
import threading
import time
from pathlib import Path


from .chunks import split_document, vector_id
from .documents import display_path, load_paths
from .embeddings import Embedder
from .errors import ConfigError, IndexMismatchError, IndexNotFoundError, RagError
from .index import IndexReport, _chunking, _count_truncated, _progress
from .retrieve import MODES
from .settings import Settings
from .types import Chunk, Document, Hit

from .pgstore import _psycopg, display_url, connect, _guard, _tune_search

FORMAT_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_meta (key text PRIMARY KEY, value jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS rag_documents (
    source text PRIMARY KEY,
    sha256 text NOT NULL,
    text text NOT NULL,
    pages jsonb NOT NULL DEFAULT '[]',
    n_chunks integer NOT NULL
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
    embedding vector({dimension}) NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', heading || E'\\n' || text)) STORED,
    PRIMARY KEY (source, vid)
);
CREATE INDEX IF NOT EXISTS rag_chunks_embedding ON rag_chunks USING hnsw (embedding vector_ip_ops);
CREATE INDEX IF NOT EXISTS rag_chunks_tsv ON rag_chunks USING gin (tsv);
"""
PUT_DOCUMENT = """INSERT INTO rag_documents (source, sha256, text, pages, n_chunks) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (source) DO UPDATE
    SET sha256 = EXCLUDED.sha256, text = EXCLUDED.text, pages = EXCLUDED.pages, n_chunks = EXCLUDED.n_chunks"""
RENUMBER_CHUNK = "UPDATE rag_chunks SET ordinal = %s, page = %s, n_tokens = %s WHERE source = %s AND vid = %s"
COPY_CHUNKS = """COPY rag_chunks (source, vid, id, ordinal, start, "end", page, n_tokens, text, heading, embedding)
    FROM STDIN (FORMAT BINARY)"""
CHUNK_TYPES = ["text", "int8", "text", "int4", "int4", "int4", "int4", "int4", "text", "text", "vector"]
PUT_META = "INSERT INTO rag_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"

# Search: the nearest `depth` chunks by vector and the best `depth` by full-text rank (the query's
# stemmed words OR-ed, as BM25 scores any of them), fused as rag.fusion does, ties broken alike.
DENSE = """SELECT source, vid, -distance AS score, row_number() OVER (ORDER BY distance) AS rank
    FROM (SELECT source, vid, embedding <#> %(vector)s AS distance FROM rag_chunks
          ORDER BY distance LIMIT %(depth)s) nearest"""
LEXICAL = """SELECT source, vid, score, row_number() OVER (ORDER BY score DESC, vid) AS rank
    FROM (SELECT source, vid, ts_rank_cd(tsv, terms.q)::float8 AS score
          FROM rag_chunks, (SELECT replace(plainto_tsquery('english', %(text)s)::text, ' & ', ' | ')::tsquery) terms (q)
          WHERE tsv @@ terms.q ORDER BY score DESC LIMIT %(depth)s) matched"""
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
       c.id, c.source, c.start, c."end", c.text, c.ordinal, c.page, c.n_tokens, {heading}
FROM fused f JOIN rag_chunks c ON c.source = f.source AND c.vid = f.vid
ORDER BY f.score DESC, least(f.dense_rank, f.bm25_rank), f.dense_rank NULLS LAST, f.bm25_rank
LIMIT %(k)s"""


class PgBackend:
    """The index of `Settings(store="pgvector")`, in tables rag_meta, rag_documents and rag_chunks."""

    def __init__(self, settings: Settings, embedder: Embedder):
        if not settings.store_url:
            raise ConfigError("store pgvector needs a database URL: pass --store-url postgresql://USER@HOST:PORT/DB")
        _psycopg()
        self.settings, self.embedder, self.url = settings, embedder, settings.store_url
        self._conn = None
        self._lock = threading.RLock()

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
            with _guard(self.url, conn, on_lost=self.close), conn.transaction():
                yield conn

    def _meta(self, conn, *, required: bool = True) -> dict | None:
        """The meta table's values, checked against this version and embedder."""
        where = display_url(self.url)
        if conn.execute("SELECT to_regclass('rag_meta')").fetchone()[0] is None:
            if required:
                raise IndexNotFoundError(
                    f"no index in {where}: build one with `rag index [PATH ...] --store pgvector --store-url URL`"
                )
            return None
        meta = dict(conn.execute("SELECT key, value FROM rag_meta").fetchall())
        version, built, model = meta.get("format_version"), meta["embedding"], self.embedder.model_id
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise IndexMismatchError(
                f"{where} holds index format {version}, newer than this version of rag reads ({FORMAT_VERSION}): "
                "upgrade rag, or rebuild with `rag index --rebuild --store pgvector`"
            )
        if built["model"] != model:
            raise IndexMismatchError(
                f"{where} was built with embedding model '{built['model']}' ({built['dimension']} dims), not "
                f"'{model}': use --model {built['model']}, or rebuild with "
                f"`rag index --rebuild --model {model} --store pgvector --store-url URL`"
            )
        return meta

    def _write_meta(self, conn) -> None:
        from psycopg.types.json import Jsonb

        values = {
            "format_version": FORMAT_VERSION,
            "embedding": {"model": self.embedder.model_id, "dimension": self.embedder.dimension, "normalized": True},
            "chunking": _chunking(self.settings),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        with conn.cursor() as cur:
            cur.executemany(PUT_META, [(key, Jsonb(value)) for key, value in values.items()])

    # indexing
    def index(self, paths: list, *, rebuild: bool = False, prune: bool = True, progress: bool = False) -> IndexReport:
        """Index files and folders; with `prune`, drop indexed documents no longer found under them."""
        started = time.perf_counter()
        documents, skipped = load_paths(
            paths, max_document_chars=self.settings.max_document_chars, max_docx_xml_bytes=self.settings.max_docx_xml_bytes
        )
        roots = [display_path(Path(p)) for p in paths if Path(p).exists()] if prune else []
        found = {d.source for d in documents} | {s.source for s in skipped}

        def gone(indexed: set[str]) -> set[str]:
            def under_a_root(source: str) -> bool:
                return any(source == r or source.startswith(r.rstrip("/") + "/") for r in roots)

            return {s for s in indexed if s not in found and under_a_root(s)}

        return self._update(documents, gone, skipped=skipped, rebuild=rebuild, progress=progress, started=started)

    def add_documents(self, documents: list[Document], *, progress: bool = False) -> IndexReport:
        return self._update(list(documents), lambda indexed: set(), progress=progress)

    def remove(self, sources: list[str]) -> IndexReport:
        def named(indexed: set[str]) -> set[str]:
            missing = [s for s in sources if s not in indexed]
            if missing:
                raise RagError(f"not in the index: {', '.join(missing)} (see `rag docs` for the indexed documents)")
            return set(sources)

        return self._update([], named)

    def _update(self, documents, removing, *, skipped=(), rebuild=False, progress=False, started=None) -> IndexReport:
        """One transaction: embed new chunks only, keep unchanged ones, delete what `removing` picks."""
        started = started or time.perf_counter()
        settings = self.settings
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('rag.index'))")  # one writer at a time
            meta = None if rebuild else self._meta(conn, required=False)
            if meta is not None and meta["chunking"] != _chunking(settings):
                rebuild = True  # different chunking: every chunk changes
            if rebuild:
                conn.execute("DROP TABLE IF EXISTS rag_chunks, rag_documents, rag_meta")
            if rebuild or meta is None:
                conn.execute(SCHEMA.format(dimension=int(self.embedder.dimension)))
            hashes = dict(conn.execute("SELECT source, sha256 FROM rag_documents").fetchall())
            removed = removing(set(hashes))
            new = [d for d in documents if d.source not in hashes]
            changed = [d for d in documents if d.source in hashes and hashes[d.source] != d.sha256]

            to_embed: list[Chunk] = []
            reused = 0
            bar = _progress(len(new) + len(changed), "chunking", progress)
            for doc in new + changed:
                chunks = split_document(doc, settings.chunk_tokens, settings.chunk_overlap)
                fresh = self._put_document(conn, doc, chunks, known=doc.source in hashes)
                to_embed += fresh
                reused += len(chunks) - len(fresh)
                bar.update(1)
            bar.close()
            if removed:  # their chunks go with them (ON DELETE CASCADE)
                conn.execute("DELETE FROM rag_documents WHERE source = ANY(%s)", (sorted(removed),))
            truncated = _count_truncated(self.embedder, to_embed)
            self._embed_into(conn, to_embed, progress)
            if new or changed or removed or meta is None:
                self._write_meta(conn)
            counts = "SELECT (SELECT count(*) FROM rag_documents), (SELECT count(*) FROM rag_chunks)"
            n_docs, n_chunks = conn.execute(counts).fetchone()
        return IndexReport(
            documents=n_docs,
            chunks=n_chunks,
            new=tuple(d.source for d in new),
            changed=tuple(d.source for d in changed),
            removed=tuple(sorted(removed)),
            unchanged=len(documents) - len(new) - len(changed),
            embedded=len(to_embed),
            reused=reused,
            truncated=truncated,
            skipped=tuple(skipped),
            seconds=time.perf_counter() - started,
        )

    def _put_document(self, conn, doc: Document, chunks: list[Chunk], *, known: bool) -> list[Chunk]:
        """Write the document row, drop its vanished chunks, renumber kept ones; return the new ones."""
        from psycopg.types.json import Jsonb

        query = "SELECT id, vid FROM rag_chunks WHERE source = %s"
        previous = dict(conn.execute(query, (doc.source,)).fetchall()) if known else {}
        vanished = "DELETE FROM rag_chunks WHERE source = %s AND NOT (id = ANY(%s))"
        conn.execute(vanished, (doc.source, [c.id for c in chunks]))
        pages = Jsonb([list(p) for p in doc.pages])
        conn.execute(PUT_DOCUMENT, (doc.source, doc.sha256, doc.text, pages, len(chunks)))
        kept = [(c.ordinal, c.page, c.n_tokens, c.source, previous[c.id]) for c in chunks if c.id in previous]
        if kept:
            with conn.cursor() as cur:
                cur.executemany(RENUMBER_CHUNK, kept)
        return [c for c in chunks if c.id not in previous]

    def _embed_into(self, conn, chunks: list[Chunk], progress: bool) -> None:
        """Embed in length-sorted batches (little padding); COPY each batch in as it is ready."""
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].indexed_text))
        step = getattr(self.embedder, "texts_per_call", max(self.settings.embedding_batch_size * 8, 256))
        bar = _progress(len(chunks), "embedding", progress, unit="chunk")
        for i in range(0, len(order), step):
            part = [chunks[j] for j in order[i : i + step]]
            vectors = self.embedder.embed([c.indexed_text for c in part])
            with conn.cursor() as cur, cur.copy(COPY_CHUNKS) as copy:
                copy.set_types(CHUNK_TYPES)
                for c, v in zip(part, vectors):
                    row = (c.source, vector_id(c.id), c.id, c.ordinal, c.start, c.end, c.page, c.n_tokens, c.text, c.heading, v)
                    copy.write_row(row)
            bar.update(len(part))
        bar.close()

    # reading
    def documents(self) -> list[tuple[str, int]]:
        """(source, number of chunks) of every indexed document, sorted by source."""
        with self._transaction() as conn:
            self._meta(conn)
            return [tuple(row) for row in conn.execute("SELECT source, n_chunks FROM rag_documents ORDER BY source")]

    def document(self, source: str) -> Document | None:
        with self._transaction() as conn:
            self._meta(conn)
            query = "SELECT source, text, sha256, pages FROM rag_documents WHERE source = %s"
            row = conn.execute(query, (source,)).fetchone()
        if row is None:
            return None
        return Document(source=row[0], text=row[1], sha256=row[2], pages=tuple(tuple(p) for p in row[3]))

    def search(self, query: str, *, k: int, mode: str) -> list[Hit]:
        """Hits with the scores keys rag.retrieve gives: dense_rank, bm25_rank, dense, bm25."""
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode '{mode}'; known: {', '.join(MODES)}")
        s = self.settings
        depth = max(k, s.candidates) if mode == "hybrid" else k
        params = {"text": query, "depth": depth, "k": k, "rrf_k": s.rrf_k}
        params.update(dense_weight=s.dense_weight, bm25_weight=s.bm25_weight)
        if mode != "bm25":
            params["vector"] = self.embedder.embed([query], query=True)[0]
        dense, lexical = (NOTHING if mode == "bm25" else DENSE), (NOTHING if mode == "dense" else LEXICAL)
        with self._transaction() as conn:
            meta = self._meta(conn)
            # tables from before chunks had headings: searchable as they are until `rag index` rebuilds them
            heading = "c.heading" if "context" in meta["chunking"] else "''"
            sql = SEARCH.format(dense=dense, lexical=lexical, score=SCORES[mode], heading=heading)
            _tune_search(conn, depth)
            rows = conn.execute(sql, params).fetchall()
        hits = []
        for fused, dense_rank, bm25_rank, dense, bm25, *chunk in rows:
            ranks, raw = {"dense_rank": dense_rank, "bm25_rank": bm25_rank}, {"dense": dense, "bm25": bm25}
            detail = {name: int(v) for name, v in ranks.items() if v is not None}
            detail.update({name: float(v) for name, v in raw.items() if v is not None})
            hits.append(Hit(chunk=Chunk(*chunk), score=float(fused), rank=len(hits) + 1, scores=detail))
        return hits
