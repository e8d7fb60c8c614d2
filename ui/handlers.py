"""Event handlers for the Gradio app, and the named API endpoints gradio_client calls.

`Handlers` holds only the shared `Rag` and the answerers the operator allows: everything that
belongs to one user (the conversation, the chosen settings, the uploaded files) arrives as an
argument and leaves as a return value. Input from a client is checked here or by `Rag` (k,
question length, answerer spec, upload size and name) and a bad one is a one-line error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import gradio as gr

from rag import Rag, RagError
from rag.answer.answerers import EXTRACTIVE, allowed
from rag.errors import IndexNotFoundError
from rag.ingest.documents import load_file
from rag.search.filters import Condition, Filter, parse_filter, split_conditions
from rag.settings import check_history
from rag.types import Answer, AnswerEvent, PassagesEvent, QueryEvent, TokenEvent, hit_to_dict

from . import render
from .pages import PageImages

NO_INDEX = "No documents are indexed yet: add some in the Documents tab."
NO_MATCH = "No indexed document matches the chosen documents and filter: change them above the chat (the Documents tab lists every document)."
EMPTY_QUESTION = "Type a question first, then press Enter or Ask."


class Handlers:
    """The app's event handlers over one shared `Rag` (see the module docstring)."""

    def __init__(self, rag: Rag, allow: Iterable[str] = EXTRACTIVE):
        self.rag = rag
        self.uploads = Path(rag.settings.index_path) / "uploads"
        self.allow = tuple(dict.fromkeys([rag.settings.answerer, *allow]))  # the server's own is always allowed
        self.pages = PageImages()  # rendered PDF pages, shared by every session

    def modes(self) -> list[str]:
        return list(self.allow)

    def _llm(self, mode: str | None) -> str:
        """The answerer spec a client chose (empty: the server's default), if the operator allows it."""
        return allowed(mode if isinstance(mode, str) else None, self.allow, self.rag.settings.answerer)

    # chat
    def chat(self, message: str, conversation: dict, mode: str, k: float, filters: str = "", picked: list[str] | None = None):
        """Outputs: chat, conversation, passages panel, question box, side tabs, hint under the question.
        The question box is emptied while answering and given back when the question fails."""
        question = (message or "").strip()
        conversation = fresh(conversation)
        turns, messages = list(conversation["turns"]), list(conversation["messages"])
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), hint_html(EMPTY_QUESTION)
            return
        messages.append({"role": "user", "content": question})
        messages.append({"role": "assistant", "content": render.pending_html(question)})
        yield messages, gr.skip(), gr.skip(), "", gr.skip(), ""
        query, partial = "", ""
        try:
            history = [tuple(t) for t in turns]
            conditions = choose(filters, picked, self._sources())
            for event in self.rag.ask_stream(question, history=history, llm=self._llm(mode), k=passages(k), filters=conditions):
                if isinstance(event, QueryEvent):
                    query = event.query
                elif isinstance(event, PassagesEvent):
                    panel = render.passages_html(event.passages, query)
                    yield messages, gr.skip(), panel, gr.skip(), gr.Tabs(selected="passages"), gr.skip()
                    continue
                elif isinstance(event, TokenEvent):
                    partial += event.text
                elif isinstance(event, AnswerEvent):
                    answer = event.answer
                    if conditions is not None and not answer.passages:
                        raise RagError(NO_MATCH)
                    documents = self._documents(answer)
                    messages[-1] = {"role": "assistant", "content": render.answer_html(answer, documents)}
                    turns.append([question, answer.text])
                    answers = {**conversation["answers"], str(len(messages) - 1): record(answer, documents)}
                    state = {**conversation, "turns": turns, "messages": messages, "answers": answers}
                    yield messages, state, render.passages_html(answer.passages, answer.query), gr.skip(), gr.skip(), ""
                    return
                messages[-1] = {"role": "assistant", "content": render.pending_html(question, query, partial)}
                yield messages, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except IndexNotFoundError:
            problem = NO_INDEX
        except RagError as err:
            problem = str(err)
        # An error leaves the conversation as it was (the failed turn is no follow-up base), clears the
        # passages of an earlier question, and gives the typed question back to correct and resend.
        yield (conversation["messages"], conversation, render.passages_html([]), message,
               gr.skip(), hint_html(problem, error=True))

    def _sources(self) -> list[str]:
        return [s for s, _ in self._rows()]

    def _documents(self, answer) -> dict:
        sources = {c.source for c in answer.citations} | {h.chunk.source for h in answer.passages}
        return {s: self.rag.document(s) for s in sources}

    def new_chat(self):
        """Outputs: chat, conversation, passages, viewer, question, hint."""
        return [], fresh(None), render.passages_html([]), render.viewer_placeholder(), "", ""

    def open_source(self, payload: str):
        try:
            span = json.loads(payload or "{}")
            key, start, end = str(span["doc"]), int(span["start"]), int(span["end"])
        except (ValueError, KeyError, TypeError):
            return gr.skip(), gr.skip()
        source = next((s for s in self._sources() if render.doc_key(s) == key), None)
        if source is None:
            return render.document_html(None, "that document"), gr.Tabs(selected="source")
        try:
            doc = self.rag.document(source)
        except RagError:
            doc = None
        page = self.pages.page_html(self.rag, doc, start, end)
        return render.document_html(doc, source, start, end, page), gr.Tabs(selected="source")

    def titles(self) -> dict[str, str]:
        try:
            return {s: render.real(m.get("title")) for s, m in self.rag.metadata().items()}
        except IndexNotFoundError:
            return {}

    def picker_choices(self) -> list[tuple[str, str]]:
        """(title · file name, source) of each indexed document, by title: the document picker's choices."""
        titles = self.titles()
        named = [(f"{titles[s]} · {render.short_name(s)}" if titles.get(s) else render.short_name(s), s) for s in self._sources()]
        return sorted(named, key=lambda pair: pair[0].lower())

    def refresh_picker(self, picked: list[str] | None = None):
        choices = self.picker_choices()
        known = {s for _, s in choices}
        return gr.Dropdown(choices=choices, value=[s for s in picked or [] if s in known])

    # documents
    def _rows(self) -> list[tuple[str, int]]:
        try:
            return self.rag.documents()
        except IndexNotFoundError:
            return []

    def document_table(self) -> list[list]:
        """[title, file name, passages] of each indexed document (no server path: the page never shows one)."""
        titles = self.titles()
        return [[titles.get(s) or "—", render.short_name(s), n] for s, n in self._rows()]

    def refresh_documents(self):
        return self.document_table(), gr.Dropdown(choices=self.picker_choices(), value=None)

    def upload(self, paths: list[str] | None, progress=gr.Progress()):
        """Validate, save into <index>/uploads/ and index incrementally; bad files change nothing and
        leave nothing in uploads/ (a file the index then refuses after all is deleted again).

        A file never replaces another: one whose name is taken by different content is saved as
        `name (2).ext`, and the status line says so; the same content under the same name is kept as is.
        """
        paths = [p for p in (paths or []) if p]
        problems: list[str] = []
        ready: list[tuple[Path, Path]] = []
        renamed: dict[str, str] = {}  # saved name -> the name it was uploaded as
        settings = self.rag.settings
        limit = settings.max_upload_bytes
        for path in progress.tqdm(paths, desc="Checking", unit="files") if paths else []:
            src, name = Path(path), safe_name(Path(path).name)
            size = src.stat().st_size
            if size > limit:
                problems.append(f"{name}: file is {megabytes(size)}, over this server's limit of {megabytes(limit)}")
                continue
            try:
                # the same checks indexing applies (type, size, empty, binary, corrupt), with this server's limits
                load_file(path, source=name, max_document_chars=settings.max_document_chars,
                          max_docx_xml_bytes=settings.max_docx_xml_bytes)
            except RagError as err:
                problems.append(f"{name}: {getattr(err, 'reason', str(err))}")
                continue
            dest = self.uploads / name
            if not (dest.is_file() and dest.read_bytes() == src.read_bytes()):
                dest = self.uploads / free_name(self.uploads, name, {d.name for _, d in ready})
            if dest.name != src.name:
                renamed[dest.name] = src.name
            ready.append((src, dest))
        added: list[str] = []
        if ready:
            self.uploads.mkdir(parents=True, exist_ok=True)
            fresh = {dest for _, dest in ready if not dest.exists()}  # written now: ours to delete if refused
            for src, dest in ready:
                part = dest.with_name(f".{dest.name}.part")
                part.write_bytes(src.read_bytes())
                os.replace(part, dest)
            progress(0.3, desc=f"Indexing {plural(len(ready), 'document')}")
            try:
                report = self.rag.index([str(dest) for _, dest in ready], prune=False, progress=True)
            except RagError as err:
                problems.append(str(err))
                refused = fresh
            else:
                problems += [f"{render.short_name(s.source)}: {s.reason}" for s in report.skipped]
                added = [*report.new, *report.changed]
                refused = {dest for dest in fresh if any(Path(s.source).resolve() == dest.resolve() for s in report.skipped)}
            for dest in refused:
                dest.unlink(missing_ok=True)  # not indexed: it must not come back on the next re-index of uploads/
        try:
            table, dropdown = self.refresh_documents()
            counts = dict(self._rows())
        except RagError:  # an index that cannot be read (the status says why): no list, rather than no answer
            table, dropdown, counts = [], gr.Dropdown(choices=[], value=None), {}
        return upload_status(added, problems, counts, renamed), table, dropdown, None

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
                f"{plural(report.documents, 'document')}, {plural(report.chunks, 'passage')} remain.</div>"
            )
        table, dropdown = self.refresh_documents()
        return message, table, dropdown

    # named API endpoints (gradio_client): plain JSON in and out
    def ask(self, question: str, history: list[list[str]] | None = None, answerer: str = "", k: int = 0, filters: str = "") -> dict:
        """Answer a question from the indexed documents.

        Args:
            question: the question.
            history: earlier turns of this conversation as [question, answer] pairs, for follow-ups.
            answerer: "extractive" or an LLM spec such as "openai:gpt-4o-mini"; empty for the server's default.
            k: number of passages to retrieve; 0 for the server's default.
            filters: only documents whose metadata matches, conditions separated by ";": "source=reports/*; created>=2025-06-01".
        Returns:
            The answer as JSON: question, query, answer, abstained, citations (a PDF's with page and boxes),
            passages, issues, timings.
        """
        try:
            pairs = turns(history)
            answer = self.rag.ask(question, history=pairs, llm=self._llm(answerer), k=passages(k), filters=split_conditions(filters))
        except IndexNotFoundError as err:
            raise gr.Error(NO_INDEX) from err
        except RagError as err:
            raise gr.Error(str(err)) from err
        return self.rag.with_boxes(answer).to_dict()

    def search(self, query: str, k: int = 5, filters: str = "") -> list[dict]:
        """The passages retrieved for a query, best first, with source, offsets, scores, title and metadata;
        `filters` as for /ask."""
        try:
            return [hit_to_dict(h) for h in self.rag.search(query, k=passages(k), filters=split_conditions(filters))]
        except RagError as err:
            raise gr.Error(str(err)) from err

    def documents(self) -> list[dict]:
        """The indexed documents: source and number of chunks."""
        return [{"source": s, "chunks": n} for s, n in self._rows()]


def passages(k: object) -> Any:  # int | None, or the client's value as it came: Rag's check_k refuses it
    """A client's k for `Rag`: 0 or empty means the server's default (None); a whole float (a slider's
    5.0) becomes an int; anything else goes on as it came, for `Rag` to accept or refuse."""
    if k is None or k == "" or (isinstance(k, (int, float)) and not isinstance(k, bool) and k == 0):
        return None
    if isinstance(k, float) and k.is_integer():
        return int(k)
    return k


def turns(history: object, keep: int = 3) -> list[tuple[str, str]]:
    """The last `keep` [question, answer] pairs of a client's history (all a follow-up reads)."""
    return check_history(history)[-keep:]


NAME_CHARS, NAME_BYTES, SUFFIX_CHARS = 120, 200, 16  # bytes: room for " (2)" and ".part" under 255


def safe_name(name: str) -> str:
    """A plain file name: no folders, no leading dot, only ordinary characters, at most 120 characters
    and 200 bytes; a longer one is shortened before its extension, which it keeps. A name left with
    no letter or digit keeps a short hash of the original, so `🚀.md` and `🎉.md` stay two files."""
    original = Path(name).name
    path = Path(re.sub(r"[^\w.\- ]+", "_", original).strip(" ."))
    suffix = path.suffix if len(path.suffix) <= SUFFIX_CHARS else ""
    stem = path.name.removesuffix(suffix) if suffix else path.name
    if not stem or not re.search(r"[^\W_]", stem):
        digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:6]
        stem = f"{shortened(stem, suffix + 'x' * 7) or 'upload'}-{digest}"
    return shortened(stem, suffix) + suffix


def shortened(stem: str, suffix: str) -> str:
    """`stem` cut so that `stem + suffix` holds at most NAME_CHARS characters and NAME_BYTES bytes."""
    stem = stem[: NAME_CHARS - len(suffix)]
    while len((stem + suffix).encode("utf-8", "surrogatepass")) > NAME_BYTES:
        stem = stem[:-1]
    return stem.rstrip(" ")


def free_name(folder: Path, name: str, taken: set[str]) -> str:
    """`name`, or `name (2)`, `name (3)`, ... : the first not in `folder` and not in `taken`."""
    path, n = Path(name), 2
    while name in taken or (folder / name).exists():
        name, n = f"{path.stem} ({n}){path.suffix}", n + 1
    return name


def upload_status(
    added: list[str], problems: list[str], counts: dict[str, int], renamed: dict[str, str] | None = None
) -> str:
    lines = []
    for source in added:
        n, name = counts.get(source, 0), render.short_name(source)
        was = (renamed or {}).get(name)
        note = f", renamed from {render.esc(was)}" if was else ""
        lines.append(f"<li>✓ Added <b>{render.esc(name)}</b> ({plural(n, 'passage')}{note})</li>")
    for problem in problems:
        lines.append(f'<li class="rq-bad">✗ Not added: {render.esc(problem)}</li>')
    if not lines:
        lines.append("<li>Nothing new: these files are already indexed unchanged.</li>")
    total = f"{plural(len(counts), 'document')} in the index."
    keep = " Nothing already indexed was changed." if problems else ""
    box = "rq-warn" if problems else "rq-ok-box"
    return f'<div class="rq-status {box}"><ul>{"".join(lines)}</ul><div>{total}{keep}</div></div>'


def megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size:,} bytes"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def fresh(conversation: object) -> dict:
    """A conversation state with every field (an older or empty one gets the missing ones)."""
    base: dict = {"turns": [], "messages": [], "answers": {}, "ratings": {}, "id": "", "title": ""}
    return {**base, **conversation} if isinstance(conversation, dict) else base


def choose(filters: str, picked: object, sources: Iterable[str]) -> Filter | None:
    """The documents a question may use: the free filter's conditions, and the picked documents.
    A bare file name in the filter (`source=report.pdf`) names the document of that name."""
    found = parse_filter(split_conditions(filters))
    conditions = list(found.conditions) if found else []
    known = set(sources)
    chosen = tuple(s for s in (picked if isinstance(picked, list | tuple) else ()) if isinstance(s, str) and s in known)
    if chosen:
        conditions.append(Condition("source", "=", chosen))
    return Filter(tuple(conditions)) if conditions else None


def hint_html(text: str, error: bool = False) -> str:
    css = "rq-hint rq-error" if error else "rq-hint"
    return f'<div class="{css}">{"⚠ " if error else ""}{render.esc(text)}</div>' if text else ""


def record(answer: Answer, documents: dict) -> dict:
    """An answer as the conversation keeps it (for feedback and export): its JSON, each quote with its document's title."""
    out = answer.to_dict()
    out["citations"] = [{**c, "title": render.title_of(documents.get(c["source"]))} for c in out["citations"]]
    return out
