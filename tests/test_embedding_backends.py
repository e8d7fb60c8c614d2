"""Embedding backends: the choice by name, and the OpenVINO backend against sentence-transformers
(the same vectors within bfloat16 rounding, the same tokens, an export made once and reused)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from rag.embed.embedders import EMBEDDERS, HashEmbedder, OpenVINOEmbedder, SentenceTransformerEmbedder, make_embedder
from rag.errors import ConfigError

TEXTS = [
    "Honey bees live in colonies with a single queen.",
    "What causes the tides?",
    "",
    "Malaysia currently has 11 extradition treaties, with countries including Indonesia, the United States, "
    "Thailand, Pakistan, and Iran. " * 3,
    "word " * 400,  # longer than the model reads: truncated to 256 word pieces by both backends
]


def test_backends_by_name():
    assert set(EMBEDDERS) == {"torch", "openvino"}
    assert isinstance(make_embedder("all-MiniLM-L6-v2"), OpenVINOEmbedder)  # the default, as in Settings
    assert isinstance(make_embedder("all-MiniLM-L6-v2", backend="torch"), SentenceTransformerEmbedder)
    assert isinstance(make_embedder("test-hash:16", backend="openvino"), HashEmbedder)  # the double ignores it
    with pytest.raises(ConfigError, match="unknown embedding backend 'onnx'; known: torch, openvino"):
        make_embedder("all-MiniLM-L6-v2", backend="onnx")


def test_openvino_refuses_what_it_cannot_run(tmp_path):
    with pytest.raises(ConfigError, match="local model folder"):
        OpenVINOEmbedder("some-org/some-hub-model", cache_dir=tmp_path)
    folder = tmp_path / "dense-model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    modules = [{"path": "", "type": "sentence_transformers.models.Transformer"},
               {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}]
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match="Transformer -> Pooling -> Dense: use the torch backend"):
        OpenVINOEmbedder(str(folder), cache_dir=tmp_path)
    modules[2] = {"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    with pytest.raises(ConfigError, match="mean or CLS"):
        OpenVINOEmbedder(str(folder), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="precision"):
        OpenVINOEmbedder("all-MiniLM-L6-v2", cache_dir=tmp_path, precision="int4")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pytest.importorskip("openvino")
    cache = tmp_path_factory.mktemp("ov-cache")
    embedder = OpenVINOEmbedder("all-MiniLM-L6-v2", cache_dir=cache, batch_size=2)
    embedder.exported()
    return embedder, cache


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["auto", "f32"])
def test_openvino_matches_sentence_transformers(exported, precision):
    _, cache = exported
    fast = OpenVINOEmbedder("all-MiniLM-L6-v2", cache_dir=cache, batch_size=2, precision=precision)
    reference = make_embedder("all-MiniLM-L6-v2")
    ours, theirs = fast.embed(TEXTS), reference.embed(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > (0.9999 if precision == "f32" else 0.999), cosine
    # one text alone gives the vector it gets in a padded batch
    np.testing.assert_allclose(fast.embed(TEXTS[:1], query=True)[0], ours[0], atol=2e-3)
    assert fast.embed([]).shape == (0, 384)
    assert fast.dimension == reference.dimension and fast.max_seq_length == reference.max_seq_length == 256
    assert fast.count_word_pieces(TEXTS) == reference.count_word_pieces(TEXTS)


@pytest.mark.slow
def test_openvino_export_is_made_once_and_reused(exported):
    _, cache = exported
    (folder,) = [p for p in cache.iterdir() if not p.name.startswith(".")]  # no temporary folder left behind
    assert {"model.xml", "model.bin", "source.json"} <= {p.name for p in folder.iterdir()}
    stamp = os.stat(folder / "model.bin").st_mtime_ns
    again = OpenVINOEmbedder("all-MiniLM-L6-v2", cache_dir=cache)
    assert again.exported() == folder / "model.xml"
    assert os.stat(folder / "model.bin").st_mtime_ns == stamp
    again.embed(["hello"])
    assert os.stat(folder / "model.bin").st_mtime_ns == stamp


@pytest.mark.slow
def test_openvino_runs_the_pipeline(exported, tmp_path):
    from rag import Rag, Settings

    _, cache = exported
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "tides.txt").write_text("Tides are caused by the gravity of the moon and the sun. Spring tides happen at new and full moon.")
    (corpus / "bees.txt").write_text("Honey bees live in colonies with a single queen. Worker bees collect nectar and pollen.")
    embedder = OpenVINOEmbedder("all-MiniLM-L6-v2", cache_dir=cache)
    rag = Rag(Settings(index_path=str(tmp_path / "index")), embedder=embedder)
    report = rag.index([corpus])
    assert report.embedded == report.chunks == 2
    hits = rag.search("what causes tides?", k=1, mode="dense")
    assert hits[0].chunk.source.endswith("tides.txt") and hits[0].score > 0.5
    answer = rag.ask("what do worker bees collect?")
    assert not answer.abstained and "nectar" in answer.text and all(c.verified for c in answer.citations)


PASSAGES = [
    "Mitochondrial DNA mutations accumulate with age in human skeletal muscle and reduce oxidative capacity.",
    "Vitamin D supplementation did not lower the incidence of invasive cancer in healthy adults over five years.",
    "The transcription factor binds the promoter and represses expression of the gene in T cells.",
    "Honey bees live in colonies with a single queen. Worker bees collect nectar and pollen.",
    "What causes the tides?",
    "Malaysia currently has 11 extradition treaties, with countries including Indonesia and Iran.",
]


@pytest.mark.slow
def test_openvino_int8_is_quantized_once_and_stays_near_float32(exported):
    pytest.importorskip("nncf")
    _, cache = exported
    int8 = OpenVINOEmbedder("all-MiniLM-L6-v2", cache_dir=cache, precision="int8")
    f32 = OpenVINOEmbedder("all-MiniLM-L6-v2", cache_dir=cache, precision="f32")
    assert int8.runs_in == "openvino int8 (set)"
    xml = int8.exported()
    assert xml != f32.exported() and "-int8-" in xml.parent.name and (xml.parent / "model.bin").is_file()
    stamp = os.stat(xml.parent / "model.bin").st_mtime_ns
    ours, reference = int8.embed(PASSAGES), f32.embed(PASSAGES)
    assert ours.shape == reference.shape == (len(PASSAGES), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() > 0.98 and cosine.mean() > 0.99, cosine  # the bound the class docstring states
    assert cosine.min() < 0.99999  # it is the quantized model that ran, not the float one
    # the nearest passage to each query is the same as in float32
    queries = ["how does vitamin D affect cancer?", "what do worker bees collect?"]
    assert (int8.embed(queries, query=True) @ ours.T).argmax(1).tolist() == \
        (f32.embed(queries, query=True) @ reference.T).argmax(1).tolist() == [1, 3]
    again = OpenVINOEmbedder("all-MiniLM-L6-v2", cache_dir=cache, precision="int8")
    assert again.exported() == xml and os.stat(xml.parent / "model.bin").st_mtime_ns == stamp
