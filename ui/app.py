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
from rag.answerers import EXTRACTIVE
from rag.documents import SUPPORTED_SUFFIXES

from . import render
from .assets import BRIDGE_JS, CSS, VIEWER_JS
from .auth import Users
from .handlers import Handlers
from .routes import EXCEPTION_HANDLERS

TITLE = "Ask your documents"
HELP = (
    "Answers come only from the indexed documents, and every quote is checked against its source "
    "(✓ verified / ✗ not verified). Click a quote or a passage to read it in context. "
)
HELP_DOCUMENTS = {False: "Add or remove documents in the <b>Documents</b> tab.", True: "The <b>Documents</b> tab lists them."}
CHAT_PLACEHOLDER = (
    "<div class='rq-placeholder'><b>Ask a question about your documents.</b><br>"
    "Follow-up questions work too: they are rewritten into a standalone search.</div>"
)
MODE_HELP = "extractive quotes sentences (no LLM); other entries are the LLMs this server offers"
FILTER_HELP = "only documents whose metadata matches; conditions apart by ; (key=value, key in a, b, created>=2025-06-01, source=folder/*)"
UPLOAD_HELP = (
    "### Add documents\nText, Markdown, HTML, PDF or Word files. They are saved beside the index and indexed right away."
)
UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)


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
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.HTML(f'<div class="rq-header"><h1>{TITLE}</h1><p>{HELP}{HELP_DOCUMENTS[read_only]}</p></div>')
        conversation = gr.State({"turns": [], "messages": []})  # one per browser session
        with gr.Tabs(elem_id="rq-tabs"):
            with gr.Tab("Ask", id="ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=11, min_width=520):
                        chat = gr.Chatbot(
                            elem_id="rq-chat", height=560, show_label=False, layout="bubble",
                            feedback_options=None, buttons=["copy"], placeholder=CHAT_PLACEHOLDER,
                            latex_delimiters=NO_LATEX,
                        )
                        with gr.Row(elem_id="rq-ask-row"):
                            question = gr.Textbox(
                                elem_id="rq-question", placeholder="Ask a question about your documents…",
                                show_label=False, lines=1, max_lines=4, scale=8, autofocus=True, container=False,
                            )
                            send = gr.Button("Ask", variant="primary", scale=0, min_width=96, elem_id="rq-send")
                            clear = gr.Button("New chat", scale=0, min_width=124, elem_id="rq-clear")
                        with gr.Accordion("Answer settings", open=False, elem_id="rq-settings"):
                            with gr.Row():
                                mode = gr.Dropdown(
                                    choices=ui.modes(), value=ui.rag.settings.answerer, allow_custom_value=False,
                                    label="Answer mode", info=MODE_HELP, scale=3, min_width=260,
                                )
                                k = gr.Slider(1, 20, value=ui.rag.settings.k, step=1, label="Passages (k)", scale=2, min_width=220)
                            filters = gr.Textbox(label="Filter", placeholder="source=reports/*; created>=2025-06-01", info=FILTER_HELP,
                                                 lines=1, max_lines=3, elem_id="rq-filter")
                    with gr.Column(scale=9, min_width=400):
                        with gr.Tabs(elem_id="rq-side") as side:
                            with gr.Tab("Passages", id="passages"):
                                passages = gr.HTML(render.passages_html([]), elem_id="rq-passages", elem_classes="rq-panel")
                            with gr.Tab("Source", id="source", render_children=True):
                                viewer = gr.HTML(
                                    render.viewer_placeholder(), elem_id="rq-viewer", elem_classes="rq-panel",
                                    js_on_load=VIEWER_JS,
                                )
            with gr.Tab("Documents", id="documents"):
                with gr.Row(equal_height=False):
                    if not read_only:
                        with gr.Column(scale=2, min_width=360):
                            gr.Markdown(UPLOAD_HELP)
                            files = gr.File(
                                label="Upload files", file_count="multiple", file_types=UPLOAD_TYPES,
                                elem_id="rq-upload", height=160,
                            )
                            status = gr.HTML("", elem_id="rq-upload-status")
                    with gr.Column(scale=3, min_width=480):
                        gr.Markdown("### Indexed documents")
                        table = gr.Dataframe(
                            headers=["Document", "Chunks", "Source"], datatype=["str", "number", "str"],
                            interactive=False, elem_id="rq-docs", max_height=420, wrap=True,
                            column_widths=["34%", "12%", "54%"], latex_delimiters=NO_LATEX,
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

        asked = [question, conversation, mode, k, filters]
        for event in (question.submit, send.click):
            event(ui.chat, asked, [chat, conversation, passages, question, side], **PRIVATE, **ANSWERING)
        reset = [chat, conversation, passages, viewer, question]
        clear.click(ui.new_chat, None, reset, queue=False, **PRIVATE)
        chat.clear(ui.new_chat, None, reset, queue=False, **PRIVATE)
        bridge.click(ui.open_source, bridge, [viewer, side], **PRIVATE, **ANSWERING)

        if read_only:
            app.load(ui.document_table, None, table, **PRIVATE)
        else:
            files.upload(ui.upload, files, [status, table, chosen, files], **PRIVATE, **INDEXING)
            remove.click(ui.remove, chosen, [status, table, chosen], **PRIVATE, **INDEXING)
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
        from rag.mcp_server import build_server, http_lifespan

        lifespan = http_lifespan(build_server(rag), host=host, check=users.check if users else None)
        app_kwargs = {"lifespan": lifespan}
    launch(app, host=host, port=port, users=users, max_file_size=settings.max_upload_bytes, app_kwargs=app_kwargs)
