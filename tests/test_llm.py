"""LLM answerers: the OpenAI-compatible path against a real HTTP server on loopback, through the
real LangChain client (streaming included), and the in-process GGUF path with SmolLM2."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import EXTRADITION, EXTRADITION_DOC

from rag import AnswerError, Rag
from rag.types import TokenEvent

pytestmark = pytest.mark.slow


class ChatServer:
    """Speaks enough of /v1/chat/completions (plain and SSE streaming) for the OpenAI client."""

    def __init__(self):
        self.requests: list[dict] = []
        self.reply = lambda messages: "NOT_IN_DOCUMENTS"
        self.refuse_schema = False  # answer 400 to a request with a response_format, as servers without it do
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                if server.refuse_schema and "response_format" in body:
                    error = json.dumps({"error": {"message": "response_format is not supported", "type": "invalid_request_error"}}).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error)
                    return
                text = server.reply(body["messages"])
                base = {"id": "chatcmpl-1", "created": int(time.time()), "model": body["model"]}
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    pieces = [text[i : i + 12] for i in range(0, len(text), 12)]
                    for i, piece in enumerate(pieces):  # the first delta names the role, as OpenAI's does
                        delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                        chunk = {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    end = {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                    self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                    return
                payload = {
                    **base,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def chat_server():
    server = ChatServer()
    yield server
    server.httpd.shutdown()


@pytest.fixture
def openai_rag(real_rag, chat_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    rag = Rag(real_rag.settings, embedder=real_rag.embedder)  # fresh answerer cache, same index
    chat_server.requests.clear()
    chat_server.refuse_schema = False
    return rag


def passage_sentence(messages, needle: str) -> tuple[int, str]:
    """The model's 'answer': the sentence holding `needle`, copied from the numbered passage (the
    structured prompt numbers each sentence, "[2.3] ...": the number is not copied)."""
    n, _, sentence = numbered_sentence(messages, needle)
    return n, sentence


def numbered_sentence(messages, needle: str) -> tuple[int, int, str]:
    """(passage, sentence number or 0 in a free-text prompt, sentence) of the sentence holding `needle`."""
    prompt = messages[-1]["content"]
    for number, body in re.findall(r"\[(\d+)\] \(source: .*?\)\n(.*?)(?=\n\n\[\d+\] \(source|\n\nQuestion:)", prompt, re.S):
        for sentence in re.split(r"(?<=[.!?])\s+(?=\[\d+\.\d+\] |[^\[])", body):
            numbered = re.match(r"\[\d+\.(\d+)\] ", sentence)
            text = sentence[numbered.end() :] if numbered else sentence
            if needle in text:
                return int(number), int(numbered.group(1)) if numbered else 0, text.strip()
    raise AssertionError(f"{needle!r} not in the prompt's passages")


def test_prompt_names_each_passage_source_and_the_heading_it_stands_under():
    from rag.answer.prompt import user_message
    from rag.types import Chunk, Hit

    plain = Chunk("a", "a.txt", 0, 9, "Otters swim.", 0)
    under = Chunk("b", "b.txt", 40, 60, "Four sessions were held.", 3, heading="Meeting Report\nDay Two (25 June): Talks")
    prompt = user_message("What was held?", [Hit(plain, 1.0, 1), Hit(under, 0.5, 2)], 1000)
    assert "[1] (source: a.txt)\nOtters swim." in prompt
    assert "[2] (source: b.txt; under: Meeting Report / Day Two (25 June): Talks)\nFour sessions were held." in prompt


def test_streamed_answer_is_verified(openai_rag, chat_server):
    def reply(messages):
        n, sentence = passage_sentence(messages, "11 extradition treaties")
        return f"{sentence} [{n}]"

    chat_server.reply = reply
    events = list(openai_rag.ask_stream(EXTRADITION, llm="openai:test-model"))
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    answer = events[-1].answer
    assert len(tokens) > 3, "tokens should stream in pieces"
    assert not answer.abstained and "Pakistan" in answer.text
    (citation,) = answer.citations
    assert citation.verified and citation.source.endswith(EXTRADITION_DOC)
    assert openai_rag.document(citation.source).text[citation.start : citation.end] == citation.quote
    request = chat_server.requests[-1]
    assert request["stream"] is True and request["model"] == "test-model"
    assert request["messages"][0]["role"] == "system" and "[1]" in request["messages"][1]["content"]


def test_hostile_llm_answer_is_not_shown_as_fact(openai_rag, chat_server):
    chat_server.reply = lambda m: "Malaysia has 47 extradition treaties with European countries [1]. It also signed one with Mars [9]."
    answer = openai_rag.ask(EXTRADITION, llm="openai:test-model")
    assert answer.abstained and not answer.citations
    assert any("47" in issue for issue in answer.issues)
    assert any("[9] points at no passage" in issue for issue in answer.issues)


def test_partly_supported_answer_marks_the_unsupported_sentence(openai_rag, chat_server):
    def reply(messages):
        n, sentence = passage_sentence(messages, "11 extradition treaties")
        return f"{sentence} [{n}] Malaysia also plans a treaty with Atlantis."

    chat_server.reply = reply
    answer = openai_rag.ask(EXTRADITION, llm="openai:test-model")
    assert not answer.abstained
    assert all(c.verified for c in answer.citations)
    assert any(issue.startswith("no citation") and "Atlantis" in issue for issue in answer.issues)


def test_llm_abstention_marker(openai_rag, chat_server):
    chat_server.reply = lambda m: "NOT_IN_DOCUMENTS"
    answer = openai_rag.ask("What is the population of Malaysia?", llm="openai:test-model")
    assert answer.abstained and answer.passages


def test_llm_rewrites_follow_up(openai_rag, chat_server):
    def reply(messages):
        if "Standalone question" in messages[-1]["content"]:
            return "Which of the countries with extradition treaties with Malaysia are ASEAN members?"
        n, sentence = passage_sentence(messages, "11 extradition treaties")
        return f"{sentence} [{n}]"

    chat_server.reply = reply
    answer = openai_rag.ask("and which of those are ASEAN members?", history=[(EXTRADITION, "Indonesia ... [1]")], llm="openai:test-model")
    assert answer.query == "Which of the countries with extradition treaties with Malaysia are ASEAN members?"
    assert any("Standalone question" in r["messages"][-1]["content"] for r in chat_server.requests)


def test_unreachable_server_is_one_clear_error(real_rag, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    rag = Rag(real_rag.settings, embedder=real_rag.embedder)
    with pytest.raises(AnswerError, match="the LLM 'openai:m' failed") as info:
        rag.ask(EXTRADITION, llm="openai:m")
    assert "\n" not in str(info.value)


def test_unknown_llm_spec_lists_the_known_ones(real_rag):
    with pytest.raises(Exception, match="openai:MODEL, ollama:MODEL, gguf:PATH"):
        real_rag.ask(EXTRADITION, llm="claude-via-magic")


@pytest.mark.gguf
def test_gguf_smollm2_runs_in_process(real_rag):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: pip install 'rag-quotes[gguf]'")
    answer = real_rag.ask(EXTRADITION, llm="gguf:smollm2", k=2)  # a short prompt keeps the CPU run brief
    assert answer.answerer == "gguf:smollm2"
    assert answer.timings["answer"] > 0
    # SmolLM2-135M is too small to answer well; what must hold is that nothing unverified is shown
    for citation in answer.citations:
        if citation.quote:
            assert real_rag.document(citation.source).text[citation.start : citation.end] == citation.quote
    assert answer.abstained or any(c.verified for c in answer.citations)


def test_a_langchain_chat_model_instance_is_an_answerer(real_rag, chat_server):
    from langchain_openai import ChatOpenAI

    def reply(messages):
        n, sentence = passage_sentence(messages, "11 extradition treaties")
        return f"{sentence} [{n}] Malaysia signed 99 more last week [{n}]."

    chat_server.reply = reply
    model = ChatOpenAI(model="injected-model", base_url=chat_server.url, api_key="test-key", temperature=0)
    rag = Rag(real_rag.settings, embedder=real_rag.embedder, answerer=model)
    answer = rag.ask(EXTRADITION)
    assert answer.answerer == "langchain:ChatOpenAI" and not answer.abstained and "Pakistan" in answer.text
    assert all(c.verified for c in answer.citations) and "99 more" not in answer.text
    assert [c.text for c in answer.withheld] == ["Malaysia signed 99 more last week."]
    assert chat_server.requests[-1]["model"] == "injected-model"


def test_structured_answer_sends_the_schema_and_quotes_the_named_sentence(openai_rag, chat_server):
    def reply(messages):
        n, s, sentence = numbered_sentence(messages, "11 extradition treaties")
        claims = [
            {"text": "Malaysia has 11 extradition treaties, including with Indonesia, the United States, Thailand, "
                     "Pakistan and Iran.", "passage": n, "sentence": s},
            {"text": "Malaysia has 11 extradition treaties.", "passage": n, "sentence": 99},
        ]
        return json.dumps({"answerable": True, "claims": claims})

    chat_server.reply = reply
    answer = openai_rag.ask(EXTRADITION, llm="openai:test-model")
    request = chat_server.requests[-1]
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"]["required"] == ["answerable", "claims"]
    assert "[1.1]" in request["messages"][-1]["content"]  # sentences are numbered
    assert not answer.abstained and "Pakistan" in answer.text
    (citation,) = answer.citations
    text = openai_rag.document(citation.source).text
    assert text[citation.start : citation.end] == citation.quote and citation.quote.startswith("He added that Malaysia")
    assert citation.quote.endswith("to face justice.")  # exactly the named sentence, cut at its offsets
    (withheld,) = answer.withheld
    assert "points at no sentence" in withheld.problems[0]


def test_structured_claims_stream_as_they_complete(openai_rag, chat_server):
    def reply(messages):
        n, s, sentence = numbered_sentence(messages, "11 extradition treaties")
        return json.dumps({"answerable": True, "claims": [
            {"text": "Malaysia currently has 11 extradition treaties.", "passage": n, "sentence": s},
            {"text": "They include Indonesia and Iran.", "passage": n, "sentence": s},
        ]})

    chat_server.reply = reply
    events = list(openai_rag.ask_stream(EXTRADITION, llm="openai:test-model"))
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    assert tokens == [f"Malaysia currently has 11 extradition treaties. [{tokens[0].split('[')[1]}",
                      f"They include Indonesia and Iran. [{tokens[1].split('[')[1]}"]
    answer = events[-1].answer
    assert len(answer.claims) == 2 and all(c.supported for c in answer.claims)


def test_unanswerable_verdict_is_an_abstention(openai_rag, chat_server):
    chat_server.reply = lambda messages: json.dumps({"answerable": False, "claims": []})
    answer = openai_rag.ask("What is the population of Malaysia?", llm="openai:test-model")
    assert answer.abstained and not answer.withheld


def test_a_server_without_json_schema_gets_the_free_text_prompt(openai_rag, chat_server):
    def reply(messages):
        assert "Write the answer in words" in messages[0]["content"]  # the free-text prompt, with its example
        n, sentence = passage_sentence(messages, "11 extradition treaties")
        return f"{sentence} [{n}]"

    chat_server.refuse_schema = True
    chat_server.reply = reply
    answer = openai_rag.ask(EXTRADITION, llm="openai:test-model")
    assert not answer.abstained and all(c.verified for c in answer.citations)
    assert "response_format" in chat_server.requests[0] and "response_format" not in chat_server.requests[-1]
    asked = len(chat_server.requests)
    openai_rag.ask(EXTRADITION, llm="openai:test-model")  # it remembers: one request, free text
    assert len(chat_server.requests) == asked + 1 and "response_format" not in chat_server.requests[-1]
