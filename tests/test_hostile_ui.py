"""The web server against a hostile client: out-of-range k, huge questions, answerers the operator
did not allow, calls without a login, the raw queue protocol against a read-only app, colliding
upload names, oversized uploads, and `rag serve` off loopback without logins. The servers are the
real Gradio app on 127.0.0.1 over the fast test-double embedder."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from html import unescape
from pathlib import Path

import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")
httpx = pytest.importorskip("httpx")

from conftest import ROOT, free_port  # noqa: E402
from gradio_client import Client  # noqa: E402
from gradio_client.utils import strip_invalid_filename_characters

from rag import ConfigError, Rag, Settings  # noqa: E402
from rag.settings import MAX_QUESTION_CHARS  # noqa: E402
from ui.app import build_app, launch  # noqa: E402
from ui.auth import Users, add_user, hash_password, verify_password  # noqa: E402
from ui.handlers import Handlers, safe_name  # noqa: E402

ZORBLAT = "The Zorblat treaty was signed in 2031 by Freedonia and Sylvania. It ended forty years of border disputes."
CHEESE = "# Notes\n\nSylvania exports 300 tonnes of cheese every year.\n"
QUESTION = "Which countries signed the Zorblat treaty?"
PASSWORD = "correct horse battery"



def indexed_rag(folder: Path, **settings) -> Rag:
    """Two small documents indexed with the test-hash embedder under `folder`."""
    docs = folder / "docs"
    docs.mkdir(parents=True)
    (docs / "zorblat.txt").write_text(ZORBLAT)
    (docs / "notes.md").write_text(CHEESE)
    rag = Rag(Settings(index_path=str(folder / "index"), embedding_model="test-hash", **settings))
    rag.index([docs])
    return rag


@contextmanager
def running(rag: Rag, *, users: Users | None = None, max_file_size: int | None = None, **options):
    app = build_app(rag.settings, rag=rag, **options)
    size = max_file_size or rag.settings.max_upload_bytes
    _, url, _ = launch(
        app, host="127.0.0.1", port=free_port(), block=False, quiet=True, users=users, max_file_size=size
    )
    try:
        yield url.rstrip("/")
    finally:
        app.close()


@pytest.fixture(scope="module")
def shared_rag(tmp_path_factory) -> Rag:
    return indexed_rag(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def served(shared_rag):
    with running(shared_rag) as url:
        yield url


# limits over the API ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("k", [10**9, -3, 101, 2.5])
def test_k_out_of_range_is_a_one_line_error_and_the_server_keeps_answering(served, k):
    client = Client(served, verbose=False)
    with pytest.raises(Exception, match=r"k \(passages per question\) must be a whole number from 1 to 100"):
        client.predict(QUESTION, None, "", k, api_name="/ask")
    with pytest.raises(Exception, match=r"k \(passages per question\) must be a whole number from 1 to 100"):
        client.predict(QUESTION, k, api_name="/search")
    answer = client.predict(QUESTION, None, "", 0, api_name="/ask")  # 0: the server's default k
    assert not answer["abstained"] and "Freedonia" in answer["answer"] and len(answer["passages"]) == 2
    assert [h["rank"] for h in client.predict(QUESTION, 1, api_name="/search")] == [1]


@pytest.mark.slow
def test_an_oversized_question_is_refused_with_the_limit(served):
    client = Client(served, verbose=False)
    with pytest.raises(Exception, match=f"ask in at most {MAX_QUESTION_CHARS}"):
        client.predict("why? " * 1000, api_name="/ask")
    with pytest.raises(Exception, match=f"ask in at most {MAX_QUESTION_CHARS}"):
        client.predict("x" * (MAX_QUESTION_CHARS + 1), 3, api_name="/search")
    with pytest.raises(Exception, match=r"history must be a list of \[question, answer\] pairs"):
        client.predict(QUESTION, [["only a question"]], api_name="/ask")
    assert "Freedonia" in client.predict(QUESTION, api_name="/ask")["answer"]


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["openai:gpt-4o", "gguf:/etc/passwd", "ollama:llama3", "nonsense"])
def test_an_answerer_the_operator_did_not_allow_is_refused_before_anything_loads(served, shared_rag, spec, monkeypatch):
    import rag.answer.llm

    loaded = []
    monkeypatch.setattr(rag.answer.llm, "chat_model", lambda s, *a, **kw: loaded.append(s))
    with pytest.raises(Exception, match="not offered by this server|unknown answerer"):
        Client(served, verbose=False).predict(QUESTION, None, spec, 0, api_name="/ask")
    assert loaded == [] and spec not in shared_rag._answerers
    assert set(shared_rag._answerers) <= {"extractive", "extractive:strict"}


# answerers, k and questions in the chat handler -------------------------------------------------------


def test_the_chat_offers_only_allowed_answerers_and_refuses_others_as_an_error_bubble(tmp_path, monkeypatch):
    import rag.answer.llm

    loaded = []
    monkeypatch.setattr(rag.answer.llm, "chat_model", lambda s, *a, **kw: loaded.append(s))
    ui = Handlers(indexed_rag(tmp_path), allow=["extractive", "openai:house-model"])
    assert ui.modes() == ["extractive", "openai:house-model"]
    assert ui._llm("") == "extractive" and ui._llm("openai:house-model") == "openai:house-model"

    fresh = {"turns": [], "messages": []}
    for mode, k, question, error in [
        ("gguf:/etc/passwd", 5, QUESTION, "answerer 'gguf:/etc/passwd' is not offered by this server"),
        ("extractive:strict", 5, QUESTION, "answerer 'extractive:strict' is not offered by this server"),
        ("extractive", 10**9, QUESTION, "k (passages per question) must be a whole number from 1 to 100"),
        ("extractive", -3.0, QUESTION, "k (passages per question) must be a whole number from 1 to 100"),
        ("extractive", 5, "why? " * 1000, f"ask in at most {MAX_QUESTION_CHARS}"),
    ]:
        *_, (messages, state, _, kept, _, hint) = ui.chat(question, fresh, mode, k)
        assert error in unescape(hint) and "rq-error" in hint and kept == question  # said under the box, the question kept
        assert state["turns"] == [] and messages == []
    assert loaded == []
    *_, (messages, state, *_) = ui.chat(QUESTION, fresh, "extractive", 0)  # 0: the server's default
    assert "Freedonia" in messages[-1]["content"] and "Answer supported by 1 quote" in messages[-1]["content"]
    assert len(state["turns"]) == 1


def test_the_app_renders_no_latex_and_the_mode_list_takes_no_custom_value(tmp_path):
    app = build_app(Settings(index_path=str(tmp_path / "index"), embedding_model="test-hash"), allow=["openai:m"])
    props = [c.get("props", {}) for c in app.get_config_file()["components"]]
    by_id = {p["elem_id"]: p for p in props if p.get("elem_id")}
    assert by_id["rq-chat"]["latex_delimiters"] == [] and by_id["rq-docs"]["latex_delimiters"] == []
    mode = next(p for p in props if p.get("label") == "Answer mode")
    assert [value for _, value in mode["choices"]] == ["extractive", "openai:m"] and mode["allow_custom_value"] is False


# logins --------------------------------------------------------------------------------------------


def test_the_user_file_holds_salted_hashes_only(tmp_path):
    path = tmp_path / "users.txt"
    assert add_user(path, "alice", PASSWORD) is False
    assert add_user(path, "bob", PASSWORD) is False
    text = path.read_text()
    assert PASSWORD not in text and stat.S_IMODE(path.stat().st_mode) == 0o600
    alice, bob = (line.split(":", 1)[1] for line in text.splitlines())
    assert alice.startswith("scrypt$") and alice != bob  # a salt per user
    users = Users.from_file(path)
    assert users.check("alice", PASSWORD) and users.check("bob", PASSWORD)
    assert not users.check("alice", "wrong password") and not users.check("carol", PASSWORD)
    assert add_user(path, "alice", "a new password") is True  # changes alice's line, keeps bob's
    users = Users.from_file(path)
    assert users.check("alice", "a new password") and not users.check("alice", PASSWORD)
    assert users.check("bob", PASSWORD)
    assert verify_password("x", hash_password("x")) and not verify_password("x", "scrypt$1$1$1$zz$zz")
    with pytest.raises(ConfigError, match="at least 8 characters"):
        add_user(path, "carol", "short")
    with pytest.raises(ConfigError, match="user name"):
        add_user(path, "ca:rol", PASSWORD)
    with pytest.raises(ConfigError, match="line 1 is not 'user:scrypt"):
        Users(f"alice:{PASSWORD}\n", origin="RAG_AUTH")


@pytest.mark.slow
def test_with_logins_nothing_answers_a_client_that_has_not_logged_in(tmp_path):
    path = tmp_path / "users.txt"
    add_user(path, "alice", PASSWORD)
    rag = indexed_rag(tmp_path)
    before = rag.documents()
    with running(rag, users=Users.from_file(path)) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            call = {"data": [QUESTION, None, "", 0], "fn_index": 0, "session_hash": "intruder"}
            assert http.post("/gradio_api/call/ask", json={"data": [QUESTION]}).status_code == 401
            assert http.post("/gradio_api/queue/join", json=call).status_code == 401
            assert http.post("/gradio_api/upload", files={"files": ("evil.txt", b"evil")}).status_code == 401
            assert http.get("/config").status_code == 401
            assert http.post("/login", data={"username": "alice", "password": "wrong"}).status_code == 400
        with pytest.raises(Exception):
            Client(url, verbose=False)
        with pytest.raises(Exception):
            Client(url, auth=("alice", "not the password"), verbose=False)
        answer = Client(url, auth=("alice", PASSWORD), verbose=False).predict(QUESTION, api_name="/ask")
        assert "Freedonia" in answer["answer"]
    assert rag.documents() == before


# read-only: the queue protocol cannot reach an upload or a remove -------------------------------------


def queue_call(http, fn_index: int, data: list, session: str) -> dict:
    """One event sent the way the page's own script sends it; returns its process_completed message."""
    try:
        joined = http.post(
            "/gradio_api/queue/join",
            json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None},
        )
    except httpx.TransportError:  # Gradio drops the connection for an fn_index it does not have
        return {"refused": "connection dropped"}
    if joined.status_code != 200:
        return {"refused": joined.status_code}
    event = joined.json()["event_id"]
    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") == event:
                    return message
    return {}


def hammer(url: str, target: str) -> list[dict]:
    """Every fn_index (and a few past the end), twice, with payloads shaped like an upload of a new
    file and like a removal of `target`; the first pass runs the page's load event too."""
    with httpx.Client(base_url=url, timeout=60) as http:
        evil = ("evil.txt", b"Evil text the operator never added.")
        uploaded = http.post("/gradio_api/upload", files={"files": evil})
        assert uploaded.status_code == 200, uploaded.text
        file = {"path": uploaded.json()[0], "orig_name": "evil.txt", "meta": {"_type": "gradio.FileData"}}
        config = http.get("/config").json()
        session = uuid.uuid4().hex
        results = []
        for _ in range(2):
            for dependency in config["dependencies"] + [{"id": len(config["dependencies"]) + i} for i in range(3)]:
                n = max(1, len(dependency.get("inputs", [])))
                for payload in ([target] * n, [[file]] * n, [file] * n):
                    results.append(queue_call(http, dependency["id"], payload, session))
        return results


@pytest.mark.slow
def test_a_read_only_app_has_no_upload_or_remove_for_the_queue_protocol_to_reach(tmp_path):
    # The same attack against a writable app adds the file and removes the document: the probe works.
    writable = indexed_rag(tmp_path / "writable")
    target = next(s for s, _ in writable.documents() if s.endswith("zorblat.txt"))
    with running(writable) as url:
        hammer(url, target)
    after = [Path(s).name for s, _ in writable.documents()]
    assert "evil.txt" in after and "zorblat.txt" not in after

    rag = indexed_rag(tmp_path / "read-only")
    before = rag.documents()
    target = next(s for s, _ in before if s.endswith("zorblat.txt"))
    with running(rag, read_only=True) as url:
        config = httpx.get(f"{url}/config").json()
        kinds = {c["type"] for c in config["components"]}
        assert "file" not in kinds and "rq-remove" not in {c["props"].get("elem_id") for c in config["components"]}
        results = hammer(url, target)
        assert any(r.get("success") for r in results)  # the calls did reach the app
        listed = Client(url, verbose=False).predict(api_name="/documents")
        assert listed == [{"source": s, "chunks": n} for s, n in before]
    assert rag.documents() == before
    assert not (Path(rag.settings.index_path) / "uploads").exists()


@pytest.mark.slow
def test_an_unknown_handler_number_is_a_400_and_leaves_no_traceback_in_the_log(tmp_path):
    rag = indexed_rag(tmp_path)
    port, log = free_port(), tmp_path / "serve.log"
    command = [sys.executable, "-m", "rag.cli", "serve", "--index", rag.settings.index_path, "--model", "test-hash",
               "--port", str(port)]
    environment = {k: v for k, v in os.environ.items() if k not in ("RAG_AUTH", "RAG_HOST")}
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        with httpx.Client(base_url=url, timeout=30) as http:
            for fn_index in (999, -5, 2**40):
                for path, body in (("/gradio_api/queue/join", {"session_hash": "probe"}), ("/gradio_api/run/predict", {})):
                    refused = http.post(path, json={"data": [QUESTION], "fn_index": fn_index, **body})
                    assert refused.status_code == 400, (path, refused.status_code, refused.text)
                    assert refused.json() == {"detail": f"no event handler number {fn_index} in this app; its /config lists them"}
        assert Client(url, verbose=False).predict(api_name="/documents") == [{"source": s, "chunks": n} for s, n in rag.documents()]
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text()
    assert f"Running on local URL:  {url}" in text  # the log is the server's
    assert "Traceback" not in text and "KeyError" not in text and "Exception in ASGI application" not in text, text


# uploads ---------------------------------------------------------------------------------------------


def _upload(ui: Handlers, folder: Path, name: str, data: bytes) -> str:
    """Upload one file as the Documents tab does; returns the status line as plain text."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    status, *_ = ui.upload([str(folder / name)])
    return unescape(re.sub(r"<[^>]+>", " ", status))


def test_an_upload_never_replaces_another_file_and_colliding_names_stay_apart(tmp_path):
    ui = Handlers(Rag(Settings(index_path=str(tmp_path / "index"), embedding_model="test-hash")))
    uploads = tmp_path / "index" / "uploads"
    assert "Added  dup.txt  (1 passage)" in _upload(ui, tmp_path / "a", "dup.txt", ZORBLAT.encode())
    status = _upload(ui, tmp_path / "b", "dup.txt", CHEESE.encode())
    assert "Added  dup (2).txt  (1 passage, renamed from dup.txt)" in status
    assert "Nothing new" in _upload(ui, tmp_path / "c", "dup.txt", ZORBLAT.encode())  # the same file again
    assert (uploads / "dup.txt").read_text() == ZORBLAT and (uploads / "dup (2).txt").read_text() == CHEESE
    assert sorted(Path(s).name for s, _ in ui.rag.documents()) == ["dup (2).txt", "dup.txt"]

    rocket = _upload(ui, tmp_path / "d", "🚀.md", b"# Launch\n\nThe rocket launches at dawn.\n")
    party = _upload(ui, tmp_path / "e", "🎉.md", b"# Party\n\nThe party starts at dusk.\n")
    names = sorted(p.name for p in uploads.iterdir())
    assert len(names) == 4 and safe_name("🚀.md") in names and safe_name("🎉.md") in names
    assert f"{safe_name('🚀.md')}  (1 passage, renamed from 🚀.md)" in rocket and "renamed from 🎉.md" in party
    assert len(ui.rag.documents()) == 4


def test_safe_names_keep_a_hash_when_nothing_readable_is_left():
    assert safe_name("🚀.md") != safe_name("🎉.md")
    assert re.fullmatch(r"_-[0-9a-f]{6}\.md", safe_name("🚀.md"))
    assert re.fullmatch(r"upload-[0-9a-f]{6}", safe_name("..."))
    assert safe_name("report.txt") == "report.txt" and safe_name("日本.md") == "日本.md"
    assert safe_name("a" * 296 + ".txt") == "a" * 116 + ".txt"  # shortened before its extension
    long = safe_name("日本" * 150 + ".docx")
    assert long.endswith(".docx") and len(long.encode()) <= 200 and long.startswith("日本")


def uploaded_files(ui: Handlers) -> list[str]:
    return sorted(p.name for p in ui.uploads.iterdir()) if ui.uploads.exists() else []


def test_a_long_upload_name_keeps_its_extension_and_is_indexed(tmp_path):
    ui = Handlers(indexed_rag(tmp_path))
    name = strip_invalid_filename_characters("r" * 296 + ".txt")  # what Gradio makes of a 300-character name
    assert name == "r" * 196 + ".txt"
    status = _upload(ui, tmp_path / "long", name, ZORBLAT.encode())
    assert f"Added  {'r' * 116}.txt  (1 passage, renamed from {name})" in status, status
    assert uploaded_files(ui) == ["r" * 116 + ".txt"]
    assert {Path(s).name for s, _ in ui.rag.documents()} == {"zorblat.txt", "notes.md", "r" * 116 + ".txt"}


def test_a_refused_upload_leaves_no_file_behind(tmp_path):
    ui = Handlers(indexed_rag(tmp_path, max_document_chars=200, max_upload_bytes=2000))
    before = ui.rag.documents()
    for name, data, reason in [
        ("big.txt", b"word " * 500, "over this server's limit of 2,000 bytes"),
        ("tool.exe", b"MZ binary", "unsupported file type '.exe'"),
        ("blank.md", b"   \n", "file is empty"),
        ("fake.pdf", b"%PDF-1.4 not really a pdf", "fake.pdf"),
        ("long.txt", b"A sentence of the minutes. " * 20, "document too large"),  # this server's limit, not the default
    ]:
        status = _upload(ui, tmp_path / name, name, data)
        assert f"Not added: {name}" in status and reason in status, status
        assert uploaded_files(ui) == [], name
    assert ui.rag.documents() == before


def test_an_upload_the_index_then_refuses_is_deleted_again(tmp_path):
    ui = Handlers(indexed_rag(tmp_path))
    (Path(ui.rag.settings.index_path) / "manifest.json").write_text("{damaged")
    status = _upload(ui, tmp_path / "new", "new.txt", CHEESE.encode())
    assert "Not added:" in status and "is damaged (manifest.json is unreadable)" in status, status
    assert uploaded_files(ui) == []


def test_an_oversized_upload_is_refused_with_the_limit_and_nothing_changes(tmp_path):
    ui = Handlers(indexed_rag(tmp_path, max_upload_bytes=1000))
    before = ui.rag.documents()
    status = _upload(ui, tmp_path / "big", "big.txt", b"word " * 400)
    assert "Not added: big.txt: file is 2,000 bytes, over this server's limit of 1,000 bytes" in status
    assert ui.rag.documents() == before and not (Path(ui.rag.settings.index_path) / "uploads" / "big.txt").exists()


@pytest.mark.slow
def test_the_server_refuses_a_file_over_the_upload_limit(tmp_path):
    with running(indexed_rag(tmp_path), max_file_size=1000) as url:
        too_big = httpx.post(f"{url}/gradio_api/upload", files={"files": ("big.txt", b"word " * 400)}, timeout=30)
        small = httpx.post(f"{url}/gradio_api/upload", files={"files": ("small.txt", b"word " * 100)}, timeout=30)
    assert too_big.status_code == 413 and small.status_code == 200


# rag serve ---------------------------------------------------------------------------------------------


def _rag(*args: str, stdin: str = "", env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("RAG_AUTH", "RAG_HOST")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], input=stdin, capture_output=True, text=True, timeout=timeout,
        cwd=ROOT, env=environment,
    )


def test_serve_off_loopback_without_logins_exits_before_binding(tmp_path):
    port = free_port()
    done = _rag("serve", "--host", "0.0.0.0", "--port", str(port), "--index", str(tmp_path / "index"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: refusing to serve on 0.0.0.0 without logins: add --auth FILE (see --add-user), or --trust-network"
    ]
    with socket.socket() as s:
        s.bind(("0.0.0.0", port))  # nobody holds the port
    bad = _rag("serve", "--host", "0.0.0.0", "--index", str(tmp_path / "index"), env={"RAG_AUTH": "alice:secret"})
    assert bad.returncode == 1 and "RAG_AUTH line 1 is not 'user:scrypt" in bad.stderr


def test_serve_add_user_reads_the_password_from_stdin_and_stores_only_a_hash(tmp_path):
    path = tmp_path / "users.txt"
    done = _rag("serve", "--add-user", "alice", "--auth", str(path), stdin=PASSWORD + "\n")
    assert done.returncode == 0 and done.stdout.strip() == f"added user alice in {path}"
    assert PASSWORD not in path.read_text() and Users.from_file(path).check("alice", PASSWORD)
    missing = _rag("serve", "--add-user", "alice", stdin=PASSWORD + "\n")
    assert missing.returncode == 1 and "--add-user needs the user file" in missing.stderr


def test_serve_add_user_with_an_empty_name_is_one_line_and_starts_no_server(tmp_path):
    path = tmp_path / "users.txt"
    add_user(path, "alice", PASSWORD)
    before = path.read_text()
    for name in ("", " "):
        done = _rag("serve", "--add-user", name, "--auth", str(path), "--port", str(free_port()),
                    "--index", str(tmp_path / "index"), stdin=PASSWORD + "\n", timeout=60)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.splitlines() == [f"error: user name {name!r} must be 1-64 letters, digits or _ . @ + -"]
    assert path.read_text() == before
