"""Shared fixtures: a copy of the seed corpus, settings for the fast test double, one real
index of seeds/ built with the bundled all-MiniLM-L6-v2 model (built once per run), a free port
for the servers tests start, and Debian's headless Chromium for the browser tests."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

pytest.register_assert_rewrite("pgserver")  # a plugin module that test modules also import

from rag import Rag, Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EXTRADITION = "which countries have extradition treaties with Malaysia?"
EXTRADITION_DOC = "000_802fec47948a7749.txt"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's: never a browser download by a test tool
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def needs_browser():
    """At a browser test module's top: skip the module unless Debian's Chromium, gradio and
    playwright are here; playwright's sync API."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium: apt-get install -y chromium", allow_module_level=True)
    pytest.importorskip("gradio")
    return pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for one test module (its tests skip unless CHROMIUM and playwright exist)."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def by_score(hits) -> dict:
    """{score: chunks with that score}, leaving out the lowest score, whose tie the cut at k may split."""
    groups: dict[float, set] = {}
    for hit in hits:
        groups.setdefault(round(hit.score, 5), set()).add(hit.chunk)
    groups.pop(min(groups))
    return groups


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of seeds/ that a test may change."""
    target = tmp_path / "docs"
    shutil.copytree(SEEDS, target)
    for file in target.iterdir():
        file.chmod(0o644)
    return target


@pytest.fixture
def fast_settings(tmp_path: Path) -> Settings:
    return Settings(index_path=str(tmp_path / "index"), embedding_model="test-hash")


@pytest.fixture(scope="session")
def real_rag(tmp_path_factory) -> Rag:
    """seeds/ indexed with the real bundled model (shared, read-only: tests must not change it)."""
    folder = tmp_path_factory.mktemp("real")
    corpus = folder / "seeds"
    shutil.copytree(SEEDS, corpus)
    rag = Rag(Settings(index_path=str(folder / "index")))
    report = rag.index([corpus])
    assert report.documents == 5 and report.embedded == report.chunks > 0
    return rag


@pytest.fixture(scope="session")
def spans_rag(real_rag) -> Rag:
    """real_rag's index read with every short answer the reader finds shown (short_answer_bar=0),
    where a test checks how short answers are made rather than whether one is shown."""
    return Rag(real_rag.settings.with_(short_answer_bar=0.0))


@pytest.fixture
def tiny_beir(tmp_path: Path) -> Path:
    """A four-document folder in the BEIR layout (corpus.jsonl, queries.jsonl, qrels/test.tsv)."""
    import json

    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    filler = " ".join(f"Sentence {i} mentions nothing of interest at all." for i in range(6))
    corpus = [
        {"_id": "d1", "title": "Zebras", "text": f"{filler} Zebras have black and white stripes."},
        {"_id": "d2", "title": "Walruses", "text": f"Walruses use their long tusks on the ice. {filler}"},
        {"_id": "d3", "title": "Herons", "text": f"{filler} Grey herons wait in shallow water."},
        {"_id": "d4", "title": "Otters", "text": f"{filler} Otters float on their backs."},
    ]
    queries = [
        # metadata names the wrong document: the bench must read `text` only
        {"_id": "q1", "text": "why do zebras have stripes", "metadata": {"d4": []}},
        {"_id": "q2", "text": "walrus tusks", "metadata": {}},
        {"_id": "q3", "text": "otters", "metadata": {}},  # not judged in this split
    ]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return folder


# What makes a test slow, whatever its module says: a server (PostgreSQL, Ray, a browser), a real
# model (the bundled index, a cross-encoder, a GGUF file). `-m "not slow"` is then the fast unit tests.
SLOW_FIXTURES = {"real_rag", "pg_url", "pg_server", "ray_runtime", "cross_encoder_path", "page", "server"}
SLOW_MARKERS = {"postgres", "browser", "gguf"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames) or SLOW_MARKERS & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.slow)
