"""Incremental indexing, the same for every backend: which documents are new, changed or gone,
which chunks keep their vectors, what is embedded (in length-sorted batches), and the report.

A backend hands `update` an `IndexWriter` over one atomic update of its storage (a generation
folder, a transaction); this module decides what to write and never touches storage itself.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from ..embed.embedders import BUNDLED, Embedder
from ..errors import IndexMismatchError, LoadError, RagError
from ..ingest.budget import Deadline
from ..ingest.chunks import ENCODING, split_document
from ..ingest.documents import Skipped, display_path, load_paths
from ..progress import progress_bar
from ..settings import Settings
from ..types import Chunk, Document

FORMAT_VERSION = 2  # of every backend's stored index (the folder's manifest, the pgvector meta table)
# 2: chunks record whether OCR read them (ocr, ocr_confidence); an index of format 1 is rebuilt


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


@dataclass(frozen=True)
class Change:
    """What one update asks for: `documents` to add or replace; `remove`, sources that must be
    indexed; `prune`, paths under which indexed documents not among `documents` or `skipped` are
    removed (files deleted or renamed since they were indexed)."""

    documents: tuple[Document, ...] = ()
    remove: tuple[str, ...] = ()
    prune: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def from_paths(cls, paths: list[str | os.PathLike], settings: Settings, *, prune: bool = True,
                   metadata: dict | None = None, progress: bool = False) -> Change:
        """The files under `paths`; `metadata` (user values) is added to every document's own."""
        started = time.perf_counter()
        documents, skipped = load_paths(
            paths, max_document_chars=settings.max_document_chars, max_docx_xml_bytes=settings.max_docx_xml_bytes,
            progress=progress, follow_links=settings.follow_links, seconds_per_mb=settings.document_seconds_per_mb,
        )
        if metadata:
            documents = [replace(d, metadata={**d.metadata, **metadata}) for d in documents]
        roots = tuple(display_path(Path(p)) for p in paths if Path(p).exists()) if prune else ()
        return cls(tuple(documents), prune=roots, skipped=tuple(skipped), started=started)

    def removed(self, indexed: Collection[str]) -> set[str]:
        """The indexed sources this change removes; naming one that is not indexed is an error."""
        missing = [s for s in self.remove if s not in indexed]
        if missing:
            raise RagError(f"not in the index: {', '.join(missing)} (see `rag docs` for the indexed documents)")
        found = {d.source for d in self.documents} | {s.source for s in self.skipped}

        def pruned(source: str) -> bool:
            return source not in found and any(source == r or source.startswith(r.rstrip("/") + "/") for r in self.prune)

        return set(self.remove) | {s for s in indexed if pruned(s)}


class IndexWriter(Protocol):
    """One atomic update of a backend's storage. `update` reads `indexed` (and `counts` when nothing
    changes); otherwise it calls `begin`, then `put` or `set_origin` per document, `remove` once,
    `add` per embedded batch, and `commit`, which makes it all visible at once."""

    exists: bool  # an index was there to update (else one is made, even an empty one)

    def indexed(self) -> dict[str, tuple[str, str | None]]:
        """(sha256, origin) of every indexed document, by source."""
        ...

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) indexed."""
        ...

    def begin(self) -> None:
        """Start writing: from the index there is, or from nothing when it does not `exist`."""
        ...

    def chunk_ids(self, source: str) -> dict[str, int]:
        """Chunk id -> vector id of the chunks an indexed document has now."""
        ...

    def put(self, document: Document, chunks: list[Chunk], previous: dict[str, int]) -> None:
        """Store the document and its chunks. Those in `previous` (its chunks until now, by id)
        keep their vectors; previous chunks no longer among `chunks` go, vectors and all."""
        ...

    def set_origin(self, source: str, origin: str | None) -> None:
        """Record where an unchanged document now comes from (`Document.origin`)."""
        ...

    def metadata(self) -> dict[str, dict]:
        """{source: its metadata} of every indexed document that has any."""
        ...

    def set_metadata(self, source: str, metadata: dict) -> None:
        """Replace the metadata of an unchanged document (`Document.metadata`)."""
        ...

    def remove(self, sources: set[str]) -> None:
        """Drop these documents with their chunks and vectors."""
        ...

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """The vectors of chunks `put` stored without one."""
        ...

    def commit(self) -> tuple[int, int]:
        """Make the update visible; (documents, chunks) indexed now."""
        ...


def update(writer: IndexWriter, change: Change, settings: Settings, embedder: Embedder, *, progress: bool = False) -> IndexReport:
    """Apply `change` through `writer`, embedding only chunks that have no vector yet."""
    indexed = writer.indexed()
    removed = change.removed(indexed)
    documents = list({d.source: d for d in change.documents}.values())  # a source given twice: the last one
    new = [d for d in documents if d.source not in indexed]
    changed = [d for d in documents if d.source in indexed and indexed[d.source][0] != d.sha256]
    same = [d for d in documents if d.source in indexed and indexed[d.source][0] == d.sha256]
    # unchanged, but loaded from another file (or indexed before documents recorded their origin)
    moved = [d for d in same if indexed[d.source][1] != d.origin]
    stored = writer.metadata() if same else {}
    retagged = [d for d in same if stored.get(d.source, {}) != d.metadata]  # same text, other metadata
    unchanged = len(same)
    if writer.exists and not (new or changed or removed or moved or retagged):
        n_docs, n_chunks = writer.counts()
        return IndexReport(n_docs, n_chunks, unchanged=unchanged, skipped=change.skipped, seconds=time.perf_counter() - change.started)

    writer.begin()
    to_embed: list[Chunk] = []
    reused = 0
    bar = progress_bar(len(new) + len(changed), "chunking", progress)
    skipped = list(change.skipped)
    for doc in new + changed:
        try:
            deadline = Deadline(doc.source, len(doc.text), settings.document_seconds_per_mb, "chunking")
            chunks = split_document(doc, settings.chunk_tokens, settings.chunk_overlap, deadline)
        except LoadError as err:  # kept as it was indexed, like a file that cannot be read
            skipped.append(Skipped(err.source, err.reason))
            continue
        previous = writer.chunk_ids(doc.source) if doc.source in indexed else {}
        writer.put(doc, chunks, previous)
        fresh = [c for c in chunks if c.id not in previous]
        reused += len(chunks) - len(fresh)
        to_embed += fresh
        bar.update(1)
    bar.close()
    late = {s.source for s in skipped[len(change.skipped) :]}
    new, changed = [d for d in new if d.source not in late], [d for d in changed if d.source not in late]
    for doc in moved:
        writer.set_origin(doc.source, doc.origin)
    for doc in retagged:
        writer.set_metadata(doc.source, doc.metadata)
    writer.remove(removed)
    truncated = count_truncated(embedder, to_embed)
    for part, vectors in embed_batches(embedder, to_embed, settings.embedding_batch_size, progress):
        writer.add(part, vectors)
    n_docs, n_chunks = writer.commit()
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
        seconds=time.perf_counter() - change.started,
    )


def embed_batches(embedder: Embedder, chunks: list[Chunk], batch_size: int, progress: bool) -> Iterator[tuple[list[Chunk], np.ndarray]]:
    """(chunks, their vectors) in length-sorted batches (little padding), each as it is embedded."""
    order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].indexed_text))
    step = embedder.texts_per_call or max(batch_size * 8, 256)  # RayEmbedder: one job per many texts
    bar = progress_bar(len(chunks), "embedding", progress, unit="chunk")
    for i in range(0, len(order), step):
        part = [chunks[j] for j in order[i : i + step]]
        yield part, embedder.embed([c.indexed_text for c in part])
        bar.update(len(part))
    bar.close()


def count_truncated(embedder: Embedder, chunks: list[Chunk]) -> int:
    """How many chunks are longer than the model reads (0 when it reads every word, or cannot count)."""
    limit = embedder.max_seq_length
    if not limit or not chunks:
        return 0
    counts = embedder.count_word_pieces([c.indexed_text for c in chunks])
    return sum(n > limit for n in counts) if counts else 0


def chunking(settings: Settings) -> dict:
    """How chunks are cut, as stored with an index: any difference re-embeds everything.
    "context": what each chunk carries besides its text (rag.ingest.sections)."""
    return {"tokenizer": ENCODING, "max_tokens": settings.chunk_tokens, "overlap": settings.chunk_overlap, "context": "title+heading"}


def check_version(version: object, where: str, options: str) -> None:
    """Refuse an index of another format; `options` name the index on the command line."""
    if isinstance(version, int) and version < FORMAT_VERSION:
        raise IndexMismatchError(
            f"{where} uses index format {version}, older than this version of rag reads ({FORMAT_VERSION}): "
            f"rebuild it with `rag index --rebuild {options}`"
        )
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IndexMismatchError(
            f"{where} uses index format {version}, newer than this version of rag reads ({FORMAT_VERSION}): "
            f"upgrade rag, or rebuild with `rag index --rebuild {options}`"
        )


def check_model(built: dict, model_id: str, where: str, options: str) -> None:
    """Refuse an index built with another embedding model (`built`: its "embedding" record), with
    a `--model` that loads that model from here, or, when none can, what to give instead."""
    if built["model"] == model_id or same_folder(built["model"], model_id):
        return
    model = built["model"]
    if loadable(model):
        instead = f"use --model {shlex.quote(model)}"
    else:
        instead = f"use --model with the path of the model folder '{model}' (no such folder here)"
    raise IndexMismatchError(
        f"{where} was built with embedding model '{model}' ({built['dimension']} dims), not "
        f"'{model_id}': {instead}, or rebuild with `rag index --rebuild --model {shlex.quote(model_id)} {options}`"
    )


def same_folder(a: str, b: str) -> bool:
    """Do two model names name the same model folder (a relative and an absolute path)?"""
    return Path(a).is_dir() and Path(b).is_dir() and Path(a).resolve() == Path(b).resolve()


def loadable(model: str) -> bool:
    """Can `--model model` load from here: a bundled name, the test double, a folder, or a hub id ("org/name")?"""
    hub_id = model.count("/") == 1 and not model.startswith((".", "/", "~"))
    return model.lower() in BUNDLED or model.startswith("test-hash") or Path(model).is_dir() or hub_id
