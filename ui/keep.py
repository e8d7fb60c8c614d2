"""Event handlers for what the chat keeps: 👍/👎 feedback on each answer (rag.evaluation.feedback, on the server
even in read-only mode), each user's chats (ui.chats: on the server for a signed-in user, in the
browser without a login), and exports of a chat or one answer."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import PurePath

import gradio as gr

from rag import Rag, RagError
from rag.evaluation.feedback import FeedbackStore

from . import render
from .chats import ChatStore, export, new_id, title_for
from .handlers import fresh

THANKS = {"up": "Thanks: saved as helpful.", "down": "Thanks: saved as not helpful."}


def user_of(request: gr.Request | None) -> str:
    return str(getattr(request, "username", None) or "") if request is not None else ""


def for_browser(conversation: dict) -> dict:
    """The conversation as the browser may keep it: sources cut to file names (no server path)."""
    def cut(records: list) -> list:
        return [{**r, "source": PurePath(str(r.get("source", ""))).name} for r in records]

    answers = {k: {**a, "citations": cut(a.get("citations", [])), "passages": cut(a.get("passages", []))}
               for k, a in (conversation.get("answers") or {}).items()}
    return {**conversation, "answers": answers}


class Keeper:
    def __init__(self, rag: Rag):
        self.feedback = FeedbackStore(rag.settings.index_path)
        self.chats = ChatStore(rag.settings.index_path)

    # feedback
    def rate(self, conversation: dict, data: gr.LikeData, request: gr.Request):
        """A 👍/👎 on one answer: stored at once (a second click on the same answer changes its rating);
        the note box opens for the optional note. Outputs: conversation, the rated feedback id, the
        note box, its status line, the right-answer box, the note's text."""
        conversation = fresh(conversation)
        index = str(data.index[0] if isinstance(data.index, list | tuple) else data.index)
        answer = conversation["answers"].get(index)
        if answer is None or not isinstance(data.liked, bool):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        rating = "up" if data.liked else "down"
        ratings = dict(conversation.get("ratings") or {})
        try:
            if index in ratings:
                fid = int(ratings[index])
                self.feedback.update(fid, rating=rating)
            else:
                fid = self.feedback.add(answer, rating, user=user_of(request))
        except (RagError, OSError, sqlite3.Error) as err:
            problem = f'<div class="rq-hint rq-error">⚠ Feedback not saved: {render.esc(str(err))}</div>'
            return gr.skip(), None, gr.Group(visible=True), problem, "", ""
        label = ("What is the right answer? (optional: it becomes a test question for the maintainers)"
                 if rating == "down" else "Anything to add? (optional)")
        conversation = {**conversation, "ratings": {**ratings, index: fid}}
        return (conversation, fid, gr.Group(visible=True), f'<div class="rq-hint">{THANKS[rating]}</div>',
                gr.Textbox(value="", label=label, visible=rating == "down"), "")

    def note(self, fid: int | None, correct: str, note: str):
        """The optional note (and right answer) on the last rating. Outputs: note box, status, both fields."""
        if not fid:
            return gr.Group(visible=False), "", "", ""
        self.feedback.update(int(fid), note=note or "", correct=correct or "")
        return gr.Group(visible=False), '<div class="rq-hint">Thanks: your note was saved.</div>', "", ""

    # chats kept
    def keep(self, conversation: dict, browser_chats: dict | None, request: gr.Request):
        """After an answer: the chat saved (server for a signed-in user, else the browser), the list updated.
        Outputs: conversation (with its id), browser chats, chat list, the chat's title box."""
        conversation = fresh(conversation)
        if not conversation["answers"]:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        conversation = {**conversation, "id": conversation["id"] or new_id()}
        user = user_of(request)
        if user:
            self.chats.save(user, conversation)
            return (conversation, gr.skip(), gr.Dropdown(choices=self.chats.list(user), value=conversation["id"]),
                    title_for(conversation))
        kept = {k: v for k, v in (browser_chats or {}).items() if k != conversation["id"]}
        kept[conversation["id"]] = for_browser(conversation)  # the latest saved last
        return conversation, kept, gr.Dropdown(choices=listed(kept), value=conversation["id"]), title_for(conversation)

    def listing(self, browser_chats: dict | None, request: gr.Request):
        user = user_of(request)
        return gr.Dropdown(choices=self.chats.list(user) if user else listed(browser_chats or {}), value=None)

    def _load(self, chat_id: str | None, browser_chats: dict | None, request: gr.Request) -> dict | None:
        if not chat_id:
            return None
        user = user_of(request)
        return self.chats.load(user, chat_id) if user else (browser_chats or {}).get(chat_id)

    def reopen(self, chat_id: str | None, browser_chats: dict | None, request: gr.Request):
        """Outputs: chat, conversation, passages, viewer, title box."""
        state = self._load(chat_id, browser_chats, request)
        if state is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        state = fresh(state)
        return (state["messages"], state, render.passages_html([]), render.viewer_placeholder(), title_for(state))

    def rename(self, chat_id: str | None, title: str, conversation: dict, browser_chats: dict | None, request: gr.Request):
        """Outputs: conversation, browser chats, chat list."""
        title = " ".join((title or "").split())
        if not chat_id or not title:
            return gr.skip(), gr.skip(), gr.skip()
        user = user_of(request)
        conversation = fresh(conversation)
        if conversation["id"] == chat_id:
            conversation = {**conversation, "title": title}
        if user:
            self.chats.rename(user, chat_id, title)
            return conversation, gr.skip(), gr.Dropdown(choices=self.chats.list(user), value=chat_id)
        kept = dict(browser_chats or {})
        if chat_id in kept:
            kept[chat_id] = {**kept[chat_id], "title": title}
        return conversation, kept, gr.Dropdown(choices=listed(kept), value=chat_id)

    def delete(self, chat_id: str | None, conversation: dict, browser_chats: dict | None, request: gr.Request):
        """Outputs: conversation (a fresh one when the open chat was deleted), browser chats, chat list, title box."""
        if not chat_id:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        user = user_of(request)
        conversation = fresh(conversation)
        if conversation["id"] == chat_id:
            conversation = {**conversation, "id": "", "title": ""}  # what is on screen stays, as a chat not yet kept
        if user:
            self.chats.delete(user, chat_id)
            return conversation, gr.skip(), gr.Dropdown(choices=self.chats.list(user), value=None), ""
        kept = {k: v for k, v in (browser_chats or {}).items() if k != chat_id}
        return conversation, kept, gr.Dropdown(choices=listed(kept), value=None), ""

    def export(self, conversation: dict, last_only: bool = False) -> str:
        """Download links for the chat (or its last answer) as Markdown and JSON. The files travel
        inside the links (data: URLs): no file component, nothing written on the server."""
        conversation = fresh(conversation)
        if not conversation["answers"]:
            return '<div class="rq-hint">Nothing to export yet: ask a question first.</div>'
        stem, markdown, data = export(conversation, last_only=last_only)
        links = "".join(
            f'<a class="rq-download" download="{stem}.{ext}" href="data:{mime};charset=utf-8;base64,'
            f'{base64.b64encode(text.encode("utf-8")).decode("ascii")}">{stem}.{ext}</a> '
            for ext, mime, text in (("md", "text/markdown", markdown), ("json", "application/json", data))
        )
        return f'<div class="rq-exports">Download: {links}</div>'

    def export_answer(self, conversation: dict) -> str:
        return self.export(conversation, last_only=True)


def listed(kept: dict) -> list[tuple[str, str]]:
    """(title, id) of the chats a browser keeps, the latest first (insertion order: the latest saved last)."""
    return [(title_for(v), k) for k, v in reversed(list(kept.items()))]
