"""The span reader and the reading answerer: windows, span decoding on hand-built scores,
conflicts, and fitting on a tiny slice into a loadable file that beats chance on unseen articles."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rag import Chunk, Hit
from rag.answer.reader import MAX_ANSWER_TOKENS, SpanReader, best_span, windows
from rag.answer.reading import Reading, conflicts
from rag.text import list_after


def test_windows_are_three_sentences_overlapping_by_one():
    text = "One a. Two b. Three c. Four d. Five e."
    spans = windows(text)
    assert [text[a:b] for a, b in spans] == ["One a. Two b. Three c.", "Three c. Four d. Five e."]
    assert windows("Only one.", 10) == [(10, 19)]
    assert windows("") == []


def encoding(tokens: list[str]):
    """[CLS] q [SEP] tokens... [SEP], with offsets into ' '.join(tokens)."""
    offsets, pos = [], 0
    for t in tokens:
        offsets.append((pos, pos + len(t)))
        pos += len(t) + 1
    return SimpleNamespace(sequence_ids=[None, 0, None, *[1] * len(tokens), None],
                           offsets=[(0, 0), (0, 1), (0, 0), *offsets, (0, 0)])


def test_decode_takes_the_best_valid_span_and_its_margin():
    tokens = ["Ögedei", "was", "appointed", "in", "1229"]  # token indices 3..7; 0 [CLS], 1 question, 2 and 8 [SEP]
    text = " ".join(tokens)
    start = np.array([1.0, 9.0, 0, 5.0, 0, 0, 0, 6.0, 0])
    end = np.array([1.0, 9.0, 0, 4.0, 0, 0, 0, 7.0, 9.0])  # the question and [SEP] never count
    span = SpanReader._decode(0, encoding(tokens), text, start, end)
    assert span.text == "1229" and span.score == 13.0 and span.margin == 11.0
    start = np.array([0, 0, 0, 0, 0, 0, 0, 9.0, 0])
    end = np.array([0, 0, 0, 8.0, 0, 0, 0, 0, 0])  # the best end stands before the best start
    span = SpanReader._decode(0, encoding(tokens), text, start, end)
    assert span.score == 9.0 and span.text in ("1229", "Ögedei")
    assert MAX_ANSWER_TOKENS >= 5


def test_best_span_is_the_widest_margin():
    from rag.answer.reader import Span

    spans = [Span(0, 0, 1, "a", 3.0, -1.0), Span(1, 0, 1, "b", 2.0, 1.5)]
    assert best_span(spans).text == "b"


def hit(source: str, text: str, rank: int) -> Hit:
    return Hit(Chunk(f"{source}-{rank}", source, 0, len(text), text, 0), 1.0 / rank, rank)


def test_conflicting_values_from_two_documents_are_both_kept():
    passages = [hit("a.txt", "It was held from June 23 to 27.", 1), hit("b.txt", "It was held from 24 to 26 June.", 2)]
    first = Reading(1, 17, 30, 0.9, ((0, 31, passages[0].chunk.text),), "June 23 to 27")
    second = Reading(2, 17, 31, 0.7, ((0, 31, passages[1].chunk.text),), "24 to 26 June")
    assert conflicts([first, second], passages, 0.5) == [second]
    assert conflicts([first, second], passages, 0.8) == []  # not confident enough to disagree
    same_doc = [hit("a.txt", passages[0].chunk.text, 1), hit("a.txt", passages[1].chunk.text, 2)]
    assert conflicts([first, second], same_doc, 0.5) == []  # one document: not sources disagreeing
    words = Reading(1, 0, 5, 0.9, ((0, 31, "x"),), "Putrajaya")
    assert conflicts([words, second], passages, 0.5) == []  # names: a list as often as a conflict


def test_a_sentence_that_introduces_a_list_brings_its_lines():
    text = "Sessions were held as follows:\nDay one\nDay two\nAfter that, dinner."
    chunk = Chunk("c", "a.txt", 0, len(text), text, 0)
    lines = list_after(chunk.text, chunk.start, (0, 30, "Sessions were held as follows:"))
    assert [t for *_, t in lines] == ["Day one", "Day two", "After that, dinner."]
    assert all(text[s:e] == t for s, e, t in lines)
    assert [t for *_, t in list_after(chunk.text, 0, (0, 30, "Sessions were held as follows:"), {31})] == ["Day two", "After that, dinner."]


@pytest.mark.slow
def test_fitting_a_tiny_slice_yields_a_loadable_reader_that_beats_chance(tmp_path):
    from rag.answer.reader import ReaderFiles
    from rag.bench.squad import load_squad, split
    from rag.fit.reader import fit

    data = "../shared/qa-train/squad-v1.1-dev-visible.json"
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "qa-train" / "squad-v1.1-dev-visible.json"
    if not path.is_file():
        pytest.skip(f"{data} is not beside the repository")
    out = tmp_path / "reader.npz"
    card = fit(str(path), out, epochs=1, trainable_from=2, lr=2e-4, limit_questions=450, log=lambda m: None)  # a quick slice
    assert out.is_file() and out.with_suffix(".json").is_file() and card["windows"] > 450
    reader = SpanReader(ReaderFiles.bundled(out), cache_dir=tmp_path / "cache")  # OpenVINO, exported once
    hits = total = 0
    chance = 0.0
    for article in split(load_squad(path), "validation")[:2]:
        for q in article.questions[:40]:
            spans = windows(q.context)
            if len(spans) < 2:
                continue
            found = reader.read(q.text, [q.context[a:b] for a, b in spans])
            a, b = spans[best_span(found).window]
            hits += a <= q.answer_start < b
            chance += sum(a <= q.answer_start < b for a, b in spans) / len(spans)
            total += 1
    assert total > 20 and hits / total > chance / total + 0.1
    assert 0.0 <= reader.confidence(0.0) <= 1.0 and 0 < reader.threshold < 1


def test_fit_reader_refuses_a_device_torch_cannot_use_in_one_line(capsys):
    import torch

    from rag.cli import main

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: --device cuda is valid here")
    assert main(["fit-reader", "unused.json", "--device", "cuda"]) == 1
    assert capsys.readouterr().err.strip() == "error: --device cuda: torch sees no GPU here; use --device cpu"
    assert main(["fit-reader", "unused.json", "--device", "gpu3"]) == 1
    assert capsys.readouterr().err.strip() == "error: unknown --device 'gpu3'; use cpu or cuda"


def test_the_short_answer_bar_is_the_lowest_confidence_whose_answers_are_nine_in_ten_right():
    from rag.fit.reader import short_answer_bar

    rows = [{"short": "x", "confidence": c / 100, "f1": 1.0 if c >= 60 else 0.0, "answerable": True} for c in range(100)]
    bar = short_answer_bar(rows, 0.9)
    assert bar["threshold"] == 0.6  # at 0.55, 40 of the 45 shown are right: 0.889
    assert all(c["precision"] >= 0.9 for c in bar["curve"] if c["threshold"] >= bar["threshold"])
    never = short_answer_bar([{**r, "f1": 0.0 if r["confidence"] < 0.99 else 1.0} for r in rows], 0.9)
    assert never["threshold"] > 1 and never["note"]  # no level is precise enough: no short answer is shown
    unanswerable = [{**r, "answerable": False} for r in rows]
    assert short_answer_bar(unanswerable, 0.9)["short_answers"] == 0  # only answerable questions' short answers count



def test_a_spans_probability_is_its_share_of_the_windows_start_and_end_mass():
    """Span.probability: softmax(start) x softmax(end) over the window's tokens, at the chosen span."""
    tokens = ["Ögedei", "was", "appointed", "in", "1229"]
    start = np.array([1.0, 9.0, 0, 5.0, 0, 0, 0, 6.0, 0])
    end = np.array([1.0, 9.0, 0, 4.0, 0, 0, 0, 7.0, 9.0])
    span = SpanReader._decode(0, encoding(tokens), " ".join(tokens), start, end)
    expected = np.exp(6.0) / np.exp(start).sum() * np.exp(7.0) / np.exp(end).sum()
    assert span.text == "1229" and abs(span.probability - expected) < 1e-9 and 0 < span.probability < 1
