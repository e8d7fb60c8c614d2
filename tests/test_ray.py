"""Distributed embedding on a local two-CPU Ray: the same vectors as the local embedder, and an
index built with `embed_with="ray"` that answers like one built locally, in FAISS and in pgvector."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import by_score

from rag import Rag, Settings
from rag.embed.embedders import make_embedder
from rag.ingest.chunks import split_document
from rag.ingest.documents import load_paths

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data")  # Ray's own deprecations
from rag.embed.distributed import RayEmbedder

pytest_plugins = ["pgserver"]  # the pg_server and pg_url fixtures
SEEDS = Path(__file__).resolve().parents[1] / "seeds"
BATCH = 8  # lists longer than one batch go to Ray


@pytest.fixture(scope="module")
def ray_runtime():
    """One local Ray for the module (2 CPUs, a short temp dir: Ray's socket paths must stay short)."""
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    settings = Settings(embedding_model="test-hash", embedding_batch_size=BATCH)
    runner = RayEmbedder(
        make_embedder("test-hash"), settings, num_cpus=2, temp_dir=temp_dir, object_store_memory=200 * 2**20
    )
    runner.start()
    yield runner
    runner.close()
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def ray_calls(monkeypatch):
    """Counts the embed() calls that really went to Ray."""
    calls = []
    original = RayEmbedder._embed_on_ray

    def counted(self, texts):
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(RayEmbedder, "_embed_on_ray", counted)
    return calls


def seed_texts() -> list[str]:
    documents, _ = load_paths([SEEDS])
    return [c.text for d in documents for c in split_document(d)]


@pytest.mark.parametrize(
    "model, backend",
    [
        ("test-hash", "torch"),
        pytest.param("all-MiniLM-L6-v2", "torch", marks=pytest.mark.slow),
        pytest.param("all-MiniLM-L6-v2", "openvino", marks=pytest.mark.slow),
    ],
)
def test_ray_gives_the_local_vectors(ray_runtime, ray_calls, model, backend):
    texts = seed_texts()
    local = make_embedder(model, batch_size=BATCH, backend=backend)
    settings = Settings(embedding_model=model, embedding_batch_size=BATCH, embedding_backend=backend)
    runner = RayEmbedder(local, settings)
    vectors = runner.embed(texts)
    assert ray_calls == [len(texts)] and len(texts) > 2 * BATCH
    expected = local.embed(texts)
    assert vectors.shape == expected.shape == (len(texts), local.dimension)
    assert vectors.dtype == np.float32
    if backend == "openvino":
        # bfloat16 sums depend on how texts are batched (Ray's batches differ from the local
        # ones): the same vectors to within bfloat16 rounding
        assert (vectors * expected).sum(axis=1).min() > 0.9999
        assert np.abs(vectors - expected).max() < 2e-3
    else:
        assert np.allclose(vectors, expected, atol=1e-5)
    # queries and short lists stay local
    np.testing.assert_array_equal(runner.embed(["a question"], query=True), local.embed(["a question"], query=True))
    assert runner.embed(texts[:BATCH]).shape == (BATCH, local.dimension)
    assert ray_calls == [len(texts)]
    assert runner.model_id == model and runner.dimension == local.dimension


QUERIES = ["which countries have extradition treaties with Malaysia?", "fugitive criminals justice", "election results"]


@pytest.mark.parametrize("store", ["faiss", pytest.param("pgvector", marks=pytest.mark.postgres)])
def test_index_built_on_ray_answers_like_a_local_one(ray_runtime, ray_calls, tmp_path, request, store):
    base = Settings(embedding_model="test-hash", embedding_batch_size=BATCH)

    def settings(name: str) -> Settings:
        if store == "faiss":
            return base.with_(index_path=str(tmp_path / name))
        return base.with_(store="pgvector", store_url=request.getfixturevalue("pg_server").create_database())

    local = Rag(settings("local"))
    distributed = Rag(settings("ray").with_(embed_with="ray"))
    assert isinstance(distributed.embedder, RayEmbedder)

    reports = [rag.index([SEEDS]) for rag in (local, distributed)]
    assert ray_calls and sum(ray_calls) == reports[1].embedded == reports[0].embedded == reports[0].chunks
    for query in QUERIES:
        for mode in ("dense", "hybrid"):
            a, b = (rag.search(query, k=5, mode=mode) for rag in (local, distributed))
            assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-6)
            assert by_score(a) == by_score(b) and a[0].chunk == b[0].chunk
