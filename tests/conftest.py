"""Shared fixtures: a copy of the seed corpus, settings for the fast test double, and one real
index of seeds/ built with the bundled all-MiniLM-L6-v2 model (built once per run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.register_assert_rewrite("pgserver")  # a plugin module that test modules also import

from rag import Rag, Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EXTRADITION = "which countries have extradition treaties with Malaysia?"
EXTRADITION_DOC = "000_802fec47948a7749.txt"


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
