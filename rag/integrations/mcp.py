"""The MCP server: `ask`, `search` and `list_documents` as typed tools over one `Rag`, for assistants
that speak the Model Context Protocol (over stdio: `rag mcp`; over HTTP beside the UI: `rag serve --mcp`).

Read-only by design: no tool adds or removes documents, and `ask` uses the server's answerer only.
Inputs are held to the library's limits (k, question length, no empty question); a bad one is a
tool error whose text is the one-line message. A message that is not JSON gets a -32700 error, and a
batch array (not part of MCP) or another non-message a -32600, over stdio and HTTP alike. Built on
the official SDK's `MCPServer` (FastMCP in mcp 1.x).
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations, which name local types.

import base64
import datetime
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from ..errors import RagError
from ..pipeline import Rag
from ..search.filters import MAX_CONDITIONS
from ..settings import MAX_QUESTION_CHARS
from ..types import Answer, Hit, MetaValue

INSTRUCTIONS = (
    "Answers questions from the documents indexed on this server. Call `ask` for an answer whose every "
    "sentence is backed by an exact quote from a source document (cite the `citations`; do not add facts "
    "they do not hold); `search` for the raw passages; `list_documents` for what is indexed and each "
    "document's metadata, which `filters` can match (e.g. [\"source=reports/*\", \"created>=2025-06-01\"])."
)
Metadata = dict[str, str | int | float]  # dates as YYYY-MM-DD
BATCH = "Invalid Request: JSON-RPC batches are not part of MCP (since revision 2025-06-18); send one message at a time"
NOT_A_MESSAGE = "Invalid Request: not a JSON-RPC request, notification or response"


class Span(BaseModel):
    """Where a text stands: `document text[start:end]`."""

    source: str = Field(description="the document (path as indexed)")
    start: int = Field(description="character offset where the text starts in the document")
    end: int
    page: int | None = None


class Passage(Span):
    rank: int
    score: float
    title: str = Field("", description="the document's title, where it has one")
    heading: str = Field("", description="title and section heading the passage stands under, one per line")
    text: str = Field(description="exactly the document's text from start to end")
    metadata: Metadata = Field(default_factory=dict, description="the document's metadata (title, author, dates, ...)")


class Quote(Span):
    marker: int = Field(description="the [n] that cites it in the answer")
    quote: str = Field(description="the document's text from start to end, verified to support the sentence")


class ShortAnswer(Span):
    text: str = Field(description="the few words that answer, inside one of the quotes")
    confidence: float | None = Field(None, description="the reader's probability that this span is the answer")


class ConflictValue(BaseModel):
    text: str = Field(description="one document's value, e.g. '24–26 June 2025'")
    source: str
    markers: list[int] = Field(description="the [n] of the quotes that hold it")


class AskResult(BaseModel):
    question: str
    query: str = Field(description="what was searched for")
    answer: str = Field(description="verified sentences only, each ending in [n] markers (or: not in the documents)")
    abstained: bool = Field(description="true when the documents do not answer the question")
    short_answer: ShortAnswer | None = None
    confidence: float | None = Field(None, description="the answerer's probability that the passages answer")
    conflict: bool = Field(False, description="the documents give different values; each is quoted")
    reason: str | None = Field(None, description="why the documents were taken not to answer (an abstention)")
    conflict_values: list[ConflictValue] = Field(default_factory=list, description="each document's value where they disagree")
    unmentioned: list[str] = Field(default_factory=list, description="names the question asks about that no quoted passage mentions")
    citations: list[Quote]
    withheld: list[str] = Field(description="why each sentence the answerer wrote was withheld (not verified)")
    passages: list[Passage] = Field(description="the passages retrieved, best first")


class DocumentInfo(BaseModel):
    source: str
    chunks: int
    title: str = ""
    metadata: Metadata = Field(default_factory=dict, description="what `filters` can match, besides source")


def build_server(rag: Rag) -> MCPServer:
    """The MCP server over `rag`; `.run("stdio")` serves it, `http_lifespan` mounts it on a web app."""
    server = MCPServer("rag-quotes", instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
    limit = rag.settings.max_k
    K = Annotated[int | None, Field(description=f"passages to retrieve, 1 to {limit}; omit for the server's default",
                                    json_schema_extra={"minimum": 1, "maximum": limit})]  # checked by check_k
    Filters = Annotated[list[str] | None, Field(
        description="only documents whose metadata matches all of these: key=value, 'key in a, b', key>=2025-06-01 "
                    "(> >= < <= on dates and numbers), source=folder/* (list_documents shows the metadata)",
        max_length=MAX_CONDITIONS)]

    @server.tool(annotations=read_only)
    def ask(question: Annotated[str, Field(description=f"the question, at most {MAX_QUESTION_CHARS} characters",
                                           json_schema_extra={"minLength": 1})],  # blank: check_question refuses it
            k: K = None, filters: Filters = None) -> AskResult:
        """Answer a question from the indexed documents, with a verified quote behind every sentence."""
        return ask_result(checked(rag.ask, question, k=k, filters=filters))

    @server.tool(annotations=read_only)
    def search(query: Annotated[str, Field(description=f"what to search for, at most {MAX_QUESTION_CHARS} characters",
                                           json_schema_extra={"minLength": 1})],
               k: K = None, filters: Filters = None) -> list[Passage]:
        """The passages of the indexed documents that best match a query, best first, with source and offsets
        (none when the filters keep no document)."""
        return [passage(hit) for hit in checked(rag.search, query, k=k, filters=filters)]

    @server.tool(annotations=read_only)
    def list_documents() -> list[DocumentInfo]:
        """The indexed documents: how many passages (chunks) each holds, its title and its metadata."""
        rows, metadata = checked(rag.documents), checked(rag.metadata)
        return [DocumentInfo(source=source, chunks=n, title=str(metadata.get(source, {}).get("title", "")),
                             metadata=plain(metadata.get(source, {}))) for source, n in rows]

    return server


def checked(call, *args, **kwargs):
    """The call's result; a library error (a bad k, a long question, no index) becomes a tool error."""
    try:
        return call(*args, **kwargs)
    except RagError as err:
        raise ToolError(str(err)) from err


def passage(hit: Hit) -> Passage:
    c = hit.chunk
    return Passage(rank=hit.rank, score=hit.score, source=c.source, start=c.start, end=c.end, page=c.page,
                   title=c.title, heading=c.heading, text=c.text, metadata=plain(c.metadata))


def plain(metadata: dict[str, MetaValue]) -> Metadata:
    """Metadata as JSON holds it: dates as YYYY-MM-DD."""
    return {k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in metadata.items()}


def ask_result(answer: Answer) -> AskResult:
    short = answer.short_answer
    return AskResult(
        question=answer.question, query=answer.query, answer=answer.text, abstained=answer.abstained,
        short_answer=ShortAnswer(**short.to_dict()) if short else None,
        confidence=answer.confidence, conflict=answer.conflict, unmentioned=list(answer.unmentioned),
        reason=answer.reason or None,
        conflict_values=[ConflictValue(text=v.text, source=v.source, markers=list(v.markers)) for v in answer.conflict_values],
        citations=[Quote(marker=c.marker, source=c.source, start=c.start, end=c.end, page=c.page, quote=c.quote)
                   for c in answer.citations],
        withheld=["; ".join(claim.problems) for claim in answer.withheld],
        passages=[passage(hit) for hit in answer.passages],
    )  # fmt: skip


def run_stdio(server: MCPServer) -> None:
    """Serve `server` over stdin and stdout until stdin closes (what `server.run("stdio")` does, except
    that a line the SDK's transport cannot read is answered with its JSON-RPC error, not dropped)."""
    anyio.run(serve_stdio, server)


async def serve_stdio(server: MCPServer) -> None:
    lowlevel = server._lowlevel_server  # private: this is MCPServer.run_stdio_async, with a relay in between
    async with stdio_server() as (incoming, outgoing):
        relayed, received = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def relay() -> None:
            async with relayed:
                async for item in incoming:
                    if not isinstance(item, Exception):
                        await relayed.send(item)
                    elif (error := refusal(item)) is not None:
                        await outgoing.send(SessionMessage(error))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(relay)
            await lowlevel.run(received, outgoing, lowlevel.create_initialization_options())


def refusal(error: Exception) -> JSONRPCError | None:
    """The JSON-RPC error for a line the transport could not read as one message: -32700 when it is
    not JSON, -32600 when it is JSON but not a message (a batch array, an object with no method);
    None for a blank line, which is no message at all."""
    kind, sent = "json_invalid", None  # anything but pydantic's verdict on the line: it was not read
    if isinstance(error, ValidationError) and error.errors():
        kind, sent = error.errors()[0]["type"], error.errors()[0].get("input")
    if kind == "json_invalid":
        if isinstance(sent, str) and not sent.strip():
            return None
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error: not JSON"))
    ident = sent.get("id") if isinstance(sent, dict) else None
    return JSONRPCError(jsonrpc="2.0", id=ident if isinstance(ident, (str, int)) and not isinstance(ident, bool) else None,
                        error=ErrorData(code=INVALID_REQUEST, message=BATCH if isinstance(sent, list) else NOT_A_MESSAGE))


def http_lifespan(server: MCPServer, *, path: str = "/mcp", host: str = "127.0.0.1",
                  check: Callable[[str, str], bool] | None = None):
    """A lifespan for a Starlette or FastAPI app (Gradio's included) that serves `server` over
    streamable HTTP at `path` of that app while it runs. With `check(user, password)`, every request
    needs HTTP Basic credentials it accepts. On a loopback `host` the SDK also refuses requests whose
    Host or Origin header is not loopback (DNS rebinding)."""
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    endpoint = BasicAuth(NoBatches(app), check) if check else NoBatches(app)

    @asynccontextmanager
    async def lifespan(parent):
        parent.router.routes.insert(0, Route(path, endpoint=endpoint))  # ahead of the parent's catch-all routes
        async with app.router.lifespan_context(app):  # the SDK's session manager
            yield

    return lifespan


class BasicAuth:
    """ASGI wrapper: a request without `Authorization: Basic` credentials that `check` accepts is a 401."""

    def __init__(self, app, check: Callable[[str, str], bool]):
        self.app, self.check = app, check

    async def __call__(self, scope, receive, send) -> None:
        header = Headers(scope=scope).get("authorization", "")
        if not await anyio.to_thread.run_sync(self.accepts, header):  # scrypt: off the event loop
            response = PlainTextResponse("log in: send HTTP Basic credentials of a `rag serve --auth` user", 401,
                                         headers={"WWW-Authenticate": 'Basic realm="rag", charset="UTF-8"'})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def accepts(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return bool(colon) and self.check(user, password)


class NoBatches:
    """ASGI wrapper: a POST whose body is a JSON array (a JSON-RPC batch, which MCP does not take) is a
    400 with a -32600 error (the SDK would call it invalid params, -32602, in a long pydantic text);
    any other request goes on with its body as it came."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        held = []  # the body's messages read so far, up to its first byte that is not white space
        while True:
            message = await receive()
            held.append(message)
            start = message.get("body", b"").lstrip()
            if start or message["type"] != "http.request" or not message.get("more_body"):
                break
        if start.startswith(b"["):
            error = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message=BATCH))
            await JSONResponse(error.model_dump(by_alias=True, exclude_unset=True), 400)(scope, receive, send)
            return

        async def replay():
            return held.pop(0) if held else await receive()

        await self.app(scope, replay, send)
