"""LangChain adapters: `RagRetriever` serves our search to any chain as LangChain `Document`s, and
`RagVerifier` checks the answer a chain wrote against those documents and returns our `Answer`:

    chain = (
        {"documents": RagRetriever(rag=rag, k=5), "question": RunnablePassthrough()}
        | RunnablePassthrough.assign(answer=answer_prompt() | ChatOpenAI(model="gpt-4o-mini"))
        | RagVerifier(rag=rag)
    )

The documents' metadata holds everything a `Hit` needs (source, offsets, heading, scores, ranks),
so the verifier rebuilds the hits and cuts each quote from the indexed source text, never from
what the chain passed along. Needs langchain-core (`pip install 'rag-quotes[llm]'`).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from typing import Any

from ..answer.flow import assemble
from ..answer.prompt import ABSTAIN, SYSTEM, user_message
from ..errors import ConfigError, MissingDependencyError
from ..pipeline import Rag
from ..search.filters import parse_filter
from ..settings import RETRIEVALS, check_k
from ..types import Answer, Chunk, Hit
from ..verify.claims import verify

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableSerializable
    from pydantic import ConfigDict, model_validator
except ImportError as err:  # pragma: no cover - the extra is part of `all`
    raise MissingDependencyError("langchain-core", "pip install 'rag-quotes[llm]'") from err


class RagRetriever(BaseRetriever):
    """`Rag.search` as a LangChain retriever (invoke, ainvoke, batch): one `Document` per passage,
    its text exactly the source text at its offsets, best first."""

    rag: Rag
    k: int | None = None  # passages per query, 1..rag.settings.max_k; None: rag.settings.k
    retrieval: str | None = None  # dense | bm25 | hybrid; None: rag.settings.retrieval
    # only documents whose metadata matches: "created>=2025-06-01", a list of such, or a mapping (rag.search.filters)
    filters: Any = None

    @model_validator(mode="after")
    def _check(self) -> RagRetriever:
        if self.k is not None:
            check_k(self.k, self.rag.settings.max_k)
        if self.retrieval is not None and self.retrieval not in RETRIEVALS:
            raise ConfigError(f"unknown retrieval '{self.retrieval}'; known: {', '.join(RETRIEVALS)}")
        self.filters = parse_filter(self.filters)  # parsed once; its keys are checked against the index per search
        return self

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [hit_to_document(hit) for hit in self.rag.search(query, k=self.k, mode=self.retrieval, filters=self.filters)]

    async def _aget_relevant_documents(self, query: str, *, run_manager) -> list[Document]:
        hits = await asyncio.to_thread(self.rag.search, query, k=self.k, mode=self.retrieval, filters=self.filters)
        return [hit_to_document(hit) for hit in hits]


class RagVerifier(RunnableSerializable[dict, Answer]):
    """Takes {"answer": text or chat message with [n] markers, "documents": the retrieved documents,
    "question": optional} and returns the verified `Answer`: only claims whose cited passage (the
    n-th document) supports them make up its text; the others are withheld, with the reason."""

    model_config = ConfigDict(arbitrary_types_allowed=True)  # lets `rag: Rag` be a typed field

    rag: Rag
    answerer: str = "langchain"  # recorded as Answer.answerer

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs) -> Answer:
        return self._call_with_config(self._verify, input, config)

    def _verify(self, input: dict) -> Answer:
        if not isinstance(input, dict) or "answer" not in input or "documents" not in input:
            raise ConfigError('RagVerifier takes {"answer": ..., "documents": [...], "question": ...}')
        text = message_text(input["answer"]).strip()
        hits = [document_to_hit(doc, n) for n, doc in enumerate(input["documents"], start=1)]
        question = str(input.get("question") or "")
        declined = not text or ABSTAIN in text
        claims = () if declined else verify(text, hits, self.rag.source_text).claims
        return assemble(question, question, claims, hits, self.answerer)


def answer_prompt(context_tokens: int = 1500) -> Runnable[dict, list[BaseMessage]]:
    """Our answer prompt for {"question", "documents"}: the rules that ask for [n] citations, and
    the documents numbered in order (as many as fit `context_tokens`), each with its source and heading."""

    def messages(input: dict) -> list[BaseMessage]:
        hits = [document_to_hit(doc, n) for n, doc in enumerate(input["documents"], start=1)]
        passages = user_message(input["question"], hits, context_tokens)
        return [SystemMessage(content=SYSTEM), HumanMessage(content=passages)]

    return RunnableLambda(messages, name="answer_prompt")


def hit_to_document(hit: Hit) -> Document:
    c = hit.chunk
    ranks = {key.removesuffix("_rank"): value for key, value in hit.scores.items() if key.endswith("_rank")}
    scores = {key: value for key, value in hit.scores.items() if not key.endswith("_rank")}
    metadata = {
        "source": c.source, "start": c.start, "end": c.end, "page": c.page, "heading": c.heading,
        "title": c.title, "ordinal": c.ordinal, "n_tokens": c.n_tokens,
        "score": hit.score, "rank": hit.rank, "ranks": ranks, "scores": scores,
        "ocr": c.ocr, "ocr_confidence": c.ocr_confidence,
    }  # fmt: skip
    # the document's own metadata (author, dates as YYYY-MM-DD, ...) beside ours, never in place of it
    own = {k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in c.metadata.items() if k not in metadata}
    return Document(page_content=c.text, id=c.id, metadata=metadata | own)


def document_to_hit(document: Document, rank: int) -> Hit:
    """The `Hit` a `RagRetriever` document came from (`rank`: its 1-based place, the [n] that cites it)."""
    meta = document.metadata
    try:
        chunk = Chunk(document.id or "", str(meta["source"]), int(meta["start"]), int(meta["end"]),
                      document.page_content, int(meta.get("ordinal", 0)), meta.get("page"),
                      int(meta.get("n_tokens", 0)), str(meta.get("heading") or ""), bool(meta.get("ocr", False)),
                      meta.get("ocr_confidence"))
        scores = {f"{method}_rank": r for method, r in meta.get("ranks", {}).items()} | dict(meta.get("scores", {}))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ConfigError(f"document {rank} lacks RagRetriever metadata (source, start, end): {err}") from err
    return Hit(chunk, float(meta.get("score", 0.0)), rank, scores)


def message_text(answer: str | BaseMessage | Sequence) -> str:
    """The text of a chain's answer: a string, or a chat message (its text parts)."""
    content = answer.content if isinstance(answer, BaseMessage) else answer
    if isinstance(content, str):
        return content
    return "".join(p if isinstance(p, str) else p.get("text", "") for p in content if isinstance(p, (str, dict)))
