"""`rag mcp`: the MCP server over stdio, for assistants that start it themselves (Claude Desktop, IDEs).

stdout carries the protocol; messages go to stderr. It exits when the assistant closes its stdin.
"""

from __future__ import annotations

import os

from ..errors import MissingDependencyError
from . import common, settings_from


def add_parser(sub) -> None:
    p = sub.add_parser("mcp", help="serve ask, search and list_documents to MCP assistants over stdio")
    p.add_argument("--llm", default=os.environ.get("RAG_LLM"),
                   help="answer with an LLM, e.g. openai:gpt-4o-mini (default: extractive, no LLM)")
    p.add_argument("-k", type=int, help="passages per question when the assistant gives none, 1 to 100 (default 5)")
    common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..pipeline import Rag

    server = mcp_server()
    rag = Rag(settings_from(args, answerer=args.llm or "extractive"))
    rag.documents()  # a missing or mismatched index is one line now, not an error at every call
    server.run_stdio(server.build_server(rag))
    return 0


def mcp_server():
    """rag.integrations.mcp, or a one-line error naming the install command when the MCP SDK is missing."""
    try:
        from ..integrations import mcp as mcp_server
    except ImportError as err:
        if (err.name or "").split(".")[0] not in ("mcp", "mcp_types"):
            raise
        raise MissingDependencyError("the MCP SDK (mcp)", "pip install 'rag-quotes[mcp]'") from err
    return mcp_server
