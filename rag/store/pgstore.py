"""PostgreSQL + pgvector: connections with one-line errors, HNSW search settings, and
`PgVectorStore`, a `VectorStore` like `FaissStore` (ids plus vectors, inner product, an HNSW
index). The pgvector index backend (rag.store.pgindex) keeps its vectors in its own chunk table.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError, MissingDependencyError, StoreError

if TYPE_CHECKING:
    from psycopg import Connection

MISSING_SCORE = np.finfo(np.float32).min  # what FAISS puts in empty result slots


def psycopg_modules():
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError as err:
        raise MissingDependencyError("psycopg and pgvector", "pip install 'psycopg[binary]' pgvector") from err
    return psycopg, register_vector


def display_url(url: str) -> str:
    """The database URL without its password, for messages."""
    psycopg, _ = psycopg_modules()
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
    psycopg, register_vector = psycopg_modules()
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as err:
        where = display_url(url)
        raise StoreError(f"cannot reach PostgreSQL at {where}: is the server running? ({_line(err)})") from err
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
def guarded(url: str, conn, on_lost=None):
    """Turn database failures into one-line `StoreError`s; a lost connection calls `on_lost`."""
    psycopg, _ = psycopg_modules()
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


VECTOR_TABLE = "CREATE TABLE IF NOT EXISTS {} (id bigint PRIMARY KEY, embedding vector({}) NOT NULL)"
VECTOR_INDEX = "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding vector_ip_ops)"
STORED_DIMENSION = "SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'embedding'"
UPSERT_VECTOR = """INSERT INTO {} (id, embedding) VALUES (%s, %s)
    ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding"""
NEAREST = """SELECT id, -distance FROM (
    SELECT id, embedding <#> %s AS distance FROM {} ORDER BY distance LIMIT %s
) nearest ORDER BY distance"""


def tune_search(conn, depth: int, iterative: bool = True) -> None:
    """HNSW returns at most ef_search rows: widen it for deep queries and let the scan go on past it
    (`iterative`: pgvector 0.8 and later). Plain SET LOCAL (not set_config) so that Citus passes it on
    to the shards."""
    psycopg, _ = psycopg_modules()
    ef = psycopg.sql.Literal(min(1000, max(100, 2 * depth)))
    conn.execute(psycopg.sql.SQL("SET LOCAL hnsw.ef_search = {}").format(ef))
    if iterative:
        conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")


def iterative_scan(conn) -> bool:
    """Whether this database's pgvector (0.8 or later) can scan HNSW past ef_search, so that a
    filtered search still finds k rows."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    parts = [int(p) for p in row[0].split(".")[:2] if p.isdigit()] if row else []
    return tuple(parts) >= (0, 8)


class PgVectorStore:
    """Nearest neighbours by inner product over an HNSW index (vector_ip_ops) in one table.

    Writes join the connection's open transaction and reach other sessions on `save()` (a
    commit), as a FAISS index changes in memory until it is saved. Adding an id that is already
    present replaces its vector.
    """

    def __init__(self, url: str, dimension: int, table: str = "rag_vectors"):
        psycopg, _ = psycopg_modules()
        self.url, self.dimension, self.name = url, int(dimension), table
        self.table = psycopg.sql.Identifier(table)
        self._conn: Connection | None = None
        with self._guarded() as conn:
            conn.execute(self._sql(VECTOR_TABLE, self.table, psycopg.sql.Literal(self.dimension)))
            conn.execute(self._sql(VECTOR_INDEX, psycopg.sql.Identifier(f"{table}_hnsw"), self.table))
            stored = conn.execute(STORED_DIMENSION, (table,)).fetchone()[0]
            conn.commit()
        if stored != self.dimension:
            raise StoreError(f"table {table} in {display_url(url)} holds {stored}-dimensional vectors, not {dimension}")

    @contextlib.contextmanager
    def _guarded(self):
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url)
            self._conn.autocommit = False
        with guarded(self.url, self._conn):
            yield self._conn

    def __len__(self) -> int:
        with self._guarded() as conn:
            return int(conn.execute(self._sql("SELECT count(*) FROM {}")).fetchone()[0])

    def _sql(self, text: str, *names):
        """`text` with each `{}` filled by a quoted name or literal: the table when none is given."""
        psycopg, _ = psycopg_modules()
        return psycopg.sql.SQL(text).format(*(names or (self.table,)))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise StoreError(f"expected vectors of dimension {self.dimension}, got shape {vectors.shape}")
        rows = [(int(i), v) for i, v in zip(np.asarray(ids, dtype=np.int64), vectors)]
        with self._guarded() as conn, conn.cursor() as cur:
            cur.executemany(self._sql(UPSERT_VECTOR), rows)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        scores = np.full((len(queries), k), MISSING_SCORE, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        query = self._sql(NEAREST)
        with self._guarded() as conn:
            tune_search(conn, k)
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
