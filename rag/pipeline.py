"""The wiring: documents -> chunks -> embeddings -> index -> retrieve -> answer -> verify.

`Rag` owns one settings object, loads the embedding model and the index lazily, and is the
object every interface (Python, CLI, UI, eval) talks to.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from .answer import Answerer, Condenser
from .answerers import EXTRACTIVE, as_answerer, is_dotted, resolve_dotted
from .embeddings import Embedder, make_embedder
from .rerank import Reranker
from .index import Index, IndexReport, index_paths, open_index, remove_documents, update_index
from .retrieve import Retriever
from .settings import DEFAULT_CORPUS, Settings, check_k, check_question
from .types import Answer, AnswerEvent, Document, Event, Hit


class Rag:
    """The system over one index. Parts can be injected as objects next to the spec strings:

        Rag(settings, embedder=MyEmbedder(), answerer=ChatAnthropic(...), reranker=MyReranker())

    `answerer` takes an `Answerer` (anything with `name` and `stream`), any LangChain chat model
    instance (its answers are verified like every other), or a spec string (see rag.answerers,
    dotted paths included); `embedder` an `Embedder`; `reranker` a `Reranker`.
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 answerer: str | Answerer | object | None = None, reranker: Reranker | None = None):
        settings = settings or Settings()
        self._default_answerer = None
        if isinstance(answerer, str):
            settings = settings.with_(answerer=answerer)
        elif answerer is not None:
            self._default_answerer = as_answerer(answerer, settings.context_tokens)
        self.settings = settings
        self._index: Index | None = None
        self._lock = threading.RLock()
        self._answerers: dict = {}
        self._custom_reranker = reranker
        if embedder is None:
            embedder = make_embedder(settings.embedding_model, batch_size=settings.embedding_batch_size,
                                     backend=settings.embedding_backend)
        if settings.embed_with == "ray":
            from .distributed import RayEmbedder

            embedder = RayEmbedder(embedder, settings)
        self.embedder = embedder
        self._backend = None
        if settings.store == "pgvector":
            from .pgindex import PgBackend

            self._backend = PgBackend(settings, self.embedder)

    def __repr__(self) -> str:
        return f"Rag(settings={self.settings!r})"

    # indexing
    def index(self, paths: list[str | os.PathLike] | None = None, *, rebuild: bool = False, prune: bool = True, progress: bool = False) -> IndexReport:
        if self._backend is not None:
            return self._backend.index(paths or [DEFAULT_CORPUS], rebuild=rebuild, prune=prune, progress=progress)
        with self._lock:
            report = index_paths(paths or [DEFAULT_CORPUS], self.settings, self.embedder, rebuild=rebuild, prune=prune, progress=progress)
            self._reload()
            return report

    def add_documents(self, documents: list[Document], *, progress: bool = False) -> IndexReport:
        """Index in-memory documents (e.g. from a database or a benchmark), keeping all others."""
        if self._backend is not None:
            return self._backend.add_documents(documents, progress=progress)
        with self._lock:
            report = update_index(self.settings, self.embedder, list(documents), set(), progress=progress)
            self._reload()
            return report

    def remove(self, sources: list[str]) -> IndexReport:
        if self._backend is not None:
            return self._backend.remove(sources)
        with self._lock:
            report = remove_documents(sources, self.settings, self.embedder)
            self._reload()
            return report

    def _reload(self) -> None:
        # A search in another thread may still hold the old Index: it is closed when the last reader drops it.
        self._index = None

    @property
    def opened(self) -> Index:
        """The index as on disk now: reopened when another process (another `rag index`, a second
        server) has committed a new generation since it was opened (one stat call per use)."""
        with self._lock:
            if self._index is None or self._index.changed_on_disk():
                self._index = open_index(self.settings.index_path, self.embedder.model_id)
            return self._index

    def documents(self) -> list[tuple[str, int]]:
        """(source, number of chunks) of every indexed document."""
        if self._backend is not None:
            return self._backend.documents()
        return self.opened.documents()

    def document(self, source: str) -> Document | None:
        """The indexed text of one document (the text all offsets refer to), or None."""
        if self._backend is not None:
            return self._backend.document(source)
        return self.opened.document(source)

    # retrieval
    def retriever(self) -> Retriever:
        return Retriever(self.opened, self.embedder, self.settings, self._reranker())

    def _reranker(self):
        if self._custom_reranker is not None:
            return self._custom_reranker
        if not self.settings.reranker:
            return None
        key = ("reranker", self.settings.reranker)
        if key not in self._answerers:
            from .rerank import CrossEncoderReranker

            self._answerers[key] = CrossEncoderReranker(self.settings.reranker)
        return self._answerers[key]

    # answering
    def answerer(self, spec: str | None = None) -> Answerer:
        """The answerer for a spec ("extractive", an LLM spec, a dotted path), loaded once and
        reused; without a spec, the injected answerer or the settings' one."""
        if not spec and self._default_answerer is not None:
            return self._default_answerer
        spec = spec or self.settings.answerer
        with self._lock:
            if spec not in self._answerers:
                if spec in EXTRACTIVE and "reader" not in self._answerers:
                    from .reader import SpanReader

                    self._answerers["reader"] = SpanReader()  # one fitted reader for every extractive answerer
                if spec == "extractive:reader":
                    from .reading import ReadingAnswerer

                    self._answerers[spec] = ReadingAnswerer(self.embedder, self._answerers["reader"], name=spec)
                elif spec in EXTRACTIVE:
                    from .extractive import ExtractiveAnswerer

                    self._answerers[spec] = ExtractiveAnswerer(self.embedder, strict=spec.endswith(":strict"), name=spec,
                                                               reader=self._answerers["reader"])
                elif is_dotted(spec):
                    self._answerers[spec] = as_answerer(resolve_dotted(spec), self.settings.context_tokens, spec)
                else:
                    from .llm import LLMAnswerer, chat_model

                    self._answerers[spec] = LLMAnswerer(spec, chat_model(spec), self.settings.context_tokens)
            return self._answerers[spec]

    def ask_stream(self, question: str, *, history: Sequence[tuple[str, str]] = (), llm: str | None = None, k: int | None = None) -> Iterator[Event]:
        """Stream the answer as typed events (rag.types: QueryEvent, PassagesEvent, TokenEvent...,
        AnswerEvent); the last carries the verified `Answer`."""
        from . import answer

        question = check_question(question)
        k = check_k(k, self.settings.max_k) if k is not None else None
        answerer = self.answerer(llm)
        return answer.run(
            question,
            history=list(history),
            search=lambda q: self.search(q, k=k),
            answerer=answerer,
            source_text=self.source_text,
            condense=answerer.condense if isinstance(answerer, Condenser) else None,
        )

    def ask(self, question: str, *, history: Sequence[tuple[str, str]] = (), llm: str | None = None, k: int | None = None) -> Answer:
        """Answer a question from the indexed documents, with verified quotes, or abstain."""
        for event in self.ask_stream(question, history=history, llm=llm, k=k):
            if isinstance(event, AnswerEvent):
                return event.answer
        raise AssertionError("the answer stream ended without an answer")  # pragma: no cover

    def source_text(self, source: str) -> str | None:
        """The indexed text of `source`, or None when the file on disk has changed since indexing
        (its offsets could then point at different words)."""
        doc = self.document(source)
        if doc is None:
            return None
        path = Path(source)
        if path.is_file():
            try:
                if hashlib.sha256(path.read_bytes()).hexdigest() != doc.sha256:
                    return None
            except OSError:
                pass
        return doc.text

    def search(self, query: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        """The k best passages for `query` (k in 1..100; fewer when the index holds fewer chunks)."""
        query = check_question(query)
        k = check_k(k, self.settings.max_k) if k is not None else None
        if self._backend is not None:
            k = k or self.settings.k
            reranker = self._reranker()
            depth = max(k, self.settings.candidates) if reranker else k
            hits = self._backend.search(query, k=depth, mode=mode or self.settings.retrieval)
            if reranker:
                from .rerank import rerank

                hits = rerank(reranker, query, hits, k)
            return hits
        return self.retriever().search(query, k=k, mode=mode)
