"""A small SQLite file kept beside an index (feedback, chats): one connection per call, under a lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def session(path: Path, schema: str, lock: threading.Lock) -> Iterator[sqlite3.Connection]:
    """A connection to `path` with `schema` applied, committed on success, closed in any case."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock:
        db = sqlite3.connect(path)
        try:
            db.execute(schema)
            with db:
                yield db
        finally:
            db.close()
