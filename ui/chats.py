"""Conversations kept: a signed-in user's chats in SQLite beside the index, and a chat or one answer
exported as Markdown and JSON with its quotes and where they stand.

A chat is the app's conversation state (turns, rendered messages, each answer's JSON); without a
login the app keeps the same records in the browser (gr.BrowserState) instead of here.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import threading
import uuid
from contextlib import AbstractContextManager
from pathlib import Path, PurePath

from rag.store.sidecar import session

FILE = "chats.sqlite"
MAX_CHATS = 200  # per user; the oldest go first
MAX_TITLE = 120
SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    id TEXT NOT NULL,
    user TEXT NOT NULL,
    title TEXT NOT NULL,
    updated TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (user, id)
)
"""


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def title_for(conversation: dict) -> str:
    """A chat's title: the one it was given, else its first question."""
    first = next((t[0] for t in conversation.get("turns", []) if t), "")
    return (conversation.get("title") or " ".join(str(first).split()) or "New chat")[:MAX_TITLE]


class ChatStore:
    """Each user's chats in `<index>/chats.sqlite` (thread-safe: one connection per call)."""

    def __init__(self, index_path: str | Path):
        self.path = Path(index_path) / FILE
        self._lock = threading.Lock()

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return session(self.path, SCHEMA, self._lock)

    def save(self, user: str, conversation: dict) -> str:
        """Keep `conversation` (its "id", or a new one); returns the id."""
        chat_id = str(conversation.get("id") or new_id())
        state = json.dumps({**conversation, "id": chat_id})
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        with self._db() as db:
            db.execute("INSERT INTO chats (id, user, title, updated, state) VALUES (?, ?, ?, ?, ?) ON CONFLICT(user, id)"
                       " DO UPDATE SET title = excluded.title, updated = excluded.updated, state = excluded.state",
                       (chat_id, user, title_for(conversation), now, state))
            db.execute("DELETE FROM chats WHERE user = ? AND id NOT IN (SELECT id FROM chats WHERE user = ?"
                       " ORDER BY updated DESC LIMIT ?)", (user, user, MAX_CHATS))
        return chat_id

    def list(self, user: str) -> list[tuple[str, str]]:
        """(title, id) of the user's chats, the latest first."""
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT title, id FROM chats WHERE user = ? ORDER BY updated DESC, rowid DESC", (user,)).fetchall()
        return [(str(t), str(i)) for t, i in rows]

    def load(self, user: str, chat_id: str) -> dict | None:
        with self._db() as db:
            row = db.execute("SELECT state FROM chats WHERE user = ? AND id = ?", (user, chat_id)).fetchone()
        return json.loads(row[0]) if row else None

    def rename(self, user: str, chat_id: str, title: str) -> None:
        title = " ".join(title.split())[:MAX_TITLE]
        state = self.load(user, chat_id)
        if state is not None and title:
            self.save(user, {**state, "title": title})

    def delete(self, user: str, chat_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM chats WHERE user = ? AND id = ?", (user, chat_id))


# export ------------------------------------------------------------------------------------------


def exported(answer: dict) -> dict:
    """One answer as exported: question, answer, status, and each quote with its document and place."""
    return {
        "question": answer.get("question", ""),
        "answer": answer.get("answer", ""),
        "short_answer": (answer.get("short_answer") or {}).get("text"),
        # where the documents disagree: each one's value and the [n] of its quotes, none first
        "disagreeing_values": [{"value": v["text"], "quotes": v.get("markers", [])} for v in answer.get("conflict_values") or []],
        "not_in_documents": bool(answer.get("abstained")),
        "answerer": answer.get("answerer", ""),
        "quotes": [
            {"n": c["marker"], "document": PurePath(c["source"]).name, "title": c.get("title", ""), "page": c.get("page"),
             "start": c["start"], "end": c["end"], "quote": c["quote"], "found_in_document": c["verified"]}
            for c in answer.get("citations", [])
        ],
    }


def answer_markdown(answer: dict) -> str:
    item = exported(answer)
    lines = [f"## {item['question']}", ""]
    if item["not_in_documents"]:
        lines += ["**Not in the documents.**", ""]
    if item["short_answer"]:
        lines += [f"**{item['short_answer']}**", ""]
    elif item["disagreeing_values"]:
        sides = " · ".join(f"{v['value']} {''.join(f'[{m}]' for m in v['quotes'])}" for v in item["disagreeing_values"])
        lines += [f"**{sides}** (the documents disagree)", ""]
    lines += [item["answer"], ""]
    for q in item["quotes"]:
        where = q["title"] or q["document"]
        page = f", p. {q['page']}" if q["page"] else ""
        lines.append(f"[{q['n']}] found in *{where}*{page} ({q['document']}, characters {q['start']}–{q['end']}):")
        lines += ["", "> " + " ".join(q["quote"].split()), ""]
    return "\n".join(lines).rstrip() + "\n"


def chat_answers(conversation: dict) -> list[dict]:
    """The answers of a conversation, in order (an error turn has none)."""
    answers = conversation.get("answers") or {}
    return [answers[k] for k in sorted(answers, key=int)]


def export(conversation: dict, *, last_only: bool = False) -> tuple[str, str, str]:
    """(file stem, Markdown, JSON) of a chat, or of its last answer."""
    answers = chat_answers(conversation)
    if last_only:
        answers = answers[-1:]
    title = title_for(conversation)
    head = "" if last_only else f"# {title}\n\n"
    markdown = head + "\n".join(answer_markdown(a) for a in answers)
    data = json.dumps({"title": title, "answers": [exported(a) for a in answers]}, ensure_ascii=False, indent=2)
    return ("answer" if last_only else "chat"), markdown, data


def browser_secret(index_path: str | Path) -> str:
    """The key the browser's copy of its chats is encrypted with: made once, kept in
    `<index>/browser.key` (mode 0600), so chats kept in a browser reopen after a server restart."""
    import os
    import secrets

    path = Path(index_path) / "browser.key"
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key)
    return key
