"""rag: retrieval-augmented question answering whose every quote is checked against its source.

    from rag import Rag, Settings
    rag = Rag(Settings(index_path="index/default"))
    rag.index(["seeds"])
    for hit in rag.search("which countries have extradition treaties with Malaysia?"):
        print(hit.chunk.source, hit.chunk.start, hit.chunk.end, hit.score)

Importing this package loads no model; models load on first use.
"""

from .answer.flow import Answerer, Condenser
from .embed.embedders import Embedder
from .errors import (
    AnswerError,
    ConfigError,
    IndexMismatchError,
    IndexNotFoundError,
    LoadError,
    RagError,
    StoreError,
)
from .pipeline import Rag
from .search.rerank import Reranker
from .settings import Settings
from .store.backend import IndexBackend
from .store.index import IndexReport
from .types import (
    Answer,
    AnswerEvent,
    Chunk,
    Citation,
    Claim,
    Document,
    Draft,
    Hit,
    PassagesEvent,
    QueryEvent,
    ShortAnswer,
    TokenEvent,
)

__all__ = [
    "Rag",
    "Settings",
    "Document",
    "Chunk",
    "Hit",
    "Citation",
    "Answer",
    "Claim",
    "ShortAnswer",
    "Draft",
    "QueryEvent",
    "PassagesEvent",
    "TokenEvent",
    "AnswerEvent",
    "Answerer",
    "Condenser",
    "Embedder",
    "Reranker",
    "IndexBackend",
    "IndexReport",
    "RagError",
    "ConfigError",
    "LoadError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "StoreError",
    "AnswerError",
]
