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
from typing import TYPE_CHECKING

from .answer import Answerer, Condenser
from .answerers import EXTRACTIVE, as_answerer, is_dotted, resolve_dotted
from .backend import make_backend
from .embeddings import Embedder, make_embedder
from .incremental import Change, IndexReport
from .rerank import Reranker
from .retrieve import Retriever
from .settings import DEFAULT_CORPUS, Settings, check_k, check_question
from .types import Answer, AnswerEvent, Document, Event, Hit

if TYPE_CHECKING:
    from .reader import SpanReader  # imported when first used: answering loads it, indexing does not


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
        self._lock = threading.RLock()
        self._answerers: dict = {}
        self._reader: SpanReader | None = None
        self._custom_reranker = reranker
        if embedder is None:
            embedder = make_embedder(settings.embedding_model, batch_size=settings.embedding_batch_size,
                                     backend=settings.embedding_backend)
        if settings.embed_with == "ray":
            from .distributed import RayEmbedder

            embedder = RayEmbedder(embedder, settings)
        self.embedder = embedder
        self.backend = make_backend(settings, embedder)  # where the index lives: rag.backend

    def __repr__(self) -> str:
        return f"Rag(settings={self.settings!r})"

    # indexing
    def index(self, paths: list[str | os.PathLike] | None = None, *, rebuild: bool = False, prune: bool = True, progress: bool = False) -> IndexReport:
        """Index files and folders, embedding only new or changed text. With `prune`, indexed
        documents under the given paths that are no longer there (deleted, renamed) are removed."""
        change = Change.from_paths(paths or [DEFAULT_CORPUS], self.settings, prune=prune, progress=progress)
        return self.backend.update(change, rebuild=rebuild, progress=progress)

    def add_documents(self, documents: list[Document], *, progress: bool = False) -> IndexReport:
        """Index in-memory documents (e.g. from a database or a benchmark), keeping all others."""
        return self.backend.update(Change(tuple(documents)), progress=progress)

    def remove(self, sources: list[str]) -> IndexReport:
        return self.backend.update(Change(remove=tuple(sources)))

    def documents(self) -> list[tuple[str, int]]:
        """(source, number of chunks) of every indexed document."""
        return self.backend.documents()

    def document(self, source: str) -> Document | None:
        """The indexed text of one document (the text all offsets refer to), or None."""
        return self.backend.document(source)

    # retrieval
    def retriever(self) -> Retriever:
        """The backend's first stage, reranked when a reranker is set: what `search` runs."""
        return Retriever(self.backend, self.settings, self._reranker())

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
                if spec == "extractive:reader":
                    from .reading import ReadingAnswerer

                    self._answerers[spec] = ReadingAnswerer(self.embedder, self._span_reader(), name=spec)
                elif spec in EXTRACTIVE:
                    from .extractive import ExtractiveAnswerer

                    self._answerers[spec] = ExtractiveAnswerer(self.embedder, strict=spec.endswith(":strict"), name=spec,
                                                               reader=self._span_reader())
                elif is_dotted(spec):
                    self._answerers[spec] = as_answerer(resolve_dotted(spec), self.settings.context_tokens, spec)
                else:
                    from .llm import LLMAnswerer, chat_model

                    self._answerers[spec] = LLMAnswerer(spec, chat_model(spec), self.settings.context_tokens)
            return self._answerers[spec]

    def _span_reader(self) -> SpanReader:
        """The fitted span reader, loaded once for every extractive answerer."""
        if self._reader is None:
            from .reader import SpanReader

            self._reader = SpanReader()
        return self._reader

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
        """The indexed text of `source`, or None when the file it was loaded from now holds other
        bytes (its offsets could then point at different words). A document added from memory has
        no file to compare; a file that is gone leaves the indexed text standing."""
        doc = self.document(source)
        if doc is None:
            return None
        if doc.origin is not None:  # its sha256 is of that file's bytes
            try:
                if hashlib.sha256(Path(doc.origin).read_bytes()).hexdigest() != doc.sha256:
                    return None
            except OSError:
                pass
        return doc.text

    def search(self, query: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        """The k best passages for `query` (k in 1..100; fewer when the index holds fewer chunks)."""
        query = check_question(query)
        k = check_k(k, self.settings.max_k) if k is not None else None
        return self.retriever().search(query, k=k, mode=mode)
