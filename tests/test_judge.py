"""The answer judge: its training pairs, its check over every answerer's claims, the benchmark's
scoring at its threshold, the real fitted judge on the seeds, and a tiny fit that loads."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

from rag.answer.judge import JUDGE_PARAMS, AnswerJudge, JudgeCheck, judge_text, quoted_texts
from rag.answer.reader import ReaderFiles
from rag.bench import judged_at
from rag.errors import ConfigError
from rag.evaluation.squad import Article, Question
from rag.fit.judge import answer_threshold, pairs
from rag.settings import Settings
from rag.types import Chunk, Citation, Claim, Hit

CONTEXT = ("Thai and Cambodian police freed 587 people from a scam compound in Poipet. "
           "Among them were 214 Thai nationals, with Indonesians, Laotians and Chinese among the rest. "
           "Officers from Sa Kaeo province led the raid.")


def _article() -> Article:
    answerable = Question("q1", "Raid", "How many Thai nationals were freed in Poipet?", ("214",), CONTEXT, CONTEXT.index("214"))
    near = Question("q2", "Raid", "How many Indonesian nationals were freed?", (), CONTEXT, None)
    return Article("Raid", (CONTEXT,), (answerable, near))


def test_pairs_label_the_answer_sentence_and_the_near_misses():
    made = pairs([_article()], random.Random(0), year_share=1.0)
    kinds = {p.kind: p for p in made}
    assert kinds["answer"].label == 1 and "214" in kinds["answer"].text
    assert kinds["answer"].text.startswith("Thai and Cambodian police")  # the sentence before comes with it
    assert kinds["other_sentence"].label == 0 and "214" not in kinds["other_sentence"].text
    assert kinds["wrong_year"].label == 0 and kinds["wrong_year"].question.endswith("?")
    assert re.search(r" in (19|20)\d\d\?$", kinds["wrong_year"].question)
    assert {p.label for p in made if p.kind == "near_miss"} == {0}
    swapped = [p for p in made if p.kind == "swapped_name"]
    for p in swapped:  # the swapped-in name is one the answering text does not write
        assert p.label == 0 and p.question != kinds["answer"].question and p.text == kinds["answer"].text


def test_judge_text_is_the_sentence_after_the_one_before():
    spans = [(0, 5, "One."), (6, 11, "Two."), (12, 19, "Three.")]
    assert judge_text(spans, 0) == "One." and judge_text(spans, 2) == "Two. Three."


class _Fixed:
    """A judge double with fixed probabilities, for the check's own logic."""

    threshold = 0.5

    def __init__(self, value: float):
        self.value, self.read = value, []

    def probabilities(self, question, texts):
        self.read.append(list(texts))
        return np.full(len(texts), self.value)


def _claims() -> tuple[tuple[Claim, ...], list[Hit]]:
    chunk = Chunk("raid-0", "raid.txt", 0, len(CONTEXT), CONTEXT, 0)
    start = CONTEXT.index("Among")
    quote = CONTEXT[start : CONTEXT.index("rest.") + 5]
    cite = Citation(1, "raid.txt", start, start + len(quote), quote, True)
    return (Claim(quote, (cite,), True),), [Hit(chunk, 1.0, 1)]


def test_the_check_withholds_an_answer_below_the_threshold_and_keeps_one_above():
    claims, hits = _claims()
    low = _Fixed(0.2)
    out, judged = JudgeCheck(low)("How many Indonesians were freed?", claims, hits)  # type: ignore[arg-type]
    assert judged == pytest.approx(0.2) and not any(c.supported for c in out)
    assert "does not answer the question" in out[0].problems[-1]
    assert low.read == [[judge_text([(0, 0, s) for s in (CONTEXT.split(". ")[0] + ".", out[0].text)], 1)]]
    kept, judged = JudgeCheck(_Fixed(0.8))("How many Thais were freed?", claims, hits)  # type: ignore[arg-type]
    assert judged == pytest.approx(0.8) and kept == claims
    assert JudgeCheck(_Fixed(0.2), threshold=0.0)("q", claims, hits)[0] == claims  # 0 keeps every answer, judged


def test_quoted_texts_read_only_verified_quotes_of_supported_claims():
    claims, hits = _claims()
    unverified = Claim("x", (Citation(2, "raid.txt", 0, 4, "Thai", False),), True)
    withheld = Claim("y", claims[0].citations, False)
    assert quoted_texts((unverified, withheld), hits) == []
    assert len(quoted_texts(claims, hits)) == 1


def test_benchmark_rows_below_the_threshold_become_declines():
    rows = [{"answerable": True, "abstained": False, "judged": 0.3, "short": "214", "f1": 1.0, "em": 1.0, "gold_in_answer": True, "words": 9},
            {"answerable": True, "abstained": False, "judged": 0.9, "short": "214", "f1": 1.0, "em": 1.0, "gold_in_answer": True, "words": 9},
            {"answerable": False, "abstained": False, "judged": None, "short": None, "f1": 0.0, "em": 0.0, "gold_in_answer": False, "words": 4}]
    out = judged_at(rows, 0.5)
    assert [r["abstained"] for r in out] == [True, False, False]
    assert out[0]["short"] is None and out[0]["f1"] == 0.0 and not out[0]["gold_in_answer"]
    assert judged_at(rows, None) is rows


def test_the_answer_threshold_balances_right_answers_kept_and_non_answers_refused():
    rows = ([{"answerable": True, "abstained": False, "judged": p, "gold_in_answer": True} for p in (0.6, 0.7, 0.8, 0.9)]
            + [{"answerable": True, "abstained": False, "judged": 0.4, "gold_in_answer": False}]  # a wrong answer: declining it is free
            + [{"answerable": False, "abstained": False, "judged": p, "gold_in_answer": False} for p in (0.1, 0.2, 0.3, 0.95)])
    chosen = answer_threshold(rows)
    assert 0.3 < chosen["threshold"] <= 0.6
    assert chosen["right_answers_kept"] == 0.8 and chosen["unanswerable_declined"] == 0.75


def test_bad_judge_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown judge"):
        Settings(judge="sometimes")
    with pytest.raises(ConfigError, match="judge_threshold must be a probability"):
        Settings(judge_threshold=1.5)


needs_judge = pytest.mark.skipif(not JUDGE_PARAMS.is_file(), reason="the fitted judge is not in this tree")


@needs_judge
@pytest.mark.slow
def test_the_fitted_judge_tells_the_asked_country_from_another(tmp_path):
    """The seed writes Malaysia's count of treaties: the judge takes it to answer Malaysia's
    question, and not the same question about Singapore; its OpenVINO export (made here, into a
    folder given as a string) reads as torch does."""
    judge = AnswerJudge(cache_dir=str(tmp_path), precision="f32")
    sentence = ("He added that Malaysia currently has 11 extradition treaties, with countries including Indonesia, "
                "the United States, Thailand, Pakistan, and Iran, enabling the extradition of fugitive criminals to face justice.")
    asked = judge.probabilities("How many extradition treaties does Malaysia have?", [sentence])[0]
    other = judge.probabilities("How many extradition treaties has Singapore signed?", [sentence])[0]
    assert asked >= judge.threshold > other
    torch_judge = AnswerJudge(runtime="torch")
    assert torch_judge.probabilities("How many extradition treaties does Malaysia have?", [sentence])[0] == pytest.approx(asked, abs=1e-4)


@needs_judge
def test_with_the_judge_on_every_answer_is_judged_and_near_misses_decline(real_rag):
    from rag.pipeline import Rag

    judged = Rag(real_rag.settings.with_(judge="on"))
    answer = judged.ask("How many extradition treaties does Malaysia have?")
    assert answer.judged is not None and answer.judged >= 0.5 and not answer.abstained and "11" in answer.text
    near = judged.ask("How many extradition treaties has Singapore signed?")
    assert near.abstained and near.judged is not None and near.judged < 0.2
    assert near.reason == "the nearest passage gives “11” for Malaysia, not for Singapore"
    assert any("does not answer the question" in p for c in near.claims for p in c.problems)
    off = real_rag.ask("How many extradition treaties does Malaysia have?")  # off by default
    assert off.judged is None


@pytest.mark.slow
def test_a_tiny_fit_saves_a_loadable_judge(tmp_path):
    from rag.fit.judge import fit

    squad = {"version": "1.1", "data": [
        {"title": f"Raid {i}", "paragraphs": [{"context": CONTEXT, "qas": [
            {"id": f"{i}-1", "question": "How many Thai nationals were freed in Poipet?",
             "answers": [{"text": "214", "answer_start": CONTEXT.index("214")}]},
            {"id": f"{i}-2", "question": "Who led the raid?",
             "answers": [{"text": "Officers from Sa Kaeo province", "answer_start": CONTEXT.index("Officers")}]}]}]}
        for i in range(12)]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad))
    out = tmp_path / "judge.npz"
    card = fit(str(path), out, epochs=1, trainable_from=11, lora=2, limit_pairs=24, log=lambda m: None)
    assert card["head"] == "judge" and out.is_file() and out.with_suffix(".json").is_file()
    assert all(k.startswith(("encoder.layer.11.", "judge.")) for k in np.load(out).files)
    judge = AnswerJudge(ReaderFiles.mpnet(out), runtime="torch")
    p = judge.probabilities("Who led the raid?", [CONTEXT, "Nothing here."])
    assert p.shape == (2,) and ((0 <= p) & (p <= 1)).all()
    assert 0.0 <= judge.threshold <= 1.0



def test_a_judge_file_that_is_not_there_is_a_one_line_error(fast_settings, corpus):
    from rag.pipeline import Rag

    rag = Rag(fast_settings)
    rag.index([corpus])
    with pytest.raises(ConfigError, match="not a parameter file with its .json card"):
        Rag(fast_settings.with_(judge=str(corpus / "missing.npz"))).ask("How many extradition treaties does Malaysia have?")
    assert not rag.ask("How many extradition treaties does Malaysia have?").abstained  # the index answers as before
