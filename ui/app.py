"""The Gradio app: chat over the indexed documents with verified quotes, and a Documents tab.

A thin layer over `rag.Rag`. One shared `Rag` serves every session (its reads are thread-safe);
each conversation lives in its own `gr.State`, so concurrent users never see each other's turns.
`rag serve` starts it; `build_app(settings)` returns the Blocks for tests and embedding. A read-only
app registers no upload or remove handler at all, so no client can reach one; logins are Gradio's
`auth=` with the hashed user file of `ui.auth`. No component renders LaTeX or takes a custom answerer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypedDict

import gradio as gr

from rag import Rag, Settings
from rag.answer.answerers import EXTRACTIVE
from rag.ingest.documents import SUPPORTED_SUFFIXES

from . import render
from .assets import BRIDGE_JS, CSS, SCROLL_JS, SHOW_VIEWER_JS, THEME_JS, THEME_LOAD_JS, VIEWER_JS
from .auth import Users
from .chats import browser_secret
from .handlers import Handlers, fresh
from .keep import Keeper
from .routes import EXCEPTION_HANDLERS

TITLE = "Ask your documents"
HELP = (
    "Answers come only from the indexed documents. Each quote says which document and page it was found in; "
    "read the quotes to judge the answer. Click a quote to read it in its document. "
)
HELP_DOCUMENTS = {False: "Add or remove documents in the <b>Documents</b> tab.", True: "The <b>Documents</b> tab lists them."}
CHAT_PLACEHOLDER = (
    "<div class='rq-placeholder'><b>Ask a question about your documents.</b><br>"
    "Follow-up questions work too: they are rewritten into a standalone search.</div>"
)
QUESTION_PLACEHOLDER = "Ask a question about your documents…"
MODES = {  # what each answer mode does, in the words the menu shows
    "extractive": "Quote the sentences that answer (recommended)",
    "extractive:strict": "Quote only a passage that names everything asked (declines more)",
    "extractive:reader": "Let the reading model pick one sentence (shorter answers)",
}
MODE_HELP = "how the answer is made; every mode quotes the documents and checks each quote"
K_HELP = "how many passages of the documents the answer is chosen from"
PICKER_HELP = "type to search the titles; none chosen: all documents"
FILTER_HELP = (
    "by file name or details the documents carry, conditions apart by ; "
    "(source=report.pdf, source=reports/*, created>=2025-06-01, author in Ann, Li)"
)
UPLOAD_HELP = (
    "### Add documents\nText, Markdown, HTML, PDF or Word files. They are saved beside the index and indexed right away."
)
UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)
FEEDBACK_HELP = "Rate any answer with 👍 or 👎 under it; a note is optional."


def mode_label(spec: str) -> str:
    """An answer mode as the menu names it: by what it does (an LLM by its name)."""
    if spec in MODES:
        return MODES[spec]
    name = spec.partition(":")[2]
    return f"Write the answer with {name or spec} (an AI model; each sentence checked against a quote)"


class Visibility(TypedDict):
    api_visibility: Literal["public", "private", "undocumented"]


class Concurrency(TypedDict):
    concurrency_id: str
    concurrency_limit: int


PRIVATE: Visibility = {"api_visibility": "private"}  # UI plumbing; the named API endpoints are declared with gr.api
ANSWERING: Concurrency = {"concurrency_id": "answer", "concurrency_limit": 8}  # questions run side by side
INDEXING: Concurrency = {"concurrency_id": "index", "concurrency_limit": 1}  # index updates run one at a time
NO_LATEX: list = []  # document text is shown as written: "$$x^2$$" must not become a formula


def build_app(
    settings: Settings, *, rag: Rag | None = None, read_only: bool = False, allow: Iterable[str] = EXTRACTIVE
) -> gr.Blocks:
    """The whole UI over one shared `Rag`. Start it with `launch(app, ...)`, which adds the styling.

    `allow`: the answerer specs a client may choose, besides the server's own (settings.answerer).
    `read_only`: list the documents, but build no upload or remove control and register no handler for one.
    """
    ui = Handlers(rag or Rag(settings), allow=allow)
    keep = Keeper(ui.rag)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        with gr.Row(elem_id="rq-top"):
            gr.HTML(f'<div class="rq-header"><h1>{TITLE}</h1><p>{HELP}{HELP_DOCUMENTS[read_only]}</p></div>')
            theme = gr.Button("◐ Light / dark", size="sm", scale=0, min_width=130, elem_id="rq-theme")
        conversation = gr.State(fresh(None))  # one per browser session
        browser_chats = gr.BrowserState({}, storage_key="rq-chats", secret=browser_secret(ui.rag.settings.index_path))  # without a login
        rated = gr.State(None)  # the feedback id a note would go to
        with gr.Tabs(elem_id="rq-tabs"):
            with gr.Tab("Ask", id="ask"):
                with gr.Row(equal_height=False, elem_id="rq-ask"):
                    with gr.Column(scale=11, min_width=320, elem_id="rq-main"):
                        chat = gr.Chatbot(
                            elem_id="rq-chat", height=520, show_label=False, layout="bubble", autoscroll=False,
                            feedback_options=("Like", "Dislike"), buttons=["copy"], placeholder=CHAT_PLACEHOLDER,
                            latex_delimiters=NO_LATEX,
                        )
                        with gr.Group(visible=False, elem_id="rq-feedback") as feedback:
                            fb_status = gr.HTML("", elem_id="rq-feedback-status")
                            correct = gr.Textbox(label="What is the right answer?", lines=1, max_lines=3, elem_id="rq-correct")
                            fb_note = gr.Textbox(label="Note (optional)", lines=1, max_lines=4, elem_id="rq-note")
                            send_note = gr.Button("Send note", size="sm", elem_id="rq-send-note")
                        with gr.Row(elem_id="rq-ask-row", equal_height=True):
                            question = gr.Textbox(
                                elem_id="rq-question", placeholder=QUESTION_PLACEHOLDER,
                                show_label=False, lines=1, max_lines=4, scale=10, min_width=200, autofocus=True, container=False,
                            )
                            send = gr.Button("Ask", variant="primary", scale=0, min_width=80, elem_id="rq-send")
                        hint = gr.HTML("", elem_id="rq-hint")
                        with gr.Row(elem_id="rq-picker-row", equal_height=False):
                            picker = gr.Dropdown(
                                label="Only these documents", info=PICKER_HELP, choices=[], value=[], multiselect=True,
                                filterable=True, elem_id="rq-picker", scale=5, min_width=200,
                            )
                            clear = gr.Button("New chat", scale=0, min_width=110, elem_id="rq-clear")
                        with gr.Accordion("Your chats", open=False, elem_id="rq-chat-tools"):
                            chats = gr.Dropdown(label="Reopen a chat", choices=[], value=None, elem_id="rq-chats",
                                                allow_custom_value=False)
                            with gr.Row():
                                chat_title = gr.Textbox(label="Title of this chat", scale=4, min_width=200, elem_id="rq-chat-title")
                                rename = gr.Button("Rename", size="sm", scale=0, min_width=90, elem_id="rq-rename")
                                delete = gr.Button("Delete", size="sm", variant="stop", scale=0, min_width=90, elem_id="rq-delete")
                            with gr.Row():
                                export_chat = gr.Button("Export chat", size="sm", elem_id="rq-export-chat")
                                export_answer = gr.Button("Export last answer", size="sm", elem_id="rq-export-answer")
                            exports = gr.HTML("", elem_id="rq-exports")
                        with gr.Accordion("Advanced", open=False, elem_id="rq-settings"):
                            with gr.Row():
                                mode = gr.Dropdown(
                                    choices=[(mode_label(m), m) for m in ui.modes()], value=ui.rag.settings.answerer,
                                    allow_custom_value=False, label="Answer mode", info=MODE_HELP, scale=3, min_width=260,
                                    elem_id="rq-mode",
                                )
                                k = gr.Slider(1, 20, value=ui.rag.settings.k, step=1, label="Sources to read", info=K_HELP,
                                              scale=2, min_width=220, elem_id="rq-k")
                            filters = gr.Textbox(label="Filter", placeholder="source=report.pdf; created>=2025-06-01", info=FILTER_HELP,
                                                 lines=1, max_lines=3, elem_id="rq-filter")
                    with gr.Column(scale=9, min_width=320, elem_id="rq-side-col"):
                        with gr.Tabs(elem_id="rq-side") as side:
                            with gr.Tab("Passages", id="passages"):
                                passages = gr.HTML(render.passages_html([]), elem_id="rq-passages", elem_classes="rq-panel")
                            with gr.Tab("Document", id="source", render_children=True):
                                viewer = gr.HTML(
                                    render.viewer_placeholder(), elem_id="rq-viewer", elem_classes="rq-panel",
                                    js_on_load=VIEWER_JS,
                                )
            with gr.Tab("Documents", id="documents"):
                with gr.Row(equal_height=False):
                    if not read_only:
                        with gr.Column(scale=2, min_width=320):
                            gr.Markdown(UPLOAD_HELP)
                            files = gr.File(
                                label="Upload files", file_count="multiple", file_types=UPLOAD_TYPES,
                                elem_id="rq-upload", height=160,
                            )
                            status = gr.HTML("", elem_id="rq-upload-status")
                    with gr.Column(scale=3, min_width=320):
                        gr.Markdown("### Indexed documents")
                        table = gr.Dataframe(
                            headers=["Title", "File", "Passages"], datatype=["str", "str", "number"],
                            interactive=False, elem_id="rq-docs", max_height=420, wrap=True,
                            column_widths=["56%", "30%", "14%"], latex_delimiters=NO_LATEX,
                        )
                        if not read_only:
                            with gr.Row():
                                chosen = gr.Dropdown(
                                    label="Remove a document", choices=[], scale=4, elem_id="rq-remove-choice"
                                )
                                remove = gr.Button(
                                    "Remove", variant="stop", scale=1, min_width=100, elem_id="rq-remove"
                                )
        bridge = gr.HTML("", visible="hidden", elem_id="rq-bridge", html_template="<span></span>", js_on_load=BRIDGE_JS)

        asked = [question, conversation, mode, k, filters, picker]
        answered = [chat, conversation, passages, question, side, hint]
        for event in (question.submit, send.click):
            event(ui.chat, asked, answered, show_progress_on=chat, **PRIVATE, **ANSWERING).then(
                keep.keep, [conversation, browser_chats], [conversation, browser_chats, chats, chat_title], **PRIVATE
            )
        chat.change(None, None, None, js=SCROLL_JS, **PRIVATE)
        reset = [chat, conversation, passages, viewer, question, hint]
        clear.click(ui.new_chat, None, reset, queue=False, **PRIVATE).then(
            lambda: (gr.Dropdown(value=None), "", gr.Group(visible=False), ""), None,
            [chats, chat_title, feedback, exports], queue=False, **PRIVATE)
        chat.clear(ui.new_chat, None, reset, queue=False, **PRIVATE)
        bridge.click(ui.open_source, bridge, [viewer, side], **PRIVATE, **ANSWERING).then(None, js=SHOW_VIEWER_JS, **PRIVATE)

        chat.like(keep.rate, conversation, [conversation, rated, feedback, fb_status, correct, fb_note], **PRIVATE)
        send_note.click(keep.note, [rated, correct, fb_note], [feedback, fb_status, correct, fb_note], **PRIVATE).then(
            lambda: gr.Group(visible=True), None, feedback, **PRIVATE)  # the thanks stays in view
        chats.input(keep.reopen, [chats, browser_chats], [chat, conversation, passages, viewer, chat_title], **PRIVATE)
        rename.click(keep.rename, [chats, chat_title, conversation, browser_chats], [conversation, browser_chats, chats], **PRIVATE)
        delete.click(keep.delete, [chats, conversation, browser_chats], [conversation, browser_chats, chats, chat_title], **PRIVATE)
        export_chat.click(keep.export, conversation, exports, **PRIVATE)
        export_answer.click(keep.export_answer, conversation, exports, **PRIVATE)
        theme.click(None, None, None, js=THEME_JS, **PRIVATE)
        app.load(None, None, None, js=THEME_LOAD_JS, **PRIVATE)
        app.load(keep.listing, browser_chats, chats, **PRIVATE)
        app.load(ui.refresh_picker, None, picker, **PRIVATE)

        if read_only:
            app.load(ui.document_table, None, table, **PRIVATE)
        else:
            files.upload(ui.upload, files, [status, table, chosen, files], show_progress_on=status, **PRIVATE, **INDEXING).then(
                ui.refresh_picker, picker, picker, **PRIVATE)
            remove.click(ui.remove, chosen, [status, table, chosen], show_progress_on=status, **PRIVATE, **INDEXING).then(
                ui.refresh_picker, picker, picker, **PRIVATE)
            app.load(ui.refresh_documents, None, [table, chosen], **PRIVATE)

        gr.api(ui.ask, api_name="ask", **ANSWERING)
        gr.api(ui.search, api_name="search", **ANSWERING)
        gr.api(ui.documents, api_name="documents")
    return app


def launch(
    app: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    block: bool = True,
    users: Users | None = None,
    max_file_size: int = Settings.max_upload_bytes,
    **kwargs,
):
    """Start the server with the app's styling; returns (fastapi app, local url, share url).

    With `users`, every page, upload and API or queue call needs a login first (Gradio's `auth=`).
    """
    app.queue(max_size=64)
    kwargs["app_kwargs"] = {**(kwargs.get("app_kwargs") or {}), "exception_handlers": EXCEPTION_HANDLERS}
    return app.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        css=CSS,
        theme=gr.themes.Soft(primary_hue="indigo", neutral_hue="slate"),
        footer_links=["api"],
        ssr_mode=False,
        share=False,
        show_error=True,
        max_file_size=max_file_size,
        auth=users.check if users else None,
        auth_message="Log in with the user name and password the operator gave you." if users else None,
        **kwargs,
    )


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    users: Users | None = None,
    read_only: bool = False,
    allow: Iterable[str] = EXTRACTIVE,
    mcp: bool = False,
) -> None:
    """Serve the UI; with `mcp`, also the MCP tools at /mcp of the same server (logins: HTTP Basic)."""
    rag = Rag(settings)
    rag.embedder.embed(["warm up"], query=True)  # load the model before the first user waits on it
    app = build_app(settings, rag=rag, read_only=read_only, allow=allow)
    app_kwargs: dict[str, Any] | None = None  # Gradio's default
    if mcp:
        from rag.integrations.mcp import build_server, http_lifespan

        lifespan = http_lifespan(build_server(rag), host=host, check=users.check if users else None)
        app_kwargs = {"lifespan": lifespan}
    launch(app, host=host, port=port, users=users, max_file_size=settings.max_upload_bytes, app_kwargs=app_kwargs)
