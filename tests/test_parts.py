"""Injectable parts and settings checked at construction: an answerer, embedder or reranker object
(or a dotted path) next to the spec strings; a typo fails when Settings is made, not at a search."""

from __future__ import annotations

import importlib
import sys
import threading

import numpy as np
import pytest

from rag import ConfigError, Draft, Rag, Settings
from rag.embed.embedders import HashEmbedder


@pytest.mark.parametrize("changes, message", [
    ({"retrieval": "hybird"}, "unknown retrieval 'hybird'; known: dense, bm25, hybrid"),
    ({"answerer": "opnai:gpt-4o"}, "unknown answerer 'opnai:gpt-4o'"),
    ({"k": 0}, "from 1 to 100"),
    ({"k": "5"}, "setting k must be int"),
    ({"chunk_overlap": 300}, "chunk_overlap must be at least 0 and below chunk_tokens"),
    ({"store": "pgvector"}, "needs a database URL"),
    ({"faiss_index": "ivf"}, "unknown faiss_index 'ivf'"),
])
def test_settings_are_checked_when_made(changes, message):
    with pytest.raises(ConfigError, match=message):
        Settings(**changes)


class CountingEmbedder(HashEmbedder):
    """A custom embedder: any object with model_id, dimension and embed()."""

    def __init__(self):
        super().__init__(32, model_id="counting-hash")
        self.calls = 0

    def embed(self, texts, *, query=False):
        self.calls += 1
        return super().embed(texts, query=query)


class FirstSentence:
    """A custom answerer: quotes the first sentence of the best passage."""

    name = "first-sentence"

    def stream(self, question, passages):
        yield Draft(passages[0].chunk.text.split(". ")[0].rstrip(".") + ". [1]")


class Reversed:
    """A custom reranker: the first stage's order, reversed."""

    def score(self, query, passages):
        return [float(i) for i in range(len(passages))]


def test_injected_embedder_answerer_and_reranker_are_used(tmp_path, corpus):
    embedder = CountingEmbedder()
    rag = Rag(Settings(index_path=str(tmp_path / "index"), embedding_model="counting-hash"), embedder=embedder,
              answerer=FirstSentence(), reranker=Reversed())
    rag.index([corpus])
    assert embedder.calls > 0 and rag.backend.opened.model_id == "counting-hash"
    plain = Rag(Settings(index_path=str(tmp_path / "index"), embedding_model="counting-hash"), embedder=CountingEmbedder())
    first = plain.search("extradition treaties", k=5)
    reranked = rag.search("extradition treaties", k=5)
    assert [h.chunk.id for h in reranked] != [h.chunk.id for h in first] and "first_stage" in reranked[0].scores
    answer = rag.ask("extradition treaties")
    assert answer.answerer == "first-sentence" and answer.claims
    assert all(cite.verified for claim in answer.claims for cite in claim.citations)  # its quote stands in the source
    # but the reranker put the worst passage first: a quote that does not answer is withheld (rag.answer.relevance)
    assert answer.abstained and any("does not answer the question" in issue for issue in answer.issues)
    assert rag.ask("extradition treaties", llm="extractive").answerer == "extractive"  # specs still work beside it


def test_a_dotted_path_names_a_custom_answerer(tmp_path, corpus, monkeypatch):
    (tmp_path / "house").mkdir()
    (tmp_path / "house" / "__init__.py").write_text("")
    (tmp_path / "house" / "answers.py").write_text(
        "from rag import Draft\n\n"
        "class Quoting:\n"
        "    name = 'house'\n\n"
        "    def stream(self, question, passages):\n"
        "        yield Draft(passages[0].chunk.text.split('. ')[0].rstrip('.') + '. [1]')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = Settings(index_path=str(tmp_path / "index"), embedding_model="test-hash", answerer="house.answers:Quoting")
    rag = Rag(settings)
    rag.index([corpus])
    assert rag.ask("extradition treaties").answerer == "house"
    with pytest.raises(ConfigError, match="cannot load the answerer 'house.answers:Missing'"):
        rag.ask("extradition treaties", llm="house.answers:Missing")


def test_an_object_that_is_no_answerer_is_refused(fast_settings):
    with pytest.raises(ConfigError, match="object is not an answerer"):
        Rag(fast_settings, answerer=object())


def test_sentence_vector_cache_survives_threads_that_overflow_it():
    from rag.embed.embedders import VectorCache

    vectors = VectorCache(HashEmbedder(16), limit=100)  # starts afresh often, while other threads read
    failures = []

    def hammer(seed: int) -> None:
        try:
            for i in range(300):
                texts = [f"sentence {seed} {i} {j}" for j in range(40)]
                out = vectors(texts)
                assert out.shape == (40, 16) and np.isfinite(out).all()
        except Exception as err:  # noqa: BLE001 - any failure in a thread is the finding
            failures.append(err)

    import sys

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race needs a switch mid-call
    try:
        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures and len(vectors) <= 100 + 40 * 4


PLUGINS = '''
from rag.embed.embedders import HashEmbedder
from rag.store.folder import FolderBackend

SEARCHES = []


class Tiny(HashEmbedder):
    """A new embedder: 24-dimensional hashing vectors under its own model id."""

    def __init__(self):
        super().__init__(24, model_id="tiny-hash")


class Shortest:
    """A new reranker: the shortest passage first."""

    def score(self, query, passages):
        return [-float(len(p)) for p in passages]


class Logged(FolderBackend):
    """A new store: the folder backend, logging every first-stage search."""

    def search(self, query, *, k, mode, filters=None):
        SEARCHES.append((query, k, mode))
        return super().search(query, k=k, mode=mode, filters=filters)
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    (tmp_path / "plugshop").mkdir()
    (tmp_path / "plugshop" / "__init__.py").write_text("")
    (tmp_path / "plugshop" / "parts.py").write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("plugshop", "plugshop.parts"):  # each test imports its own copy
        monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module("plugshop.parts")


def test_an_embedder_reranker_and_store_are_each_one_class_and_one_dotted_path(tmp_path, corpus, plugins):
    settings = Settings(index_path=str(tmp_path / "index"), embedding_model="tiny-hash", store="plugshop.parts:Logged")
    rag = Rag(settings, embedder="plugshop.parts:Tiny", reranker="plugshop.parts:Shortest")
    rag.index([corpus])
    assert type(rag.embedder).__name__ == "Tiny" and rag.backend.opened.model_id == "tiny-hash"
    assert type(rag.backend).__name__ == "Logged"
    hits = rag.search("extradition treaties", k=4)
    assert plugins.SEARCHES and plugins.SEARCHES[-1][0] == "extradition treaties"  # the store ran the first stage
    lengths = [len(h.chunk.indexed_text) for h in hits]
    assert lengths == sorted(lengths) and all("first_stage" in h.scores for h in hits)  # the reranker ordered them
    same = Rag(settings.with_(reranker="plugshop.parts:Shortest"), embedder="plugshop.parts:Tiny")  # the setting, too
    assert [h.chunk.id for h in same.search("extradition treaties", k=4)] == [h.chunk.id for h in hits]


@pytest.mark.parametrize("make, message", [
    (lambda s: Rag(s.with_(store="plugshop.parts:Missing")), "cannot load the store 'plugshop.parts:Missing'"),
    (lambda s: Rag(s.with_(store="memory")), "unknown store 'memory'; known: faiss, pgvector"),
    (lambda s: Rag(s, embedder="fasttext"), "unknown embedder 'fasttext'; known: torch, openvino, or a dotted path"),
    (lambda s: Rag(s, reranker="plugshop.parts:Nope"), "cannot load the reranker 'plugshop.parts:Nope'"),
])
def test_an_unknown_part_names_the_known_ones(fast_settings, plugins, make, message):
    with pytest.raises(ConfigError, match=message):
        make(fast_settings)


def test_the_relevance_check_is_keyed_on_the_answerer_not_its_name(tmp_path, corpus):
    """An answerer called "extractive" that does not choose by the question still gets the check."""
    named = FirstSentence()
    named.name = "extractive"
    rag = Rag(Settings(index_path=str(tmp_path / "index"), embedding_model="test-hash"), answerer=named,
              reranker=Reversed())
    rag.index([corpus])
    answer = rag.ask("extradition treaties")
    assert answer.abstained and any("does not answer the question" in issue for issue in answer.issues)
