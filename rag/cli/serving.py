"""`rag serve`: the Gradio chat UI over an index, bound to loopback unless told otherwise."""

from __future__ import annotations

import os
import sys

from ..errors import MissingDependencyError
from . import common, settings_from


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="start the web UI (chat with cited quotes, document upload)")
    p.add_argument("--host", default=os.environ.get("RAG_HOST", "127.0.0.1"), help="address to bind (default: %(default)s; 0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT", "7860")), help="port (default: %(default)s)")
    p.add_argument("--llm", default=os.environ.get("RAG_LLM"), help="answer with an LLM, e.g. openai:gpt-4o-mini (default: extractive, no LLM)")
    p.add_argument("-k", type=int, help="passages to retrieve per question (default 5)")
    common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    try:
        from ui.app import serve
    except ImportError as err:
        if (err.name or "").split(".")[0] not in ("gradio", "gradio_client"):
            raise
        raise MissingDependencyError("the web UI (gradio)", "pip install 'rag-quotes[ui]'") from err

    settings = settings_from(args, answerer=args.llm or "extractive")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}: anyone who can reach this address can read and change the index", file=sys.stderr)
    serve(settings, host=args.host, port=args.port)
    return 0
