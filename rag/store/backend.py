"""The index backend contract: where an index's documents, chunks and vectors live, behind one small
interface that `Rag` talks to, chosen once by `settings.store`.

Two ship: "faiss" (a folder, rag.store.folder) and "pgvector" (PostgreSQL, rag.store.pgindex). Each applies
updates through `rag.store.incremental.update` with its own `IndexWriter`, so only storage differs;
reranking happens after the backend, in rag.search.retrieve, whichever it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..parts import is_dotted, load, unknown

if TYPE_CHECKING:  # annotations only: Settings checks a store's name against BACKENDS, so this imports little
    from ..embed.embedders import Embedder
    from ..search.filters import Filter
    from ..settings import Settings
    from ..types import Document, Hit, MetaValue
    from .incremental import Change, IndexReport

# The registry: a name -> the dotted path of its class, imported when chosen (psycopg only for pgvector).
# Any other `IndexBackend` is chosen by its own dotted path, Settings(store="package.module:Class").
BACKENDS = {"faiss": "rag.store.folder:FolderBackend", "pgvector": "rag.store.pgindex:PgBackend"}


class IndexBackend(Protocol):
    """Reads raise `IndexNotFoundError` when there is no index yet, and `IndexMismatchError` (one
    line naming the fix) for an index of a newer format or another embedding model."""

    def update(self, change: Change, *, rebuild: bool = False, progress: bool = False) -> IndexReport:
        """Apply `change` atomically, with `rebuild` to a new empty index: `rag.store.incremental.update`."""
        ...

    def documents(self) -> list[tuple[str, int]]:
        """(source, number of chunks) of every indexed document, sorted by source."""
        ...

    def document(self, source: str) -> Document | None:
        """An indexed document, whose text every offset refers to; None when not indexed."""
        ...

    def metadata(self) -> dict[str, dict[str, MetaValue]]:
        """{source: metadata} of every indexed document that has any."""
        ...

    def metadata_keys(self) -> list[str]:
        """The metadata keys some indexed document has, sorted: what a filter may name (and source)."""
        ...

    def search(self, query: str, *, k: int, mode: str, filters: Filter | None = None) -> list[Hit]:
        """The first stage: the k best chunks by vector ("dense"), full text ("bm25") or both fused
        ("hybrid"), as they stand now; `Hit.scores` holds dense_rank, bm25_rank, dense, bm25. With
        `filters`, only chunks of the documents it keeps, restricted inside each search (k come back
        whenever that many are kept); a key the index does not know is a ConfigError."""
        ...


def make_backend(settings: Settings, embedder: Embedder) -> IndexBackend:
    """The backend `settings.store` names (a BACKENDS name or a dotted path), made with (settings, embedder)."""
    spec = BACKENDS.get(settings.store, settings.store)
    if not is_dotted(spec):
        raise unknown("store", settings.store, BACKENDS)
    factory = load(spec, "store")
    if not callable(factory):
        raise unknown("store", settings.store, BACKENDS)
    return factory(settings, embedder)
