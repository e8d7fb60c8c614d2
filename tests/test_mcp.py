"""The MCP server through a real MCP client session: over stdio (`rag mcp` spawned as a subprocess)
and over loopback HTTP (`rag serve --mcp --auth`, a subprocess on a free port), both on the real index."""

from __future__ import annotations

import base64
import json
import re
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
    command = ["-m", "rag.cli", "mcp", "--index", real_rag.settings.index_path]
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_client() -> str:
    """The Python block of the README's MCP section, as a reader copies it."""
    section = ROOT.joinpath("README.md").read_text().split("\n## MCP (assistants)\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.fixture(scope="module")
def http_server(real_rag, tmp_path_factory):
    """`rag serve --mcp --auth` on a free loopback port; (url, user, password)."""
    users = tmp_path_factory.mktemp("serve") / "users.txt"
    add_user(users, "alice", "correct-horse-battery")
    port = free_port()
    command = [sys.executable, "-m", "rag.cli", "serve", "--mcp", "--read-only", "--auth", str(users),
               "--index", real_rag.settings.index_path, "--port", str(port)]
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
