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

from .chunks import ENCODING, split_document, vector_id
from .chunkstore import ChunkStore
from .documents import Skipped, load_paths
from .embeddings import Embedder
from .errors import IndexMismatchError, IndexNotFoundError, RagError, StoreError
from .lexical import BM25Index
from .settings import Settings
from .store import FaissStore
from .types import Chunk, Document

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATA_DIR = re.compile(r"data-(\d{6,})")  # a generation folder, directly inside the index folder


@dataclass(frozen=True)
class IndexReport:
    documents: int
    chunks: int
    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    embedded: int = 0
    reused: int = 0
    truncated: int = 0
    skipped: tuple[Skipped, ...] = ()
    seconds: float = 0.0

    def summary(self) -> str:
        line = (
            f"{self.documents} documents, {self.chunks} chunks: {len(self.new)} new, {len(self.changed)} changed, "
            f"{len(self.removed)} removed, {self.unchanged} unchanged; embedded {self.embedded} chunks "
            f"(reused {self.reused}) in {self.seconds:.1f}s"
        )
        if self.truncated:
            line += f"; {self.truncated} chunks were longer than the model reads and were truncated"
        if self.skipped:
            line += f"; {len(self.skipped)} files skipped"
        return line


@dataclass
class Index:
    """An opened index. Read-only use is thread-safe; updates go through `update_index`."""

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
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IndexMismatchError(
            f"{path} uses index format {version}, newer than this version of rag reads ({FORMAT_VERSION}): "
            "upgrade rag, or rebuild with `rag index --rebuild`"
        )
    data, embedding = manifest.get("data"), manifest.get("embedding")
    if not isinstance(data, str) or not DATA_DIR.fullmatch(data):  # never "/etc" or "../x"
        raise damaged(path, f"{MANIFEST} names {data!r}, not a data-NNNNNN folder of the index")
    if not isinstance(embedding, dict) or not isinstance(embedding.get("model"), str) or not isinstance(embedding.get("dimension"), int):
        raise damaged(path, f"{MANIFEST} does not name the embedding model and its dimension")
    return manifest


def check_model(manifest: dict, path: str | os.PathLike, model_id: str, dimension: int | None = None) -> None:
    built = manifest["embedding"]
    if built["model"] != model_id or (dimension is not None and int(built["dimension"]) != dimension):
        raise IndexMismatchError(
            f"{path} was built with embedding model '{built['model']}' ({built['dimension']} dims), not "
            f"'{model_id}': use --model {built['model']}, or rebuild with `rag index --rebuild --model {model_id} --index {path}`"
        )


def open_index(path: str | os.PathLike, model_id: str | None = None) -> Index:
    """Open the generation the manifest names, read-only; a damaged index raises a one-line error."""
    path = Path(path)
    for last in (False, False, True):
        stamp = manifest_stamp(path)
        try:
            return _open(path, model_id, stamp)
        except (IndexMismatchError, StoreError):
            # a writer may have committed and removed the generation we read about: read again
            if last or manifest_stamp(path) == stamp:
                raise


def _open(path: Path, model_id: str | None, stamp: tuple | None) -> Index:
    manifest = read_manifest(path)
    if model_id is not None:
        check_model(manifest, path, model_id)
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
def _locked(path: Path, progress: bool = False):
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


def index_paths(
    paths: list[str | os.PathLike],
    settings: Settings,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    prune: bool = True,
    progress: bool = False,
) -> IndexReport:
    """Index files and folders into `settings.index_path`, embedding only new or changed text.

    With `prune`, indexed documents that lie under the given paths but were not found there now
    (deleted or renamed files) are removed.
    """
    started = time.perf_counter()
    documents, skipped = load_paths(
        paths, max_document_chars=settings.max_document_chars, max_docx_xml_bytes=settings.max_docx_xml_bytes
    )
    removed: set[str] = set()
    if prune:
        roots = [_source_prefix(p) for p in paths if Path(p).exists()]
        found = {d.source for d in documents} | {s.source for s in skipped}
        for source in _indexed_sources(Path(settings.index_path)):
            under_root = any(source == r or source.startswith(r.rstrip("/") + "/") for r in roots)
            if under_root and source not in found:
                removed.add(source)
    return update_index(settings, embedder, documents, removed, skipped=skipped, rebuild=rebuild, progress=progress, started=started)


def remove_documents(sources: list[str], settings: Settings, embedder: Embedder) -> IndexReport:
    known = set(_indexed_sources(Path(settings.index_path)))
    missing = [s for s in sources if s not in known]
    if missing:
        raise RagError(f"not in the index: {', '.join(missing)} (see `rag docs` for the indexed documents)")
    return update_index(settings, embedder, [], set(sources))


def _source_prefix(path: str | os.PathLike) -> str:
    from .documents import display_path

    return display_path(Path(path))


def _indexed_sources(path: Path) -> list[str]:
    try:
        documents = read_manifest(path).get("documents")
    except (IndexNotFoundError, IndexMismatchError):  # nothing to prune from; a rebuild replaces a damaged index
        return []
    return list(documents) if isinstance(documents, dict) else []


def update_index(
    settings: Settings,
    embedder: Embedder,
    documents: list[Document],
    removed: set[str],
    *,
    skipped: list[Skipped] = (),
    rebuild: bool = False,
    progress: bool = False,
    started: float | None = None,
) -> IndexReport:
    started = started or time.perf_counter()
    path = Path(settings.index_path)
    with _locked(path, progress):
        old = None
        if not rebuild:
            try:
                manifest = read_manifest(path)
                check_model(manifest, path, embedder.model_id)
                if manifest.get("chunking") != _chunking(settings):
                    rebuild = True  # different chunking: every chunk changes
                else:
                    old = open_index(path)
            except IndexNotFoundError:
                pass
        try:
            return _update(path, old, settings, embedder, documents, removed, list(skipped), progress, started)
        finally:
            if old is not None:
                old.close()


def _chunking(settings: Settings) -> dict:
    # "context": what each chunk carries besides its text (rag.sections); a change re-embeds everything
    return {"tokenizer": ENCODING, "max_tokens": settings.chunk_tokens, "overlap": settings.chunk_overlap, "context": "title+heading"}


def _update(path, old, settings, embedder, documents, removed, skipped, progress, started) -> IndexReport:
    hashes = old.chunks.document_hashes() if old else {}
    new = [d for d in documents if d.source not in hashes]
    changed = [d for d in documents if d.source in hashes and hashes[d.source] != d.sha256]
    removed = {s for s in removed if s in hashes}
    unchanged = len(documents) - len(new) - len(changed)
    if old is not None and not new and not changed and not removed:
        docs, chunks = old.chunks.count()
        return IndexReport(docs, chunks, unchanged=unchanged, skipped=tuple(skipped), seconds=time.perf_counter() - started)

    existing = [re.fullmatch(r"\.?data-(\d+)(\.partial)?", p.name) for p in path.iterdir() if p.is_dir()]
    generation = max((int(m[1]) for m in existing if m), default=0) + 1
    final_dir = path / f"data-{generation:06d}"
    work_dir = path / f".data-{generation:06d}.partial"
    for stale in path.glob(".data-*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    work_dir.mkdir(parents=True)

    if old:
        store = old.chunks.copy_to(work_dir)
        vectors = old.vectors
        vectors.kind = settings.faiss_index  # the setting of this build decides
    else:
        store = ChunkStore.create(work_dir)
        vectors = FaissStore(embedder.dimension, settings.faiss_index)

    # Chunk every new or changed document; keep vectors of chunks whose id is unchanged.
    to_embed: list[Chunk] = []
    reused = 0
    drop: list[int] = []
    bar = _progress(len(new) + len(changed), "chunking", progress)
    for doc in new + changed:
        chunks = split_document(doc, settings.chunk_tokens, settings.chunk_overlap)
        previous = store.chunk_vids(doc.source) if doc.source in hashes else {}
        current = {c.id for c in chunks}
        drop.extend(v for cid, v in previous.items() if cid not in current)
        store.delete_document(doc.source)
        store.put_document(doc, chunks, [vector_id(c.id) for c in chunks])
        fresh = [c for c in chunks if c.id not in previous]
        reused += len(chunks) - len(fresh)
        to_embed.extend(fresh)
        bar.update(1)
    bar.close()
    for source in removed:
        drop.extend(store.delete_document(source))
    vectors.delete(np.asarray(drop, dtype=np.int64))

    truncated = _count_truncated(embedder, to_embed)
    _embed_into(vectors, embedder, to_embed, settings.embedding_batch_size, progress)
    store.commit()

    vids, texts = store.all_chunks()
    BM25Index.build(vids, texts).save(work_dir)
    vectors.save(work_dir)
    doc_rows = store.documents()
    file_hashes = store.document_hashes()
    store.close()
    n_docs, n_chunks = len(doc_rows), len(vids)

    manifest = {
        "format_version": FORMAT_VERSION,
        "data": final_dir.name,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedding": {"model": embedder.model_id, "dimension": embedder.dimension, "normalized": True},
        "chunking": _chunking(settings),
        "store": {"kind": "faiss", "faiss_index": vectors.kind, "searched_with": vectors.searched_with},
        "counts": {"documents": n_docs, "chunks": n_chunks},
        "documents": {},
    }
    manifest["documents"] = {src: {"sha256": file_hashes[src], "chunks": n} for src, n in doc_rows}
    _fsync_tree(work_dir)
    os.rename(work_dir, final_dir)
    tmp = path / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path / MANIFEST)  # the commit point
    for other in path.glob("data-*"):
        if other.name != final_dir.name:
            shutil.rmtree(other, ignore_errors=True)

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


def _embed_into(vectors: FaissStore, embedder: Embedder, chunks: list[Chunk], batch_size: int, progress: bool) -> None:
    """Embed in length-sorted batches (little padding) and add to the store as we go."""
    order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].indexed_text))
    step = getattr(embedder, "texts_per_call", max(batch_size * 8, 256))  # RayEmbedder: one job per many texts
    bar = _progress(len(chunks), "embedding", progress, unit="chunk")
    for i in range(0, len(order), step):
        part = [chunks[j] for j in order[i : i + step]]
        vecs = embedder.embed([c.indexed_text for c in part])
        vectors.add(np.asarray([vector_id(c.id) for c in part], dtype=np.int64), vecs)
        bar.update(len(part))
    bar.close()


def _count_truncated(embedder: Embedder, chunks: list[Chunk]) -> int:
    counter = getattr(embedder, "count_word_pieces", None)
    if counter is None or not chunks:
        return 0
    limit = embedder.max_seq_length
    return sum(n > limit for n in counter([c.indexed_text for c in chunks]))


def _fsync_tree(folder: Path) -> None:
    for file in folder.rglob("*"):
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool, unit: str = "doc"):
    if not enabled or total == 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)
