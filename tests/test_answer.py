"""Answering end to end with the real bundled model: quotes, abstention, follow-ups, CLI."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXTRADITION, EXTRADITION_DOC, ROOT

pytestmark = pytest.mark.slow
COUNTRIES = ("Indonesia", "United States", "Thailand", "Pakistan", "Iran")


def test_extradition_answer_names_the_countries_with_a_verified_quote(real_rag):
    answer = real_rag.ask(EXTRADITION)
    assert not answer.abstained
    for country in COUNTRIES:
        assert country in answer.text
    assert "[1]" in answer.text or "[2]" in answer.text
    good = [c for c in answer.citations if c.verified and c.source.endswith(EXTRADITION_DOC)]
    assert good, answer.citations
    for citation in answer.citations:
        source_text = Path(citation.source).read_text(encoding="utf-8")
        assert source_text[citation.start : citation.end] == citation.quote  # against the file itself
    assert "11 extradition treaties" in good[0].quote
    assert answer.passages and answer.timings["total"] > 0


def test_population_question_abstains_with_nearest_passages(real_rag):
    answer = real_rag.ask("What is the population of Malaysia?")
    assert answer.abstained and not answer.citations
    assert "do not contain" in answer.text
    assert answer.passages  # shown instead of an answer


def test_follow_up_is_rewritten_and_shown(real_rag):
    answer = real_rag.ask("and which of those are ASEAN members?", history=[(EXTRADITION, "Indonesia, ... [1]")])
    assert answer.query != answer.question
    assert "extradition" in answer.query and "ASEAN members" in answer.query
    assert answer.query == "Which of the countries that have extradition treaties with Malaysia are ASEAN members?"
    # the follow-up is what is read: the chair, not the dates the first question asked for
    chair = real_rag.ask("and who chaired it?", history=[("When was the 25th SOMTC held?", "June 23 to 27, 2025 [1]")])
    assert chair.query == "Who chaired the 25th SOMTC?" and "June 23 to 27" not in chair.text
    standalone = real_rag.ask("How many extradition treaties does Malaysia currently have?", history=[(EXTRADITION, "...")])
    assert standalone.query == standalone.question and "11" in standalone.text


def test_stream_events_arrive_in_order(real_rag):
    events = list(real_rag.ask_stream(EXTRADITION))
    kinds = [e.type for e in events]
    assert kinds[0] == "query" and kinds[1] == "passages" and kinds[-1] == "answer"
    assert "token" not in kinds  # the extractive answerer proposes its whole draft at once: nothing unchecked streams


def test_a_bold_answer_is_shown_only_at_the_fitted_bar(real_rag, spans_rag):
    # the card's bar: the sureness at which 90% of short answers were right on calibrate articles
    bar = real_rag._span_reader().bar_for("extractive")
    assert 0.0 < bar < 1.0
    questions = ["How many delegates attended the 25th SOMTC meeting?", "How many extradition treaties does Malaysia currently have?",
                 "Who officiated the 25th SOMTC meeting?", "Where was the 25th SOMTC meeting held?"]
    for question in questions:
        every = spans_rag.ask(question).short_answer  # every span the reader finds, with its sureness
        shown = real_rag.ask(question).short_answer
        if every is None:
            assert shown is None, question
            continue
        assert every.confidence is not None
        assert (shown is not None) == (every.confidence >= bar), (question, every.confidence, bar)
        if shown is not None:
            result = _cli("ask", question, "--index", real_rag.settings.index_path)
            assert result.stdout.startswith(f"Answer: {shown.text}\n"), result.stdout
        else:
            result = _cli("ask", question, "--index", real_rag.settings.index_path)
            assert "Answer:" not in result.stdout.splitlines()[0], result.stdout


def test_short_answer_stands_in_the_source_inside_a_verified_quote(spans_rag):
    real_rag = spans_rag  # every span shown: how short answers are made
    answer = real_rag.ask("How many delegates attended the 25th SOMTC meeting?")
    short = answer.short_answer
    assert short is not None and short.text == "200"
    assert real_rag.document(short.source).text[short.start : short.end] == short.text
    assert any(c.source == short.source and c.start <= short.start and short.end <= c.end for c in answer.citations)
    assert 0.5 < answer.confidence <= 1.0 and not answer.conflict
    record = answer.to_dict()
    assert record["short_answer"] == {"text": "200", "source": short.source, "start": short.start, "end": short.end,
                                      "confidence": round(short.confidence, 4)}
    assert short.confidence is not None and 0.0 < short.confidence <= answer.confidence  # this span, of the passages' answer
    listed = real_rag.ask(EXTRADITION)  # a list is longer than a short answer: the sentence is the answer
    assert listed.short_answer is None or listed.short_answer.text in listed.text
    declined = real_rag.ask("What is the population of Malaysia?")
    assert declined.short_answer is None and declined.to_dict()["short_answer"] is None


def test_a_near_miss_declines_or_says_what_its_quotes_never_mention(spans_rag):
    real_rag = spans_rag
    # the documents give Malaysia's treaties, never Singapore's; the ones naming Singapore give no such number
    singapore = real_rag.ask("How many extradition treaties does Singapore have?")
    assert singapore.abstained and singapore.reason == "the nearest passage gives “11” for Malaysia, not for Singapore"
    asked = real_rag.ask("How many extradition treaties does Malaysia currently have?")
    assert not asked.abstained and asked.unmentioned == () and asked.short_answer is not None and asked.short_answer.text == "11"
    # the documents say where the meeting was held, never when; a date from a passage about something else
    elsewhere = real_rag.ask(NEAR_MISS)
    if not elsewhere.abstained:
        assert "Kota Kinabalu" in elsewhere.unmentioned and elsewhere.short_answer is None
        assert "Kota Kinabalu" in elsewhere.to_dict()["unmentioned"]
        result = _cli("ask", NEAR_MISS, "--index", real_rag.settings.index_path)
        assert result.returncode == 0 and result.stdout.startswith("Note: the quoted passages never mention"), result.stdout


def test_two_documents_that_date_the_meeting_over_different_days_are_shown_as_disagreeing(real_rag):
    # one seed: "from June 23 to 27, 2025"; another: "Day One (24 June 2025)" ... "Day Three (26 June 2025)"
    answer = real_rag.ask("When was the 25th SOMTC held?")
    assert answer.conflict and answer.to_dict()["conflict"] is True
    quotes = {c.source.rsplit("/", 1)[-1][:3]: c.quote for c in answer.citations if c.verified}
    assert "June 23 to 27, 2025" in quotes["001"] and "(24 June 2025)" in answer.text
    # both values in the short answer's place, each with its quotes' markers; no one side in bold.
    # 002's days run to Day Three (26 June), a passage not retrieved: the value is the document's
    values = answer.to_dict()["conflict_values"]
    assert answer.short_answer is None and [v["text"] for v in values] == ["June 23 to 27, 2025", "24–26 June 2025"]
    for value in answer.conflict_values:
        quoted = [c for c in answer.citations if c.marker in value.markers]
        assert any(any(c.start <= a and b <= c.end for c in quoted) for a, b in value.spans)
    result = _cli("ask", "When was the 25th SOMTC held?", "--index", real_rag.settings.index_path)
    first = result.stdout.splitlines()[0]
    assert first.startswith("Answer: June 23 to 27, 2025 [") and " · 24–26 June 2025 [" in first, result.stdout
    assert "The documents disagree; each source is quoted:" in result.stdout


def test_cli_prints_the_short_answer_first_where_the_bar_allows(real_rag):
    result = _cli("ask", "How many delegates attended the 25th SOMTC meeting?", "--index", real_rag.settings.index_path,
                  "--short-answer-bar", "0")
    assert result.returncode == 0 and result.stdout.startswith("Answer: 200\n"), result.stdout


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=300
    )


def test_cli_ask_json_and_batch(real_rag, tmp_path):
    index = real_rag.settings.index_path
    one = _cli("ask", EXTRADITION, "--json", "--index", index)
    assert one.returncode == 0, one.stderr
    data = json.loads(one.stdout)
    assert not data["abstained"] and all(c in data["answer"] for c in COUNTRIES)
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps({"id": "a", "question": EXTRADITION}) + "\n" + json.dumps({"question": "What is the population of Malaysia?"}) + "\n"
    )
    batch = _cli("ask", "--batch", str(questions), "--json", "--index", index)
    assert batch.returncode == 0, batch.stderr
    rows = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [r["abstained"] for r in rows] == [False, True]
    assert rows[0]["id"] == "a" and rows[0]["question"] == EXTRADITION
    for field in ("question", "answer", "abstained", "citations", "passages"):
        assert field in rows[1]
    for c in rows[0]["citations"]:
        assert set(c) >= {"source", "start", "end", "quote", "verified"}
    bad = _cli("ask", "--batch", "-", "--index", index, stdin="not json\n")  # one record per line, the error its own
    assert bad.returncode == 3 and "Traceback" not in bad.stderr
    assert json.loads(bad.stdout) == {"line": 1, "error": 'not a JSON object with a "question" field (text)'}


def test_cli_search_prints_source_text_at_offsets(real_rag):
    out = _cli("search", EXTRADITION, "-k", "3", "--index", real_rag.settings.index_path)
    assert out.returncode == 0, out.stderr
    first_header, rest = out.stdout.split("\n", 1)
    assert EXTRADITION_DOC in first_header
    source = first_header.split("] ", 1)[1].split(" chars ")[0]
    start, end = map(int, first_header.split(" chars ")[1].split()[0].split("-"))
    text = Path(source).read_text(encoding="utf-8")[start:end]
    assert rest.startswith(text + "\n") and "11 extradition treaties" in text


class _Inventing:
    """An LLM stand-in that writes a fluent sentence with no citation."""

    name = "openai:inventing"

    def stream(self, question, passages):
        yield "Malaysia has 40 extradition treaties, "
        yield "all signed in 1999."


def test_cli_shows_an_llm_draft_on_stderr_only_and_withdraws_it(fast_settings, corpus, monkeypatch, capsys):
    from rag import Rag
    from rag.cli import main

    Rag(fast_settings).index([corpus])
    monkeypatch.setattr(Rag, "answerer", lambda self, llm=None: _Inventing())  # the CLI builds its own Rag
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    argv = ["ask", "How many extradition treaties does Malaysia have?", "--index", fast_settings.index_path,
            "--model", "test-hash"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "40 extradition treaties" not in out  # stdout carries only what was verified
    assert out.startswith("The documents do not contain an answer")
    assert "draft (not yet checked" in err and "40 extradition treaties" in err
    assert "(draft withdrawn: the documents do not support it)" in err
    assert main([*argv, "--no-stream"]) == 0
    assert "40 extradition" not in "".join(capsys.readouterr())


def test_a_section_heading_gives_its_sentences_context_and_can_be_quoted(real_rag):
    # "the second day" is the heading "Day Two (25 June 2025): ..." above a list that never says so
    listed = real_rag.ask("Which dialogue partners held SOMTC consultation sessions on the second day of the 25th SOMTC?")
    assert not listed.abstained
    for partner in ("Canada", "New Zealand", "India", "Russia"):
        assert partner in listed.text
    # a heading is a line of its own in the answer, so its date is checked against its own quote
    opened = real_rag.ask("On what date did the 25th SOMTC meeting open?")
    assert not opened.abstained and "24 June 2025" in opened.text
    assert all(c.verified for c in opened.citations)
    assert any(c.quote.startswith("Day One (24 June 2025)") for c in opened.citations)


# the documents say where the meeting was held, never when
NEAR_MISS = "On what date was the inaugural Malaysia–Singapore Joint Working Committee meeting held in Kota Kinabalu?"


@pytest.mark.xfail(strict=True, reason="the default extractive answerer answers this near miss with another date (#13)")
def test_the_default_declines_a_near_miss(real_rag):
    assert real_rag.ask(NEAR_MISS).abstained


def test_strict_extractive_declines_a_near_miss(real_rag):
    near_miss = NEAR_MISS
    strict = real_rag.ask(near_miss, llm="extractive:strict")
    assert strict.abstained and strict.answerer == "extractive:strict"
    # a question whose names all stand in the passage is still answered
    answered = real_rag.ask("How many extradition treaties does Malaysia currently have?", llm="extractive:strict")
    assert not answered.abstained and "11 extradition treaties" in answered.text


def test_output_cut_short_by_a_pipe_is_not_an_error(real_rag):
    """`rag ask ... | head -1`: the reader of stdout leaves; no traceback follows."""
    command = f"{shlex.quote(sys.executable)} -m rag.cli ask {shlex.quote(EXTRADITION)} --index {shlex.quote(real_rag.settings.index_path)} | head -c 20"
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
