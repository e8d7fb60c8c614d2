"""PostgreSQL + pgvector: a `VectorStore`, and a whole index (documents, chunks, vectors, full text).

`PgVectorStore` stands in for `FaissStore`: ids plus vectors, inner product, an HNSW index.
`PgBackend` is what `Settings(store="pgvector", store_url=...)` uses: the same incremental
indexing as the FAISS folder index, each run one transaction (a killed run changes nothing), and
hybrid search (vector rank and `ts_rank_cd` full-text rank fused by reciprocal rank fusion) in
one SQL statement. It never embeds by itself: vectors come from the embedder it is given.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import numpy as np

from .chunks import split_document, vector_id
from .documents import display_path, load_paths
from .embeddings import Embedder
from .errors import ConfigError, IndexMismatchError, IndexNotFoundError, MissingDependencyError, RagError, StoreError
from .index import IndexReport, _chunking, _count_truncated, _progress
from .retrieve import MODES
from .settings import Settings
from .types import Chunk, Document, Hit

FORMAT_VERSION = 1
MISSING_SCORE = np.finfo(np.float32).min  # what FAISS puts in empty result slots


def _psycopg():
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError as err:
        raise MissingDependencyError("psycopg and pgvector", "pip install 'psycopg[binary]' pgvector") from err
    return psycopg, register_vector


def display_url(url: str) -> str:
    """The database URL without its password, for messages."""
    psycopg, _ = _psycopg()
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the configured database URL"
    user = f"{info['user']}@" if info.get("user") else ""
    return f"postgresql://{user}{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def _line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [err.__class__.__name__])[0]


def connect(url: str):
    """An autocommit connection with the pgvector types registered (creating the extension if allowed)."""
    psycopg, register_vector = _psycopg()
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as err:
        raise StoreError(f"cannot reach PostgreSQL at {display_url(url)}: is the server running? ({_line(err)})") from err
    except psycopg.ProgrammingError as err:
        raise ConfigError(f"bad database URL '{display_url(url)}': {_line(err)}") from err
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:  # the vector type is not in this database yet
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(conn)
        except psycopg.Error as err:
            conn.close()
            raise StoreError(
                f"pgvector is not installed in {display_url(url)}: run `CREATE EXTENSION vector` there as a superuser"
            ) from err
    return conn


@contextlib.contextmanager
def _guard(url: str, conn, on_lost=None):
    """Turn database failures into one-line `StoreError`s; a lost connection calls `on_lost`."""
    psycopg, _ = _psycopg()
    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as err:
        if conn.broken or conn.closed:
            if on_lost:
                on_lost()
            raise StoreError(
                f"lost the connection to PostgreSQL at {display_url(url)}: is the server running? "
                f"Retry once it is back ({_line(err)})"
            ) from err
        raise StoreError(f"PostgreSQL at {display_url(url)} failed: {_line(err)}") from err
    except psycopg.Error as err:
        raise StoreError(f"PostgreSQL at {display_url(url)} refused the operation: {_line(err)}") from err


def _tune_search(conn, depth: int) -> None:
    """HNSW returns at most ef_search rows; widen it for deep queries and let the scan continue."""
    ef = min(1000, max(100, 2 * depth))
    conn.execute(
        "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'strict_order', true)",
        (str(ef),),
    )


class PgVectorStore:
    """Nearest neighbours by inner product over an HNSW index (vector_ip_ops) in one table.

    Writes join the connection's open transaction and reach other sessions on `save()` (a
    commit), as a FAISS index changes in memory until it is saved. Adding an id that is already
    present replaces its vector.
    """

    def __init__(self, url: str, dimension: int, table: str = "rag_vectors"):
        psycopg, _ = _psycopg()
        self.url, self.dimension, self.name = url, int(dimension), table
        self.table = psycopg.sql.Identifier(table)
        self._conn = None
        with self._guarded() as conn:
            sql = psycopg.sql.SQL
            conn.execute(sql(f"CREATE TABLE IF NOT EXISTS {{}} (id bigint PRIMARY KEY, embedding vector({self.dimension}) NOT NULL)").format(self.table))
            conn.execute(sql("CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding vector_ip_ops)").format(psycopg.sql.Identifier(f"{table}_hnsw"), self.table))
            stored = conn.execute("SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'embedding'", (table,)).fetchone()
            conn.commit()
        if stored and stored[0] != self.dimension:
            raise StoreError(f"table {table} in {display_url(url)} holds {stored[0]}-dimensional vectors, not {self.dimension}")

    @contextlib.contextmanager
    def _guarded(self):
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url)
            self._conn.autocommit = False
        with _guard(self.url, self._conn):
            yield self._conn

    def __len__(self) -> int:
        with self._guarded() as conn:
            return int(conn.execute(self._sql("SELECT count(*) FROM {}")).fetchone()[0])

    def _sql(self, text: str):
        psycopg, _ = _psycopg()
        return psycopg.sql.SQL(text).format(self.table)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise StoreError(f"expected vectors of dimension {self.dimension}, got shape {vectors.shape}")
        rows = [(int(i), v) for i, v in zip(np.asarray(ids, dtype=np.int64), vectors)]
        with self._guarded() as conn, conn.cursor() as cur:
            cur.executemany(
                self._sql("INSERT INTO {} (id, embedding) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding"),
                rows,
            )

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        scores = np.full((len(queries), k), MISSING_SCORE, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        query = self._sql("SELECT id, -distance FROM (SELECT id, embedding <#> %s AS distance FROM {} ORDER BY distance LIMIT %s) nearest ORDER BY distance")
        with self._guarded() as conn:
            _tune_search(conn, k)
            for row, vector in enumerate(queries):
                found = conn.execute(query, (vector, k)).fetchall()
                for col, (vid, score) in enumerate(found):
                    ids[row, col], scores[row, col] = vid, score
        return scores, ids

    def delete(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        with self._guarded() as conn:
            cur = conn.execute(self._sql("DELETE FROM {} WHERE id = ANY(%s)"), ([int(i) for i in ids],))
            return cur.rowcount

    def save(self, folder: Path | None = None) -> None:
        """Commit. `folder` is unused: the vectors live in the database."""
        with self._guarded() as conn:
            conn.commit()

    def close(self) -> None:
        """Close the connection; uncommitted changes are dropped."""
        if self._conn is not None:
            self._conn.close()


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
    embedding vector({dimension}) NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    PRIMARY KEY (source, vid)
);
CREATE INDEX IF NOT EXISTS rag_chunks_embedding ON rag_chunks USING hnsw (embedding vector_ip_ops);
CREATE INDEX IF NOT EXISTS rag_chunks_tsv ON rag_chunks USING gin (tsv);
"""
CHUNK_COPY = 'COPY rag_chunks (source, vid, id, ordinal, start, "end", page, n_tokens, text, embedding) FROM STDIN (FORMAT BINARY)'
CHUNK_TYPES = ["text", "int8", "text", "int4", "int4", "int4", "int4", "int4", "text", "vector"]

# Hybrid search: the nearest `depth` chunks by vector and the best `depth` by full-text rank
# (the query's stemmed words OR-ed, as BM25 scores any word), fused as rag.fusion does it.
DENSE = """SELECT source, vid, -distance AS score, row_number() OVER (ORDER BY distance) AS rank
    FROM (SELECT source, vid, embedding <#> %(vector)s AS distance FROM rag_chunks
          ORDER BY distance LIMIT %(depth)s) nearest"""
LEXICAL = """SELECT source, vid, score, row_number() OVER (ORDER BY score DESC, vid) AS rank
    FROM (SELECT source, vid, ts_rank_cd(tsv, terms.q)::float8 AS score
          FROM rag_chunks, (SELECT replace(plainto_tsquery('english', %(text)s)::text, ' & ', ' | ')::tsquery AS q) terms
          WHERE tsv @@ terms.q ORDER BY score DESC LIMIT %(depth)s) matched"""
NOTHING = "SELECT NULL::text AS source, NULL::bigint AS vid, NULL::float8 AS score, NULL::bigint AS rank WHERE false"
RRF = "coalesce(%(dense_weight)s::float8 / (%(rrf_k)s::float8 + d.rank), 0) + coalesce(%(bm25_weight)s::float8 / (%(rrf_k)s::float8 + l.rank), 0)"
SEARCH = """WITH dense AS ({dense}), lexical AS ({lexical}),
fused AS (
    SELECT coalesce(d.source, l.source) AS source, coalesce(d.vid, l.vid) AS vid, {score} AS score,
           d.rank AS dense_rank, l.rank AS bm25_rank, d.score AS dense, l.score AS bm25
    FROM dense d FULL JOIN lexical l ON d.source = l.source AND d.vid = l.vid
)
SELECT f.score, f.dense_rank, f.bm25_rank, f.dense, f.bm25, c.id, c.source, c.start, c."end", c.text, c.ordinal, c.page, c.n_tokens
FROM fused f JOIN rag_chunks c ON c.source = f.source AND c.vid = f.vid
ORDER BY f.score DESC, least(f.dense_rank, f.bm25_rank), f.dense_rank NULLS LAST, f.bm25_rank
LIMIT %(k)s"""


class PgBackend:
    """The index of `Settings(store="pgvector")`: tables rag_meta, rag_documents, rag_chunks."""

    def __init__(self, settings: Settings, embedder: Embedder):
        if not settings.store_url:
            raise ConfigError("store pgvector needs a database URL: pass --store-url postgresql://USER@HOST:PORT/DBNAME")
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
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.url)
            conn = self._conn
            with _guard(self.url, conn, on_lost=self.close), conn.transaction():
                yield conn

    # the meta table
    def _meta(self, conn, *, required: bool = True) -> dict | None:
        if conn.execute("SELECT to_regclass('rag_meta')").fetchone()[0] is None:
            if required:
                raise IndexNotFoundError(
                    f"no index in {display_url(self.url)}: build one with `rag index [PATH ...] --store pgvector --store-url URL`"
                )
            return None
        meta = dict(conn.execute("SELECT key, value FROM rag_meta").fetchall())
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise IndexMismatchError(
                f"{display_url(self.url)} holds index format {version}, newer than this version of rag reads "
                f"({FORMAT_VERSION}): upgrade rag, or rebuild with `rag index --rebuild --store pgvector`"
            )
        built = meta["embedding"]
        if built["model"] != self.embedder.model_id:
            raise IndexMismatchError(
                f"{display_url(self.url)} was built with embedding model '{built['model']}' ({built['dimension']} dims), "
                f"not '{self.embedder.model_id}': use --model {built['model']}, or rebuild with "
                f"`rag index --rebuild --model {self.embedder.model_id} --store pgvector`"
            )
        return meta

    def _write_meta(self, conn) -> None:
        values = {
            "format_version": FORMAT_VERSION,
            "embedding": {"model": self.embedder.model_id, "dimension": self.embedder.dimension, "normalized": True},
            "chunking": _chunking(self.settings),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        from psycopg.types.json import Jsonb

        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO rag_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                [(key, Jsonb(value)) for key, value in values.items()],
            )

    # indexing
    def index(self, paths: list, *, rebuild: bool = False, prune: bool = True, progress: bool = False) -> IndexReport:
        started = time.perf_counter()
        documents, skipped = load_paths(paths)
        roots = [display_path(Path(p)) for p in paths if Path(p).exists()] if prune else None
        found = {d.source for d in documents} | {s.source for s in skipped}
        return self._update(documents, roots=roots, found=found, skipped=skipped, rebuild=rebuild, progress=progress, started=started)

    def add_documents(self, documents: list[Document], *, progress: bool = False) -> IndexReport:
        return self._update(list(documents), progress=progress)

    def remove(self, sources: list[str]) -> IndexReport:
        return self._update([], remove=set(sources))

    def _update(self, documents, *, roots=None, found=(), remove=(), skipped=(), rebuild=False, progress=False, started=None) -> IndexReport:
        started = started or time.perf_counter()
        settings, embedder = self.settings, self.embedder
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('rag.index'))")  # one writer at a time
            meta = self._meta(conn, required=False) if not rebuild else None
            if meta is not None and meta["chunking"] != _chunking(settings):
                rebuild = True  # different chunking: every chunk changes
            if rebuild:
                conn.execute("DROP TABLE IF EXISTS rag_chunks, rag_documents, rag_meta")
            if rebuild or meta is None:
                conn.execute(SCHEMA.format(dimension=int(embedder.dimension)))
            hashes = dict(conn.execute("SELECT source, sha256 FROM rag_documents").fetchall())
            missing = [s for s in remove if s not in hashes]
            if missing:
                raise RagError(f"not in the index: {', '.join(missing)} (see `rag docs` for the indexed documents)")
            removed = set(remove)
            for source in hashes if roots is not None else ():
                if source not in found and any(source == r or source.startswith(r.rstrip("/") + "/") for r in roots):
                    removed.add(source)
            new = [d for d in documents if d.source not in hashes]
            changed = [d for d in documents if d.source in hashes and hashes[d.source] != d.sha256]
            unchanged = len(documents) - len(new) - len(changed)

            to_embed: list[Chunk] = []
            reused = 0
            bar = _progress(len(new) + len(changed), "chunking", progress)
            for doc in new + changed:
                chunks = split_document(doc, settings.chunk_tokens, settings.chunk_overlap)
                reused += self._put_document(conn, doc, chunks, to_embed, doc.source in hashes)
                bar.update(1)
            bar.close()
            if removed:
                conn.execute("DELETE FROM rag_documents WHERE source = ANY(%s)", (sorted(removed),))
            truncated = _count_truncated(embedder, to_embed)
            self._embed_into(conn, to_embed, progress)
            if new or changed or removed or meta is None:
                self._write_meta(conn)
            n_docs, n_chunks = conn.execute("SELECT (SELECT count(*) FROM rag_documents), (SELECT count(*) FROM rag_chunks)").fetchone()
        return IndexReport(
            documents=n_docs,
            chunks=n_chunks,
            new=tuple(d.source for d in new),
            changed=tuple(d.source for d in changed),
            removed=tuple(sorted(removed)),
            unchanged=unchanged,
            embedded=len(to_embed),
            reused=reused,
            truncated=truncated,
            skipped=tuple(skipped),
            seconds=time.perf_counter() - started,
        )

    def _put_document(self, conn, doc: Document, chunks: list[Chunk], to_embed: list[Chunk], known: bool) -> int:
        """Write the document row, drop its vanished chunks, renumber kept ones; queue new ones. Returns #kept."""
        from psycopg.types.json import Jsonb

        previous = dict(conn.execute("SELECT id, vid FROM rag_chunks WHERE source = %s", (doc.source,)).fetchall()) if known else {}
        current = [c.id for c in chunks]
        conn.execute("DELETE FROM rag_chunks WHERE source = %s AND NOT (id = ANY(%s))", (doc.source, current))
        conn.execute(
            "INSERT INTO rag_documents (source, sha256, text, pages, n_chunks) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (source) DO UPDATE SET sha256 = EXCLUDED.sha256, text = EXCLUDED.text, pages = EXCLUDED.pages, n_chunks = EXCLUDED.n_chunks",
            (doc.source, doc.sha256, doc.text, Jsonb([list(p) for p in doc.pages]), len(chunks)),
        )
        kept = [c for c in chunks if c.id in previous]
        if kept:
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE rag_chunks SET ordinal = %s, page = %s, n_tokens = %s WHERE source = %s AND vid = %s",
                    [(c.ordinal, c.page, c.n_tokens, c.source, previous[c.id]) for c in kept],
                )
        to_embed.extend(c for c in chunks if c.id not in previous)
        return len(kept)

    def _embed_into(self, conn, chunks: list[Chunk], progress: bool) -> None:
        """Embed in length-sorted batches and COPY each batch in as it is ready."""
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].text))
        step = getattr(self.embedder, "texts_per_call", max(self.settings.embedding_batch_size * 8, 256))
        bar = _progress(len(chunks), "embedding", progress, unit="chunk")
        for i in range(0, len(order), step):
            part = [chunks[j] for j in order[i : i + step]]
            vectors = self.embedder.embed([c.text for c in part])
            with conn.cursor() as cur, cur.copy(CHUNK_COPY) as copy:
                copy.set_types(CHUNK_TYPES)
                for c, v in zip(part, vectors):
                    copy.write_row((c.source, vector_id(c.id), c.id, c.ordinal, c.start, c.end, c.page, c.n_tokens, c.text, v))
            bar.update(len(part))
        bar.close()

    # reading
    def documents(self) -> list[tuple[str, int]]:
        with self._transaction() as conn:
            self._meta(conn)
            return [tuple(r) for r in conn.execute("SELECT source, n_chunks FROM rag_documents ORDER BY source")]

    def document(self, source: str) -> Document | None:
        with self._transaction() as conn:
            self._meta(conn)
            row = conn.execute("SELECT source, text, sha256, pages FROM rag_documents WHERE source = %s", (source,)).fetchone()
        if row is None:
            return None
        return Document(source=row[0], text=row[1], sha256=row[2], pages=tuple(tuple(p) for p in row[3]))

    def search(self, query: str, *, k: int, mode: str) -> list[Hit]:
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode '{mode}'; known: {', '.join(MODES)}")
        s = self.settings
        depth = max(k, s.candidates) if mode == "hybrid" else k
        params = {"text": query, "depth": depth, "k": k, "rrf_k": s.rrf_k, "dense_weight": s.dense_weight, "bm25_weight": s.bm25_weight}
        if mode != "bm25":
            params["vector"] = self.embedder.embed([query], query=True)[0]
        score = {"dense": "d.score", "bm25": "l.score", "hybrid": RRF}[mode]
        sql = SEARCH.format(
            dense=DENSE if mode != "bm25" else NOTHING, lexical=LEXICAL if mode != "dense" else NOTHING, score=score
        )
        with self._transaction() as conn:
            self._meta(conn)
            _tune_search(conn, depth)
            rows = conn.execute(sql, params).fetchall()
        hits = []
        for fused, dense_rank, bm25_rank, dense, bm25, *chunk in rows:
            ranks = {"dense_rank": dense_rank, "bm25_rank": bm25_rank}
            raw = {"dense": dense, "bm25": bm25}
            detail = {key: int(v) for key, v in ranks.items() if v is not None}
            detail.update({key: float(v) for key, v in raw.items() if v is not None})
            hits.append(Hit(chunk=Chunk(*chunk), score=float(fused), rank=len(hits) + 1, scores=detail))
        return hits
