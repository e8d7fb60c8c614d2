"""The LangChain adapters over the real index: RagRetriever's documents (sync and async) rebuild the
exact hits, RagVerifier keeps only what the cited documents support, and the LCEL chain of docs/integrations.md runs
as written with ChatOpenAI talking to the local OpenAI-protocol server of test_llm."""

from __future__ import annotations

import asyncio
import re

import pytest
from conftest import EXTRADITION, EXTRADITION_DOC, ROOT
from langchain_core.documents import Document
from test_llm import chat_server, passage_sentence  # noqa: F401  (chat_server is a fixture)

from rag import ConfigError
from rag.integrations.langchain import RagRetriever, RagVerifier, answer_prompt, document_to_hit

pytestmark = pytest.mark.slow


def test_retriever_documents_carry_everything_a_hit_has(real_rag):
    retriever = RagRetriever(rag=real_rag, k=4)
    documents = retriever.invoke(EXTRADITION)
    hits = real_rag.search(EXTRADITION, k=4)
    assert len(documents) == 4 and documents[0].metadata["source"].endswith(EXTRADITION_DOC)
    for n, (doc, hit) in enumerate(zip(documents, hits, strict=True), start=1):
        meta, chunk = doc.metadata, hit.chunk
        assert real_rag.document(meta["source"]).text[meta["start"] : meta["end"]] == doc.page_content == chunk.text
        assert (doc.id, meta["source"], meta["start"], meta["end"]) == (chunk.id, chunk.source, chunk.start, chunk.end)
        assert meta["page"] == chunk.page and (meta["ocr"], meta["ocr_confidence"]) == (False, None)
        assert meta["heading"] == chunk.heading and meta["title"] == chunk.title  # the document's title (metadata or first heading)
        assert meta["modified"] == chunk.metadata["modified"].isoformat()  # the document's own metadata too
        assert (meta["score"], meta["rank"]) == (hit.score, n)
        assert meta["ranks"] == {m.removesuffix("_rank"): r for m, r in hit.scores.items() if m.endswith("_rank")}
        assert set(meta["ranks"]) <= {"dense", "bm25"} and meta["ranks"]
        assert document_to_hit(doc, n) == hit and document_to_hit(doc, n).scores == hit.scores
    titled = retriever.invoke("Highlights of the 25th SOMTC Meeting and Its Related Meetings in Putrajaya")
    assert any(doc.metadata["title"].startswith("Strengthening regional cooperation") for doc in titled)


def test_retriever_async_path_and_options(real_rag):
    retriever = RagRetriever(rag=real_rag, k=3, retrieval="bm25")

    async def both():
        return await asyncio.gather(retriever.ainvoke(EXTRADITION), retriever.ainvoke("Who chairs the ASEAN meeting?"))

    extradition, other = asyncio.run(both())
    assert extradition == retriever.invoke(EXTRADITION) and len(other) == 3
    assert all(set(doc.metadata["ranks"]) == {"bm25"} for doc in extradition)
    assert [d.id for d in asyncio.run(retriever.abatch([EXTRADITION]))[0]] == [d.id for d in extradition]
    with pytest.raises(ConfigError, match="from 1 to 100, not 0"):
        RagRetriever(rag=real_rag, k=0)
    with pytest.raises(ConfigError, match="unknown retrieval 'hybird'"):
        RagRetriever(rag=real_rag, retrieval="hybird")


def test_verifier_cuts_quotes_from_the_source_not_from_the_documents(real_rag):
    documents = RagRetriever(rag=real_rag, k=3).invoke(EXTRADITION)
    (sentence,) = [s for s in re.split(r"(?<=[.!?])\s+", documents[0].page_content) if "11 extradition treaties" in s]
    verifier = RagVerifier(rag=real_rag)

    answer = verifier.invoke({"answer": f"{sentence} [1] Malaysia has 47 treaties [1].", "documents": documents,
                              "question": EXTRADITION})
    assert not answer.abstained and answer.text == f"{sentence} [1]"
    (citation,) = answer.citations
    assert citation.verified and real_rag.document(citation.source).text[citation.start : citation.end] == citation.quote
    assert [c.text for c in answer.withheld] == ["Malaysia has 47 treaties."]
    assert [h.chunk.id for h in answer.passages] == [d.id for d in documents]

    # a chain that rewrites a document's text cannot get its own words quoted as the source's
    changed = documents[0].page_content.replace("11", "47")
    forged = [documents[0].model_copy(update={"page_content": changed}), *documents[1:]]
    answer = verifier.invoke({"answer": f"{sentence.replace('11', '47')} [1]", "documents": forged})
    assert answer.abstained and not answer.citations and "re-run `rag index`" in answer.issues[0]

    assert verifier.invoke({"answer": "NOT_IN_DOCUMENTS", "documents": documents}).abstained
    with pytest.raises(ConfigError, match="document 1 lacks RagRetriever metadata"):
        verifier.invoke({"answer": "Anything [1].", "documents": [Document(page_content="made up")]})


def readme_chain() -> str:
    """The Python block of the LangChain guide (docs/integrations.md), exactly as a reader copies it."""
    section = ROOT.joinpath("docs", "integrations.md").read_text().split("\n## LangChain\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_lcel_chain_returns_verified_citations(real_rag, chat_server, monkeypatch, capsys):  # noqa: F811
    def reply(messages):
        n, sentence = passage_sentence(messages, "11 extradition treaties")
        return f"{sentence} [{n}] Malaysia also signed a treaty with Atlantis [{n}]."

    chat_server.reply = reply
    chat_server.requests.clear()
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    code = readme_chain()
    assert code.count('"index/default"') == 1 and "RagRetriever" in code and "RagVerifier" in code
    namespace: dict = {}
    exec(code.replace('"index/default"', repr(real_rag.settings.index_path)), namespace)  # noqa: S102

    answer = namespace["answer"]
    assert not answer.abstained and "Pakistan" in answer.text and "Atlantis" not in answer.text
    assert [c.text for c in answer.withheld] == ["Malaysia also signed a treaty with Atlantis."]
    (citation,) = answer.citations
    assert citation.verified and citation.source.endswith(EXTRADITION_DOC)
    assert real_rag.document(citation.source).text[citation.start : citation.end] == citation.quote
    assert citation.quote in capsys.readouterr().out
    (request,) = chat_server.requests
    assert request["model"] == "gpt-4o-mini" and request["messages"][0]["role"] == "system"
    assert "[5] (source:" in request["messages"][1]["content"], "the five retrieved documents, numbered"


def test_answer_prompt_numbers_the_documents_in_order(real_rag):
    documents = RagRetriever(rag=real_rag, k=2).invoke(EXTRADITION)
    system, human = answer_prompt().invoke({"question": EXTRADITION, "documents": documents})
    assert "[1] or [2][3]" in system.content
    # each numbered block holds its document's text, in retrieval order (chunks may overlap: so by block)
    blocks = re.split(r"\n\n(?=\[\d+\] \(source: )", human.content.removeprefix("Passages:\n\n"))
    assert [b.split("\n", 1)[1].startswith(d.page_content) for b, d in zip(blocks, documents, strict=True)] == [True, True]
    assert blocks[0].startswith("[1] (source: ") and blocks[1].startswith("[2] (source: ")
    assert f"[2] (source: {documents[1].metadata['source']}" in human.content
    assert human.content.endswith(f"Question: {EXTRADITION}\nAnswer:")
