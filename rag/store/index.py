"""The on-disk index: a folder holding a manifest, the chunk store, the vectors and BM25.

    index/<name>/manifest.json        format version, model, chunking, per-document hashes
    index/<name>/data-000007/         the generation the manifest points at
        chunks.sqlite  vectors.faiss  bm25/

Every update writes a new generation folder and then atomically replaces manifest.json, so a
build killed at any point leaves the previous index loadable and unchanged. Opening checks that
the manifest names a generation folder inside the index, that its files are there and that they
hold the same number of chunks; a damaged index is a one-line error naming the rebuild command.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..embed.embedders import Embedder
from ..errors import IndexMismatchError, IndexNotFoundError, StoreError
from ..ingest.chunks import vector_id
from ..settings import Settings
from ..types import Chunk, Document
from .bm25 import BM25Index
from .chunkstore import ChunkStore
from .incremental import FORMAT_VERSION, IndexReport, check_model, check_version, chunking  # noqa: F401 (IndexReport: re-exported)
from .vectors import FaissStore

MANIFEST = "manifest.json"
DATA_DIR = re.compile(r"data-(\d{6,})")  # a generation folder, directly inside the index folder


@dataclass
class Index:
    """An opened generation, read-only and thread-safe; updates go through a `Generation`."""

    path: Path
    manifest: dict
    chunks: ChunkStore
    vectors: FaissStore
    bm25: BM25Index
    data_dir: Path = field(repr=False)
    stamp: tuple | None = field(default=None, repr=False)  # manifest.json as it was when opened

    def changed_on_disk(self) -> bool:
        """Whether another process has committed a new generation since this one was opened
        (one stat call: cheap enough to ask before every search)."""
        return manifest_stamp(self.path) != self.stamp

    @property
    def model_id(self) -> str:
        return self.manifest["embedding"]["model"]

    @property
    def dimension(self) -> int:
        return int(self.manifest["embedding"]["dimension"])

    def documents(self) -> list[tuple[str, int]]:
        return self.chunks.documents()

    def document(self, source: str) -> Document | None:
        return self.chunks.document(source)

    def close(self) -> None:
        self.chunks.close()


def damaged(path: str | os.PathLike, what: str) -> IndexMismatchError:
    return IndexMismatchError(f"{path} is damaged ({what}); rebuild it with `rag index --rebuild [PATH ...] --index {path}`")


def manifest_stamp(path: str | os.PathLike) -> tuple | None:
    """Identifies one version of manifest.json (each commit replaces the file: a new inode)."""
    try:
        info = os.stat(Path(path) / MANIFEST)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def read_manifest(path: str | os.PathLike) -> dict:
    file = Path(path) / MANIFEST
    if not file.exists():
        raise IndexNotFoundError(f"no index at {path}: build one with `rag index [PATH ...] --index {path}`")
    try:
        manifest = json.loads(file.read_text())
    except (OSError, ValueError) as err:
        raise damaged(path, f"{MANIFEST} is unreadable") from err
    if not isinstance(manifest, dict):
        raise damaged(path, f"{MANIFEST} is not an object")
    check_version(manifest.get("format_version"), str(path), f"--index {path}")
    data, embedding = manifest.get("data"), manifest.get("embedding")
    if not isinstance(data, str) or not DATA_DIR.fullmatch(data):  # never "/etc" or "../x"
        raise damaged(path, f"{MANIFEST} names {data!r}, not a data-NNNNNN folder of the index")
    if not isinstance(embedding, dict) or not isinstance(embedding.get("model"), str) or not isinstance(embedding.get("dimension"), int):
        raise damaged(path, f"{MANIFEST} does not name the embedding model and its dimension")
    return manifest


def open_index(path: str | os.PathLike, model_id: str | None = None) -> Index:
    """Open the generation the manifest names, read-only; a damaged index raises a one-line error."""
    path = Path(path)
    for _ in range(2):
        stamp = manifest_stamp(path)
        try:
            return _open(path, model_id, stamp)
        except (IndexMismatchError, StoreError):
            # a writer may have committed and removed the generation we read about: read again
            if manifest_stamp(path) == stamp:
                raise
    return _open(path, model_id, manifest_stamp(path))  # the third try: its error is final


def _open(path: Path, model_id: str | None, stamp: tuple | None) -> Index:
    manifest = read_manifest(path)
    if model_id is not None:
        check_model(manifest["embedding"], model_id, str(path), f"--index {path}")
    data_dir = path / manifest["data"]
    if not data_dir.is_dir() or data_dir.resolve().parent != path.resolve():
        raise damaged(path, f"its data folder {manifest['data']} is missing or lies outside the index")
    store = manifest.get("store")
    kind = store.get("faiss_index", "flat") if isinstance(store, dict) else "flat"
    chunks = None
    try:
        chunks = ChunkStore.open(data_dir)
        vectors = FaissStore.load(data_dir, manifest["embedding"]["dimension"], kind)
        bm25 = BM25Index.load(data_dir)
        n_chunks = chunks.count()[1]
    except (StoreError, sqlite3.DatabaseError) as err:
        if chunks is not None:
            chunks.close()
        raise damaged(path, str(err)) from err
    counts = manifest.get("counts")
    recorded = counts.get("chunks") if isinstance(counts, dict) else None
    if not n_chunks == len(vectors) == len(bm25) or recorded not in (None, n_chunks):
        chunks.close()
        found = f"chunks.sqlite holds {n_chunks} chunks, {FaissStore.FILE} {len(vectors)}, bm25/ {len(bm25)}"
        raise damaged(path, found + (f", the manifest {recorded}" if recorded is not None else ""))
    return Index(path=path, manifest=manifest, chunks=chunks, vectors=vectors, bm25=bm25, data_dir=data_dir, stamp=stamp)


@contextlib.contextmanager
def locked(path: Path, progress: bool = False):
    """One writer at a time. When another holds the index, say so (with progress on), then wait."""
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                print(f"waiting for another indexer to finish with {path} ...", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Generation:
    """One update of a folder index, for `rag.store.incremental.update`: a new generation folder written
    beside the current one (`old`, or none: a new index), committed by replacing manifest.json."""

    def __init__(self, path: Path, old: Index | None, settings: Settings, embedder: Embedder):
        self.path, self.old, self.settings, self.embedder = path, old, settings, embedder
        self.exists = old is not None
        self.drop: list[int] = []  # vector ids of chunks that are gone

    def indexed(self) -> dict[str, tuple[str, str | None]]:
        return self.old.chunks.indexed() if self.old else {}

    def counts(self) -> tuple[int, int]:
        return self.old.chunks.count() if self.old else (0, 0)

    def begin(self) -> None:
        existing = [re.fullmatch(r"\.?data-(\d+)(\.partial)?", p.name) for p in self.path.iterdir() if p.is_dir()]
        generation = max((int(m[1]) for m in existing if m), default=0) + 1
        self.final_dir = self.path / f"data-{generation:06d}"
        self.work_dir = self.path / f".data-{generation:06d}.partial"
        for stale in self.path.glob(".data-*.partial"):
            shutil.rmtree(stale, ignore_errors=True)
        self.work_dir.mkdir(parents=True)
        if self.old:
            self.store = self.old.chunks.copy_to(self.work_dir)
            self.vectors = self.old.vectors
            self.vectors.kind = self.settings.faiss_index  # the setting of this build decides
        else:
            self.store = ChunkStore.create(self.work_dir)
            self.vectors = FaissStore(self.embedder.dimension, self.settings.faiss_index)

    def chunk_ids(self, source: str) -> dict[str, int]:
        return self.store.chunk_vids(source)

    def put(self, document: Document, chunks: list[Chunk], previous: dict[str, int]) -> None:
        current = {c.id for c in chunks}
        self.drop += [vid for cid, vid in previous.items() if cid not in current]
        self.store.delete_document(document.source)
        self.store.put_document(document, chunks, [vector_id(c.id) for c in chunks])

    def set_origin(self, source: str, origin: str | None) -> None:
        self.store.set_origin(source, origin)

    def metadata(self) -> dict[str, dict]:
        return self.old.chunks.metadata() if self.old else {}

    def set_metadata(self, source: str, metadata: dict) -> None:
        self.store.set_metadata(source, metadata)

    def remove(self, sources: set[str]) -> None:
        for source in sources:
            self.drop += self.store.delete_document(source)
        self.vectors.delete(np.asarray(self.drop, dtype=np.int64))  # one pass over the vectors

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        self.vectors.add(np.asarray([vector_id(c.id) for c in chunks], dtype=np.int64), vectors)

    def commit(self) -> tuple[int, int]:
        """Write BM25 and the vectors beside the chunk store, then switch manifest.json to them."""
        self.store.commit()
        vids, texts = self.store.all_chunks()
        BM25Index.build(vids, texts).save(self.work_dir)
        self.vectors.save(self.work_dir)
        rows, indexed = self.store.documents(), self.store.indexed()
        self.store.close()
        manifest = {
            "format_version": FORMAT_VERSION,
            "data": self.final_dir.name,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "embedding": {"model": self.embedder.model_id, "dimension": self.embedder.dimension, "normalized": True},
            "chunking": chunking(self.settings),
            "store": {"kind": "faiss", "faiss_index": self.vectors.kind, "searched_with": self.vectors.searched_with},
            "counts": {"documents": len(rows), "chunks": len(vids)},
            "documents": {source: {"sha256": indexed[source][0], "chunks": n} for source, n in rows},
        }
        _fsync_tree(self.work_dir)
        os.rename(self.work_dir, self.final_dir)
        tmp = self.path / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.path / MANIFEST)  # the commit point
        for other in self.path.glob("data-*"):
            if other.name != self.final_dir.name:
                shutil.rmtree(other, ignore_errors=True)
        return len(rows), len(vids)

def _fsync_tree(folder: Path) -> None:
    for file in folder.rglob("*"):
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
