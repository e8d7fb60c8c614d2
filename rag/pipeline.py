"""The wiring: documents -> chunks -> embeddings -> index -> retrieve -> answer -> verify.

`Rag` owns one settings object, loads the embedding model and the index lazily, and is the
object every interface (Python, CLI, UI, eval) talks to.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

from .answer import flow
from .answer.answerers import EXTRACTIVE, is_dotted, resolve_dotted
from .answer.extractive import ExtractiveAnswerer
from .answer.flow import Answerer, Condenser, judges_relevance
from .answer.judge import JUDGE_PARAMS, AnswerJudge, JudgeCheck
from .answer.llm import LLMAnswerer, as_answerer, chat_model
from .answer.reader import ReaderFiles, SpanReader, reader_files
from .answer.reading import ReadingAnswerer
from .answer.relevance import RelevanceCheck, fitted_floor
from .embed.distributed import RayEmbedder
from .embed.embedders import EMBEDDERS, Embedder, make_embedder
from .errors import ConfigError, SourceChangedError
from .ingest.metadata import checked, document_with_title
from .parts import load, unknown
from .search.filters import parse_filter
from .search.rerank import RERANKERS, Reranker
from .search.retrieve import Retriever
from .settings import DEFAULT_CORPUS, Settings, check_k, check_question
from .store.backend import make_backend
from .store.incremental import Change, IndexReport
from .types import Answer, AnswerEvent, Box, Citation, Document, Event, Hit
from .verify.pageview import PageView, page_view, with_boxes


class Rag:
    """The system over one index. Parts can be injected as objects next to the spec strings:

        Rag(settings, embedder=MyEmbedder(), answerer=ChatAnthropic(...), reranker=MyReranker())

    `answerer` takes an `Answerer` (anything with `name` and `stream`), any LangChain chat model
    instance (its answers are verified like every other), or a spec string (see rag.answer.answerers,
    dotted paths included); `embedder` an `Embedder`, a backend name of EMBEDDERS or a dotted path
    "package.module:Class" (called with no arguments); `reranker` a `Reranker` or a dotted path. A
    store is chosen by `Settings.store`: a name of BACKENDS or a dotted path (rag.parts).
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | str | None = None,
                 answerer: str | Answerer | object | None = None, reranker: Reranker | str | None = None):
        settings = settings or Settings()
        self._default_answerer = None
        if isinstance(reranker, str) and not is_dotted(reranker):  # a cross-encoder model, as in the settings
            settings, reranker = settings.with_(reranker=reranker), None
        if isinstance(answerer, str):
            settings = settings.with_(answerer=answerer)
        elif answerer is not None:
            self._default_answerer = as_answerer(answerer, settings.context_tokens)
        self.settings = settings
        self._lock = threading.RLock()
        self._answerers: dict = {}
        self._reader: SpanReader | None = None
        self._custom_reranker = made("reranker", reranker, RERANKERS) if isinstance(reranker, str) else reranker
        part: Embedder
        if embedder is None or (isinstance(embedder, str) and embedder in EMBEDDERS):
            part = make_embedder(settings.embedding_model, batch_size=settings.embedding_batch_size,
                                 backend=embedder or settings.embedding_backend, precision=settings.embedding_precision)
        elif isinstance(embedder, str):
            part = cast(Embedder, made("embedder", embedder, EMBEDDERS))
        else:
            part = embedder
        if settings.embed_with == "ray":
            part = RayEmbedder(part, settings)
        self.embedder = part
        self.backend = make_backend(settings, part)  # where the index lives: rag.store.backend

    def __repr__(self) -> str:
        return f"Rag(settings={self.settings!r})"

    # indexing
    def index(self, paths: list[str | os.PathLike] | None = None, *, rebuild: bool = False, prune: bool = True,
              progress: bool = False, metadata: dict | None = None) -> IndexReport:
        """Index files and folders, embedding only new or changed text. With `prune`, indexed
        documents under the given paths that are no longer there (deleted, renamed) are removed.
        `metadata` ({key: text, number or date}) is added to what each file says about itself."""
        change = Change.from_paths(paths or [DEFAULT_CORPUS], self.settings, prune=prune, metadata=checked(metadata or {}),
                                   progress=progress)
        return self.backend.update(change, rebuild=rebuild, progress=progress)

    def add_documents(self, documents: list[Document], *, progress: bool = False, metadata: dict | None = None) -> IndexReport:
        """Index in-memory documents (e.g. from a database or a benchmark), keeping all others.
        Each keeps its `Document.metadata`, plus `metadata` when given, plus a title from its first
        heading when it names none."""
        extra = checked(metadata or {})
        docs = [document_with_title(replace(d, metadata={**checked(d.metadata), **extra})) for d in documents]
        return self.backend.update(Change(tuple(docs)), progress=progress)

    def remove(self, sources: list[str]) -> IndexReport:
        return self.backend.update(Change(remove=tuple(sources)))

    def documents(self) -> list[tuple[str, int]]:
        """(source, number of chunks) of every indexed document."""
        return self.backend.documents()

    def metadata(self) -> dict[str, dict]:
        """{source: metadata} of every indexed document that has any (title, author, dates, ...)."""
        return self.backend.metadata()

    def metadata_keys(self) -> list[str]:
        """The metadata keys a filter may name (besides `source`)."""
        return self.backend.metadata_keys()

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
            spec = self.settings.reranker
            self._answerers[key] = made("reranker", spec, RERANKERS) if is_dotted(spec) else RERANKERS["cross-encoder"](spec)
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
                    self._answerers[spec] = ReadingAnswerer(self.embedder, self._span_reader(), name=spec)
                elif spec in EXTRACTIVE:
                    self._answerers[spec] = ExtractiveAnswerer(self.embedder, strict=spec.endswith(":strict"), name=spec,
                                                               reader=self._span_reader(), document_text=self._document_text)
                elif is_dotted(spec):
                    self._answerers[spec] = as_answerer(resolve_dotted(spec), self.settings.context_tokens, spec)
                else:
                    self._answerers[spec] = LLMAnswerer(spec, chat_model(spec), self.settings.context_tokens)
            return self._answerers[spec]

    def _span_reader(self) -> SpanReader:
        """The fitted span reader, loaded once for every extractive answerer."""
        if self._reader is None:
            self._reader = SpanReader(reader_files(self.settings.reader), bar=self.settings.short_answer_bar)
        return self._reader

    def _relevance(self) -> RelevanceCheck:
        """The check that an LLM's (or any non-extractive answerer's) quotes answer the question."""
        with self._lock:
            if ("relevance",) not in self._answerers:
                self._answerers[("relevance",)] = RelevanceCheck(ExtractiveAnswerer(self.embedder), fitted_floor())
            return self._answerers[("relevance",)]

    def _judge(self) -> JudgeCheck | None:
        """The answer judge every answerer's quotes go through, loaded once; None when off."""
        choice = self.settings.judge
        if choice == "off":
            return None
        with self._lock:
            if ("judge",) not in self._answerers:
                params = JUDGE_PARAMS if choice == "on" else Path(choice)
                if not params.is_file() or not params.with_suffix(".json").is_file():
                    raise ConfigError(f"judge {choice!r} is not a parameter file with its .json card (`rag fit-judge` writes both)")
                self._answerers[("judge",)] = JudgeCheck(AnswerJudge(ReaderFiles.mpnet(params)), self.settings.judge_threshold)
            return self._answerers[("judge",)]

    def ask_stream(self, question: str, *, history: Sequence[tuple[str, str]] = (), llm: str | None = None, k: int | None = None,
                   filters: object = None) -> Iterator[Event]:
        """Stream the answer as typed events (rag.types: QueryEvent, PassagesEvent, TokenEvent...,
        AnswerEvent); the last carries the verified `Answer`. `filters`: as `search` takes them."""
        question = check_question(question)
        k = check_k(k, self.settings.max_k) if k is not None else None
        keep = parse_filter(filters)
        if keep is not None:
            keep.check(self.metadata_keys())  # an unknown key fails now, not inside the stream
        answerer = self.answerer(llm)
        return flow.run(
            question,
            history=list(history),
            search=lambda q: self.search(q, k=k, filters=keep),
            answerer=answerer,
            source_text=self.source_text,
            condense=answerer.condense if isinstance(answerer, Condenser) else None,
            relevance=None if judges_relevance(answerer) else self._relevance(),
            judge=self._judge(),
        )

    def ask(self, question: str, *, history: Sequence[tuple[str, str]] = (), llm: str | None = None, k: int | None = None,
            filters: object = None) -> Answer:
        """Answer a question from the indexed documents, with verified quotes, or abstain; with
        `filters`, only from the documents they keep."""
        for event in self.ask_stream(question, history=history, llm=llm, k=k, filters=filters):
            if isinstance(event, AnswerEvent):
                return event.answer
        raise AssertionError("the answer stream ended without an answer")  # pragma: no cover

    def _document_text(self, source: str) -> str | None:
        """The indexed text of `source` (the answerer reads headings written before a chunk; the
        verifier checks every quote against `source_text`)."""
        doc = self.document(source)
        return doc.text if doc is not None else None

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

    # where a quote stands on its page (rag.verify.pageview): computed when asked for, never stored
    def page_view(self, source: str, start: int, end: int) -> PageView | None:
        """The PDF page that `source`'s text [start, end) stands on, and its boxes there; None for a
        document without pages. Raises SourceChangedError when its file is gone or changed."""
        doc = self.document(source)
        return page_view(doc, start, end) if doc is not None else None

    def quote_boxes(self, citation: Citation) -> tuple[Box, ...]:
        """Where a citation's quote stands on its PDF page, one box per line (fractions of the page,
        origin top-left); () for other documents, or when the file is gone or changed. Raises
        LoadError for a page pdfium cannot read, MissingDependencyError without the pdf extra."""
        try:
            view = self.page_view(citation.source, citation.start, citation.end)
        except SourceChangedError:
            return ()
        return view.boxes if view is not None else ()

    def with_boxes(self, answer: Answer) -> Answer:
        """`answer` with the boxes of its verified PDF citations filled in (`Citation.boxes`). A page
        that cannot be read (the pdf extra missing, a file pdfium refuses) leaves that citation without
        boxes and says why in `issues`; the answer itself stands."""
        return with_boxes(answer, self.quote_boxes)

    def search(self, query: str, k: int | None = None, mode: str | None = None, filters: object = None) -> list[Hit]:
        """The k best passages for `query` (k in 1..100; fewer when the index holds fewer chunks).

        `filters` keeps only some documents (rag.search.filters): "created>=2025-06-01", a list of such
        conditions (all must hold), a mapping {"source": "seeds/00*", "year": {">=": 2020}}, or a
        `Filter`. A key no indexed document has is a ConfigError naming the known keys; a filter
        that keeps nothing gives no passages."""
        query = check_question(query, "query")
        k = check_k(k, self.settings.max_k) if k is not None else None
        return self.retriever().search(query, k=k, mode=mode, filters=parse_filter(filters))


def made(what: str, spec: str, known: dict) -> object:
    """The part a dotted path names, made by calling it with no arguments."""
    if not is_dotted(spec):
        raise unknown(what, spec, known)
    factory = load(spec, what)
    return factory() if callable(factory) else factory
