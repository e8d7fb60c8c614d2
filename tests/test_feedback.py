"""Feedback on answers: stored in SQLite beside the index, exported as QA items that `rag eval`
runs unchanged (fast test double embedder, the real extractive answerer)."""

from __future__ import annotations

import json

import pytest
from conftest import EXTRADITION

from rag import Rag
from rag.cli import main
from rag.errors import ConfigError
from rag.evaluation.evaluate import load_qa
from rag.evaluation.feedback import FeedbackStore, export, to_item


def test_ratings_are_stored_beside_the_index_and_exported_as_qa_items_rag_eval_runs(corpus, fast_settings, tmp_path, capsys):
    rag = Rag(fast_settings)
    rag.index([corpus])
    store = FeedbackStore(fast_settings.index_path)
    answered = rag.ask(EXTRADITION).to_dict()
    declined = rag.ask("What is the population of Malaysia?").to_dict()
    assert not answered["abstained"]
    good = store.add(answered, "up", user="alice")
    wrong = store.add(answered, "down", note="it missed a country")
    store.update(wrong, correct="Thailand")
    store.add(answered, "down")  # nothing typed: nothing to check against
    store.add(declined, "up")  # "not in the documents" was right
    with pytest.raises(ConfigError, match="must be 'up' or 'down'"):
        store.add(answered, "meh")

    stored = store.all()
    assert store.path == tmp_path / "index" / "feedback.sqlite"
    assert [(f.id, f.rating, f.user, f.correct) for f in stored] == [
        (good, "up", "alice", ""), (wrong, "down", "", "Thailand"), (3, "down", "", ""), (4, "up", "", "")]
    assert stored[0].question == EXTRADITION and stored[0].answer["answer"] == answered["answer"]
    assert stored[0].answerer == "extractive" and stored[0].index_version.startswith("data-")
    assert stored[1].note == "it missed a country"

    items, skipped = export(store)
    assert skipped == 1 and [i["id"] for i in items] == ["fb1", "fb2", "fb4"]
    assert items[1]["facts"] == [["Thailand"]] and "Thailand" in items[1]["evidence"][0]["quote"]
    assert items[2] == {"id": "fb4", "question": "What is the population of Malaysia?", "type": "unanswerable",
                        "answerable": False, "facts": [], "evidence": []}
    assert items[0]["evidence"] == [{"source": c["source"], "quote": c["quote"]} for c in answered["citations"]]

    out = tmp_path / "feedback.jsonl"
    assert main(["feedback", "export", "--index", fast_settings.index_path, "-o", str(out)]) == 0
    assert "exported 3 QA items" in capsys.readouterr().err
    assert [i.id for i in load_qa(out)] == ["fb1", "fb2", "fb4"]
    assert main(["feedback", "list", "--index", fast_settings.index_path]) == 0
    assert "#2" in capsys.readouterr().out

    # `rag eval` runs the export as it is, over the same documents
    code = main(["eval", str(out), "--corpus", str(corpus), "--index", fast_settings.index_path, "--model", "test-hash",
                 "--no-gate", "--out", str(tmp_path / "eval")])
    assert code == 0
    run = json.loads((tmp_path / "eval" / "results.json").read_text())["runs"][0]
    assert run["summary"]["questions"] == 3 and run["summary"]["unanswerable"] == 1
    assert run["summary"]["quote_validity"] == 1.0


def test_a_thumbs_down_with_nothing_typed_is_no_qa_item(tmp_path):
    store = FeedbackStore(tmp_path)
    answer = {"question": "q?", "answer": "a [1]", "abstained": False, "citations": [], "passages": []}
    fid = store.add(answer, "down", note="<script>alert(1)</script>")
    (stored,) = store.all()
    assert stored.id == fid and stored.note == "<script>alert(1)</script>"  # kept as text, never run
    assert to_item(stored) is None
    store.update(fid, correct="not in the documents")
    assert to_item(store.all()[0])["answerable"] is False
