"""`rag serve`: the Gradio chat UI over an index, bound to loopback unless told otherwise.

Off loopback it refuses to start without logins (`--auth FILE` or RAG_AUTH) unless the operator
says `--trust-network`. `--add-user NAME --auth FILE` writes a hashed password and exits.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import sys

from ..answer.answerers import EXTRACTIVE, check_spec
from ..errors import ConfigError, MissingDependencyError
from . import common, settings_from


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="start the web UI (chat with cited quotes, document upload)",
        epilog="Users: `rag serve --add-user NAME --auth users.txt` reads the password from stdin (asks twice on a "
               "terminal) and writes NAME:scrypt-hash into users.txt (mode 0600); then `rag serve --auth users.txt`.",
    )  # fmt: skip
    p.add_argument("--host", default=os.environ.get("RAG_HOST", "127.0.0.1"),
                   help="address to bind (default: %(default)s; off loopback it needs --auth or --trust-network)")
    p.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT", "7860")), help="port (default: %(default)s)")
    p.add_argument("--llm", default=os.environ.get("RAG_LLM"), help="answer with an LLM, e.g. openai:gpt-4o-mini (default: extractive, no LLM)")
    p.add_argument("-k", type=int, help="passages to retrieve per question (default 5)")
    p.add_argument("--auth", metavar="FILE",
                   help="require a login: users from FILE, one user:hash line each (default: the lines in env RAG_AUTH)")
    p.add_argument("--add-user", metavar="NAME",
                   help="add NAME to the --auth FILE (or change its password), reading the password from stdin; then exit")
    p.add_argument("--read-only", action="store_true",
                   help="no upload or remove: the Documents tab only lists the documents")
    p.add_argument("--allow-llm", action="append", metavar="SPEC",
                   help="an answerer spec clients may choose; repeatable (default: the three extractive ones; "
                        "the --llm one is always allowed)")
    p.add_argument("--mcp", action="store_true",
                   help="also serve the MCP tools (ask, search, list_documents) over streamable HTTP at /mcp of the same "
                        "port; with --auth an MCP client sends HTTP Basic credentials of one of its users")
    p.add_argument("--trust-network", action="store_true",
                   help="serve off loopback without logins: anyone who reaches the port can read and change the index")
    common(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ui.auth import Users, add_user

    if args.add_user is not None:  # an empty name too: it is refused, never taken as no --add-user
        if not args.auth:
            raise ConfigError("--add-user needs the user file: rag serve --add-user NAME --auth FILE")
        replaced = add_user(args.auth, args.add_user, read_password())
        print(f"{'changed the password of' if replaced else 'added'} user {args.add_user} in {args.auth}")
        return 0
    users = Users.from_file(args.auth) if args.auth else None
    if users is None and os.environ.get("RAG_AUTH"):
        users = Users(os.environ["RAG_AUTH"], origin="RAG_AUTH")
    if not loopback(args.host) and users is None and not args.trust_network:
        raise ConfigError(
            f"refusing to serve on {args.host} without logins: add --auth FILE (see --add-user), or --trust-network"
        )
    allow = [check_spec(spec) for spec in (args.allow_llm or EXTRACTIVE)]

    try:
        from ui.app import serve
    except ImportError as err:
        if (err.name or "").split(".")[0] not in ("gradio", "gradio_client"):
            raise
        raise MissingDependencyError("the web UI (gradio)", "pip install 'rag-quotes[ui]'") from err

    if args.mcp:
        from .mcp import mcp_server

        mcp_server()  # the SDK is there, or one line saying how to install it
    settings = settings_from(args, answerer=args.llm or "extractive")
    if users is None and not loopback(args.host):
        warning = f"warning: serving on {args.host} with no login: anyone who can reach it can read and change the index"
        print(warning, file=sys.stderr)
    if args.mcp:
        login = " (HTTP Basic login of a --auth user)" if users else ""
        print(f"MCP (streamable HTTP): http://{args.host}:{args.port}/mcp{login}", file=sys.stderr)
    serve(settings, host=args.host, port=args.port, users=users, read_only=args.read_only, allow=allow, mcp=args.mcp)
    return 0


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_password() -> str:
    """The new password: asked twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ; nothing was written")
        return password
    return sys.stdin.readline().rstrip("\r\n")
