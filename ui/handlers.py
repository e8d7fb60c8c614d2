"""Event handlers for the Gradio app, and the named API endpoints gradio_client calls.

`Handlers` holds only the shared `Rag`: everything that belongs to one user (the conversation,
the chosen settings, the uploaded files) arrives as an argument and leaves as a return value.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import gradio as gr

from rag import Rag, RagError
from rag.documents import load_file
from rag.errors import IndexNotFoundError
from rag.types import hit_to_dict

from . import render

NO_INDEX = "No documents are indexed yet: add some in the Documents tab."


class Handlers:
    """The app's event handlers over one shared `Rag` (see the module docstring)."""

    def __init__(self, rag: Rag):
        self.rag = rag
        self.uploads = Path(rag.settings.index_path) / "uploads"

    def modes(self) -> list[str]:
        return list(dict.fromkeys(["extractive", "extractive:strict", self.rag.settings.answerer]))

    @staticmethod
    def _llm(mode: str | None) -> str | None:
        return (mode or "").strip() or None  # None: the server's default answerer

    # chat
    def chat(self, message: str, conversation: dict, mode: str, k: float):
        question = (message or "").strip()
        turns = list(conversation.get("turns", []))
        messages = list(conversation.get("messages", []))
        if not question:
            yield messages, conversation, gr.skip(), "", gr.skip()
            return
        messages.append({"role": "user", "content": question})
        messages.append({"role": "assistant", "content": render.pending_html(question)})
        yield messages, conversation, gr.skip(), "", gr.skip()
        query, partial = "", ""
        try:
            history = [tuple(t) for t in turns]
            for event in self.rag.ask_stream(question, history=history, llm=self._llm(mode), k=int(k)):
                kind = event["type"]
                if kind == "query":
                    query = event["query"]
                elif kind == "passages":
                    panel = render.passages_html(event["passages"], query)
                    yield messages, conversation, panel, "", gr.Tabs(selected="passages")
                    continue
                elif kind == "token":
                    partial += event["text"]
                elif kind == "answer":
                    answer = event["answer"]
                    messages[-1] = {"role": "assistant", "content": render.answer_html(answer, self._documents(answer))}
                    turns.append([question, answer.text])
                    state = {"turns": turns, "messages": messages}
                    yield messages, state, render.passages_html(answer.passages, answer.query), "", gr.skip()
                    return
                messages[-1] = {"role": "assistant", "content": render.pending_html(question, query, partial)}
                yield messages, conversation, gr.skip(), "", gr.skip()
        except IndexNotFoundError:
            messages[-1] = {"role": "assistant", "content": render.error_html(NO_INDEX)}
        except RagError as err:
            messages[-1] = {"role": "assistant", "content": render.error_html(str(err))}
        # An error leaves the conversation history as it was, so the failed turn is not a follow-up base.
        yield messages, {"turns": turns, "messages": messages}, gr.skip(), "", gr.skip()

    def _documents(self, answer) -> dict:
        sources = {c.source for c in answer.citations} | {h.chunk.source for h in answer.passages}
        return {s: self.rag.document(s) for s in sources}

    def new_chat(self):
        return [], {"turns": [], "messages": []}, render.passages_html([]), render.viewer_placeholder(), ""

    def open_source(self, payload: str):
        try:
            span = json.loads(payload or "{}")
            source, start, end = str(span["source"]), int(span["start"]), int(span["end"])
        except (ValueError, KeyError, TypeError):
            return gr.skip(), gr.skip()
        try:
            doc = self.rag.document(source)
        except RagError:
            doc = None
        return render.document_html(doc, source, start, end), gr.Tabs(selected="source")

    # documents
    def _rows(self) -> list[tuple[str, int]]:
        try:
            return self.rag.documents()
        except IndexNotFoundError:
            return []

    def refresh_documents(self):
        rows = self._rows()
        table = [[render.short_name(s), n, s] for s, n in rows]
        return table, gr.Dropdown(choices=[(f"{render.short_name(s)} — {s}", s) for s, _ in rows], value=None)

    def upload(self, paths: list[str] | None, progress=gr.Progress(track_tqdm=True)):
        """Validate, save into <index>/uploads/ and index incrementally; bad files change nothing."""
        paths = [p for p in (paths or []) if p]
        problems: list[str] = []
        ready: list[tuple[Path, Path]] = []
        self.uploads.mkdir(parents=True, exist_ok=True)
        for path in progress.tqdm(paths, desc="Checking files") if paths else []:
            name = safe_name(Path(path).name)
            try:
                load_file(path, source=name)  # the same checks indexing applies: type, empty, binary, corrupt
            except RagError as err:
                problems.append(f"{name}: {getattr(err, 'reason', str(err))}")
                continue
            ready.append((Path(path), self.uploads / name))
        added: list[str] = []
        if ready:
            for src, dest in ready:
                part = dest.with_name(f".{dest.name}.part")
                part.write_bytes(src.read_bytes())
                os.replace(part, dest)
            progress(0.3, desc="Indexing")
            try:
                report = self.rag.index([str(dest) for _, dest in ready], prune=False, progress=True)
            except RagError as err:
                problems.append(str(err))
            else:
                problems += [f"{render.short_name(s.source)}: {s.reason}" for s in report.skipped]
                added = [*report.new, *report.changed]
        table, dropdown = self.refresh_documents()
        counts = dict(self._rows())
        return upload_status(added, problems, counts), table, dropdown, None

    def remove(self, source: str | None):
        if not source:
            table, dropdown = self.refresh_documents()
            return '<div class="rq-status rq-warn">Choose a document to remove first.</div>', table, dropdown
        try:
            report = self.rag.remove([source])
        except RagError as err:
            message = f'<div class="rq-status rq-warn">✗ {render.esc(str(err))}</div>'
        else:
            path = Path(source)
            if path.is_file() and path.resolve().parent == self.uploads.resolve():
                path.unlink()  # an uploaded copy would otherwise come back on the next re-index of uploads/
            message = (
                f'<div class="rq-status rq-ok-box">Removed {render.esc(render.short_name(source))}. '
                f"{plural(report.documents, 'document')}, {plural(report.chunks, 'chunk')} remain.</div>"
            )
        table, dropdown = self.refresh_documents()
        return message, table, dropdown

    # named API endpoints (gradio_client): plain JSON in and out
    def ask(self, question: str, history: list[list[str]] | None = None, answerer: str = "", k: int = 0) -> dict:
        """Answer a question from the indexed documents.

        Args:
            question: the question.
            history: earlier turns of this conversation as [question, answer] pairs, for follow-ups.
            answerer: "extractive" or an LLM spec such as "openai:gpt-4o-mini"; empty for the server's default.
            k: number of passages to retrieve; 0 for the server's default.
        Returns:
            The answer as JSON: question, query, answer, abstained, citations, passages, issues, timings.
        """
        pairs = [(str(q), str(a)) for q, a in (history or [])]
        try:
            answer = self.rag.ask(question, history=pairs, llm=self._llm(answerer), k=int(k) or None)
        except IndexNotFoundError as err:
            raise gr.Error(NO_INDEX) from err
        except RagError as err:
            raise gr.Error(str(err)) from err
        return answer.to_dict()

    def search(self, query: str, k: int = 5) -> list[dict]:
        """The passages retrieved for a query, best first, with source, offsets and scores."""
        try:
            return [hit_to_dict(h) for h in self.rag.search(query, k=int(k) or None)]
        except RagError as err:
            raise gr.Error(str(err)) from err

    def documents(self) -> list[dict]:
        """The indexed documents: source and number of chunks."""
        return [{"source": s, "chunks": n} for s, n in self._rows()]


def safe_name(name: str) -> str:
    """A plain file name: no folders, no leading dot, only ordinary characters."""
    stem = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip(" .") or "upload"
    return stem[:120]


def upload_status(added: list[str], problems: list[str], counts: dict[str, int]) -> str:
    lines = []
    for source in added:
        n = counts.get(source, 0)
        lines.append(f"<li>✓ Added <b>{render.esc(render.short_name(source))}</b> ({plural(n, 'chunk')})</li>")
    for problem in problems:
        lines.append(f'<li class="rq-bad">✗ Not added: {render.esc(problem)}</li>')
    if not lines:
        lines.append("<li>Nothing new: these files are already indexed unchanged.</li>")
    total = f"{plural(len(counts), 'document')} in the index."
    keep = " Nothing already indexed was changed." if problems else ""
    box = "rq-warn" if problems else "rq-ok-box"
    return f'<div class="rq-status {box}"><ul>{"".join(lines)}</ul><div>{total}{keep}</div></div>'


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
