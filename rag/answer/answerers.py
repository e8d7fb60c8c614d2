"""Answerer specs: the one string that names an answerer ("extractive", "openai:gpt-4o-mini", ...).

Checked when `Settings` is made, and again for any spec a client asks for, so a typo fails at once
with the list of what is known, and a server can hold clients to the specs its operator allows.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ConfigError
from ..parts import is_dotted, load

EXTRACTIVE = ("extractive", "extractive:strict", "extractive:reader")  # the answerers that need no LLM
PROVIDERS = ("openai", "ollama", "gguf")


def check_spec(spec: object) -> str:
    """The spec, or a one-line ConfigError naming the forms that are known."""
    if isinstance(spec, str) and spec in EXTRACTIVE:
        return spec
    if isinstance(spec, str):
        provider, _, name = spec.partition(":")
        if provider in PROVIDERS and name.strip():
            return spec
        if is_dotted(spec):
            return spec
    raise ConfigError(
        f"unknown answerer '{spec}'; use extractive, extractive:strict, extractive:reader, one of: openai:MODEL, "
        "ollama:MODEL, gguf:PATH, or a dotted path module.name:Factory"
    )


def resolve_dotted(spec: str) -> object:
    """The object a dotted spec names, called if it is a class or function (no arguments)."""
    found = load(spec, "answerer")
    if isinstance(found, type) or (callable(found) and not hasattr(found, "stream")):
        return found()  # a class or a factory function
    return found


def allowed(spec: str | None, allow: Iterable[str], default: str) -> str:
    """The spec a client asked for (None or empty: the server's default), if the operator allows it."""
    spec = (spec or "").strip() or default
    check_spec(spec)
    allow = tuple(allow)
    if spec not in allow:
        raise ConfigError(f"answerer '{spec}' is not offered by this server; choose one of: {', '.join(allow)}")
    return spec
