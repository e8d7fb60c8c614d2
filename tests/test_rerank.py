"""Reranking plumbing with a tiny, randomly initialised CrossEncoder built on the spot (no download)."""

import inspect

import pytest

from rag import Document, Rag, Settings

WORDS = (
    "the a of in on and to is was by with for river bridge tower castle forest mountain lake city "
    "old new stone built king queen wooden ancient village harbour ship north south"
).split()
DOCS = [
    Document.from_text("bridge.txt", "The old stone bridge was built by the king over the river."),
    Document.from_text("tower.txt", "The tower of the castle is on the mountain north of the city."),
    Document.from_text("forest.txt", "An ancient forest with a lake is south of the village."),
    Document.from_text("harbour.txt", "A wooden ship is in the harbour of the new city."),
    Document.from_text("queen.txt", "The queen built a castle with a tower on the lake."),
    Document.from_text("village.txt", "The village by the river has a stone bridge and a harbour."),
]


@pytest.fixture(scope="module")
def cross_encoder_path(tmp_path_factory):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *WORDS]) + "\n")
    # transformers 5 names the argument `vocab`; 4.x called it `vocab_file`
    takes_vocab = "vocab" in inspect.signature(transformers.BertTokenizerFast.__init__).parameters
    vocab_arg = {"vocab" if takes_vocab else "vocab_file": str(vocab)}
    tokenizer = transformers.BertTokenizerFast(**vocab_arg, do_lower_case=True)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(WORDS) + 6, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=512, num_labels=1,
        initializer_range=0.2,  # wider than the default 0.02, so passages get clearly different scores
    )
    model = transformers.BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_rerank_reorders_first_stage_candidates(tmp_path, cross_encoder_path):
    from sentence_transformers import CrossEncoder

    settings = Settings(index_path=str(tmp_path / "index"), embedding_model="test-hash", retrieval="hybrid")
    Rag(settings).add_documents(DOCS)
    query = "castle tower on the lake"
    first_stage = {h.chunk.id: h.score for h in Rag(settings).search(query, k=50)}
    assert len(first_stage) == len(DOCS)  # every document shares a word with the query

    hits = Rag(settings.with_(reranker=cross_encoder_path)).search(query, k=3)
    assert len(hits) == 3
    assert [h.rank for h in hits] == [1, 2, 3]

    # the order and the scores are the cross-encoder's, over all first-stage candidates
    encoder = CrossEncoder(cross_encoder_path, device="cpu", max_length=512)
    expected = {d.source: float(s) for d, s in zip(DOCS, encoder.predict([(query, d.text) for d in DOCS]))}
    best = sorted(expected, key=lambda source: -expected[source])[:3]
    assert len(set(expected.values())) == len(DOCS)  # random weights still give distinct scores
    assert [h.chunk.source for h in hits] == best
    assert [h.score for h in hits] == pytest.approx([expected[s] for s in best], abs=1e-5)
    # the first-stage (fused) score is kept beside the cross-encoder's
    for h in hits:
        assert h.scores["first_stage"] == pytest.approx(first_stage[h.chunk.id])
        assert "dense_rank" in h.scores or "bm25_rank" in h.scores
