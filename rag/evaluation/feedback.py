"""Feedback on answers (👍/👎 and a note), kept in SQLite beside the index, and exported as QA
items (`rag.evaluation.evaluate` format) so that evaluators grow the QA set from real use.

What is stored is text and numbers only (the question, the answer as `Answer.to_dict()` gives it
without passages' full metadata, the rating, the note); nothing stored is ever run or rendered as markup.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..store.sidecar import session

FILE = "feedback.sqlite"
RATINGS = ("up", "down")
MAX_NOTE = 2_000  # characters of a note or a typed right answer
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    user TEXT NOT NULL DEFAULT '',
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    note TEXT NOT NULL DEFAULT '',
    correct TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    answerer TEXT NOT NULL DEFAULT '',
    index_version TEXT NOT NULL DEFAULT ''
)
"""


@dataclass(frozen=True)
class Feedback:
    """One rating of one answer. `answer` is the answer's JSON (`Answer.to_dict()`); `correct` is
    the right answer as the user typed it (after a 👎), `note` anything else they wrote."""

    id: int
    created: str
    user: str
    rating: str
    note: str
    correct: str
    question: str
    answer: dict
    answerer: str
    index_version: str


def index_version(index_path: str | Path) -> str:
    """The index generation answers came from (manifest.json's data folder), "" when there is none."""
    try:
        return str(json.loads((Path(index_path) / "manifest.json").read_text()).get("data", ""))
    except (OSError, ValueError, AttributeError):
        return ""


class FeedbackStore:
    """Feedback in `<index>/feedback.sqlite` (thread-safe: one connection per call)."""

    def __init__(self, index_path: str | Path):
        self.index_path = Path(index_path)
        self.path = self.index_path / FILE
        self._lock = threading.Lock()

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return session(self.path, SCHEMA, self._lock)

    def add(self, answer: dict, rating: str, *, user: str = "", note: str = "", correct: str = "") -> int:
        """Store a rating of `answer` (its JSON); returns its id."""
        rating = check_rating(rating)
        kept = {k: answer.get(k) for k in ("question", "query", "answer", "short_answer", "abstained", "answerer",
                                           "conflict", "unmentioned", "citations")}
        kept["passages"] = [{k: p.get(k) for k in ("rank", "source", "start", "end", "page", "title", "text")}
                            for p in answer.get("passages", [])]
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created, user, rating, note, correct, question, answer, answerer, index_version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now(), user, rating, clip(note), clip(correct), str(answer.get("question", "")), json.dumps(kept),
                 str(answer.get("answerer", "")), index_version(self.index_path)),
            )
            return int(cursor.lastrowid or 0)

    def update(self, id: int, *, rating: str | None = None, note: str | None = None, correct: str | None = None) -> None:
        """Change a stored rating, or add its note and typed right answer."""
        with self._db() as db:
            if rating is not None:
                db.execute("UPDATE feedback SET rating = ? WHERE id = ?", (check_rating(rating), id))
            if note is not None:
                db.execute("UPDATE feedback SET note = ? WHERE id = ?", (clip(note), id))
            if correct is not None:
                db.execute("UPDATE feedback SET correct = ? WHERE id = ?", (clip(correct), id))

    def all(self) -> list[Feedback]:
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT id, created, user, rating, note, correct, question, answer, answerer, index_version"
                              " FROM feedback ORDER BY id").fetchall()
        return [Feedback(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), r[8], r[9]) for r in rows]


def check_rating(rating: object) -> str:
    if rating not in RATINGS:
        raise ConfigError(f"feedback rating {rating!r} must be 'up' or 'down'")
    return str(rating)


def clip(text: object) -> str:
    return str(text or "").strip()[:MAX_NOTE]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def to_item(feedback: Feedback) -> dict | None:
    """A QA item (`rag.evaluation.evaluate` format) from one rating, or None when it says nothing checkable.

    👍 on an answer: answerable, its short answer (if any) the fact, its verified quotes the evidence.
    👍 on "not in the documents": an unanswerable item. 👎 with the right answer typed: answerable,
    that text the fact, the retrieved passages that write it the evidence. 👎 with "not in the
    documents" typed (or "none"): unanswerable. 👎 with nothing typed: None (nothing to check against).
    """
    answer = feedback.answer
    item: dict = {"id": f"fb{feedback.id}", "question": feedback.question, "type": "single", "answerable": True,
                  "facts": [], "evidence": []}
    if feedback.rating == "up":
        if answer.get("abstained"):
            return {**item, "type": "unanswerable", "answerable": False}
        short = (answer.get("short_answer") or {}).get("text")
        item["facts"] = [[short]] if short else []
        item["evidence"] = [{"source": c["source"], "quote": c["quote"]} for c in answer.get("citations", [])
                            if c.get("verified") and c.get("quote")]
        return item if item["evidence"] else None
    correct = feedback.correct.strip()
    if not correct:
        return None
    if correct.lower().strip(" .!") in NOT_IN_DOCUMENTS:
        return {**item, "type": "unanswerable", "answerable": False}
    item["facts"] = [[correct]]
    item["evidence"] = [{"source": p["source"], "quote": p["text"]} for p in answer.get("passages", [])
                        if p.get("text") and correct.lower() in p["text"].lower()][:1]
    return item


NOT_IN_DOCUMENTS = {"none", "not in the documents", "the documents do not say", "no answer", "unanswerable"}


def export(store: FeedbackStore) -> tuple[list[dict], int]:
    """(QA items, number of ratings that gave none) for everything stored."""
    items, skipped = [], 0
    for feedback in store.all():
        item = to_item(feedback)
        if item is None:
            skipped += 1
        else:
            items.append(item)
    return items, skipped
