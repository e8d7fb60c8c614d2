"""The MCP server through a real MCP client session: over stdio (`rag mcp` spawned as a subprocess)
and over loopback HTTP (`rag serve --mcp --auth`, a subprocess on a free port), both on the real index."""

from __future__ import annotations

import base64
import json
import re
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import anyio
import pytest
from conftest import EXTRADITION, EXTRADITION_DOC, ROOT
from mcp import Client, StdioServerParameters

from rag.cli import main
from ui.auth import add_user

TOOLS = {"ask", "search", "list_documents"}


def call(client_target, calls: list[tuple[str, dict]]) -> tuple[list, list]:
    """Open one client session, list the tools, make the calls in order; (tools, results)."""

    async def session():
        async with Client(client_target) as client:
            tools = (await client.list_tools()).tools
            return tools, [await client.call_tool(name, arguments) for name, arguments in calls]

    return anyio.run(session)


def check_answer(rag, result) -> None:
    assert not result.is_error
    answer = result.structured_content
    assert not answer["abstained"] and "Pakistan" in answer["answer"] and answer["withheld"] == []
    assert answer["citations"] and answer["citations"][0]["source"].endswith(EXTRADITION_DOC)
    for c in answer["citations"]:
        assert rag.document(c["source"]).text[c["start"] : c["end"]] == c["quote"]
    short = answer["short_answer"]
    assert rag.document(short["source"]).text[short["start"] : short["end"]] == short["text"]
    assert any(c["start"] <= short["start"] and short["end"] <= c["end"] for c in answer["citations"])


def error_text(result) -> str:
    assert result.is_error
    (content,) = result.content
    return content.text


@pytest.mark.slow
def test_stdio_tools_answer_search_and_refuse_bad_input(real_rag):
    command = ["-m", "rag.cli", "mcp", "--index", real_rag.settings.index_path, "--short-answer-bar", "0"]
    server = StdioServerParameters(command=sys.executable, args=command, cwd=str(ROOT))
    tools, (answer, found, documents, k_zero, too_long, wrong_type, again, filtered, unknown) = call(server, [
        ("ask", {"question": EXTRADITION}),
        ("search", {"query": EXTRADITION, "k": 3}),
        ("list_documents", {}),
        ("search", {"query": EXTRADITION, "k": 0}),
        ("ask", {"question": "why " * 600}),
        ("search", {"query": EXTRADITION, "k": "many"}),
        ("search", {"query": EXTRADITION, "k": 100}),
        ("search", {"query": EXTRADITION, "k": 3, "filters": [f"source=*{EXTRADITION_DOC}"]}),
        ("ask", {"question": EXTRADITION, "filters": ["colour=red"]}),
    ])  # fmt: skip
    assert {t.name for t in tools} == TOOLS, "no upload or remove tool, ever"
    schema = {t.name: t for t in tools}
    assert schema["ask"].input_schema["required"] == ["question"]
    assert schema["ask"].input_schema["properties"]["k"]["maximum"] == 100
    assert "citations" in schema["ask"].output_schema["properties"]
    assert all(t.annotations.read_only_hint for t in tools)

    check_answer(real_rag, answer)
    passages = found.structured_content["result"]
    assert [p["rank"] for p in passages] == [1, 2, 3]
    for p in passages:
        assert real_rag.document(p["source"]).text[p["start"] : p["end"]] == p["text"]
        assert p["title"] == (p["metadata"].get("title") or p["heading"].split("\n")[0])
        assert p["metadata"] == {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                 for k, v in real_rag.document(p["source"]).metadata.items()}
    indexed = dict(real_rag.documents())
    assert {d["source"]: d["chunks"] for d in documents.structured_content["result"]} == indexed

    assert error_text(k_zero).endswith("k (passages per question) must be a whole number from 1 to 100, not 0")
    assert error_text(too_long).endswith("the question is 2399 characters long; ask in at most 2000")
    assert "\n" not in error_text(k_zero) + error_text(too_long)
    assert "k" in error_text(wrong_type)  # the SDK checks types against the schema
    assert not again.is_error and len(again.structured_content["result"]) == min(100, sum(indexed.values()))
    kept = filtered.structured_content["result"]
    assert len(kept) == 3 and all(p["source"].endswith(EXTRADITION_DOC) for p in kept)
    assert "unknown filter key 'colour'; this index knows: modified, source, title" in error_text(unknown)


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}


def tool_call(ident: int, name: str, arguments: dict) -> dict:
    return {"jsonrpc": "2.0", "id": ident, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def check_refusals(not_json: dict, batch: dict, no_method: dict | None = None) -> None:
    assert not_json["id"] is None and not_json["error"]["code"] == -32700
    assert batch["id"] is None and batch["error"]["code"] == -32600 and "batches are not part of MCP" in batch["error"]["message"]
    if no_method is not None:
        assert no_method["id"] == 3 and no_method["error"]["code"] == -32600


def check_blank_refused(reply: dict, field: str) -> None:
    result = reply["result"]
    assert result["isError"] and not result.get("structuredContent")
    (content,) = result["content"]
    assert content["text"].endswith(f"the {field} is empty; give some words to {'ask' if field == 'question' else 'search for'}")
    assert "\n" not in content["text"]


@pytest.mark.slow
def test_stdio_answers_malformed_json_batches_and_blank_questions_with_errors(real_rag):
    """Raw lines on `rag mcp`'s stdin: each request gets its reply, a result or a JSON-RPC error."""
    command = [sys.executable, "-m", "rag.cli", "mcp", "--index", real_rag.settings.index_path]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def exchange(line: str, reply: bool = True) -> dict | None:
        process.stdin.write(line + "\n")
        process.stdin.flush()
        if not reply:
            return None
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, f"no reply to {line!r}"
        return json.loads(process.stdout.readline())

    try:
        assert exchange(json.dumps(INITIALIZE))["result"]["serverInfo"]["name"] == "rag-quotes"
        exchange(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}), reply=False)
        not_json = exchange('{"jsonrpc": "2.0", "id": 2, "method": ')
        exchange("", reply=False)  # a blank line is no message: nothing to answer
        batch = exchange(json.dumps([{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]))
        no_method = exchange(json.dumps({"jsonrpc": "2.0", "id": 3}))
        check_refusals(not_json, batch, no_method)
        blank = exchange(json.dumps(tool_call(4, "ask", {"question": " \t "})))
        empty = exchange(json.dumps(tool_call(5, "search", {"query": ""})))
        assert blank["id"] == 4 and empty["id"] == 5
        check_blank_refused(blank, "question")
        check_blank_refused(empty, "query")
        answered = exchange(json.dumps(tool_call(6, "ask", {"question": EXTRADITION})))
        assert answered["id"] == 6 and "Pakistan" in answered["result"]["structuredContent"]["answer"]
    finally:
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    assert "Traceback" not in process.stderr.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_client() -> str:
    """The Python block of the MCP guide (docs/integrations.md), as a reader copies it."""
    section = ROOT.joinpath("docs", "integrations.md").read_text().split("\n## MCP (assistants)\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.fixture(scope="module")
def http_server(real_rag, tmp_path_factory):
    """`rag serve --mcp --auth` on a free loopback port; (url, user, password)."""
    users = tmp_path_factory.mktemp("serve") / "users.txt"
    add_user(users, "alice", "correct-horse-battery")
    port = free_port()
    command = [sys.executable, "-m", "rag.cli", "serve", "--mcp", "--read-only", "--auth", str(users),
               "--index", real_rag.settings.index_path, "--port", str(port), "--short-answer-bar", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"rag serve --mcp did not start: {process.stderr.read()[-2000:]}") from None
                time.sleep(0.5)
        yield url, "alice", "correct-horse-battery"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_http_beside_the_ui_needs_a_login_and_answers(real_rag, http_server):
    url, user, password = http_server
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    for login in (None, f"{user}:wrong-password", f"{user}{password}", "nobody:x"):
        basic = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()} if login else {}
        request = urllib.request.Request(url, data=json.dumps({}).encode(), method="POST", headers=headers | basic)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401 and refused.value.headers["WWW-Authenticate"].startswith("Basic")

    login = url.replace("//", f"//{user}:{password}@")
    tools, (answer, found, bad) = call(login, [
        ("ask", {"question": EXTRADITION, "k": 5}),
        ("search", {"query": "extradition treaties", "k": 2}),
        ("search", {"query": "extradition treaties", "k": 101}),
    ])  # fmt: skip
    assert {t.name for t in tools} == TOOLS
    check_answer(real_rag, answer)
    assert len(found.structured_content["result"]) == 2
    assert error_text(bad).endswith("must be a whole number from 1 to 100, not 101")


@pytest.mark.slow
def test_http_answers_malformed_json_batches_and_blank_questions_with_errors(http_server):
    url, user, password = http_server
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "Authorization": f"Basic {basic}"}

    def post(body: str) -> tuple[int, dict]:
        request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        return refused.value.code, json.loads(refused.value.read())

    (code, not_json), (batch_code, batch) = post('{"jsonrpc": "2.0", "id": 2, "method": '), post(
        json.dumps([INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"}]))
    assert code == batch_code == 400
    check_refusals(not_json, batch)
    login = url.replace("//", f"//{user}:{password}@")
    _, (blank, empty, answered) = call(login, [
        ("ask", {"question": "   "}), ("search", {"query": ""}), ("search", {"query": "extradition treaties", "k": 2}),
    ])  # fmt: skip
    for reply, field in ((blank, "question"), (empty, "query")):
        check_blank_refused({"result": reply.model_dump(by_alias=True)}, field)
    assert len(answered.structured_content["result"]) == 2


@pytest.mark.slow
def test_readme_http_client_runs_as_written(http_server, capsys):
    url, user, password = http_server
    code = readme_client()
    assert code.count('"http://127.0.0.1:7860/mcp"') == 1
    login = url.replace("//", f"//{user}:{password}@")
    exec(code.replace("http://127.0.0.1:7860/mcp", login), {})  # noqa: S102
    assert "Pakistan" in capsys.readouterr().out


def test_rag_mcp_without_an_index_is_one_line(tmp_path, capsys):
    assert main(["mcp", "--index", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
