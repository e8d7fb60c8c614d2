"""Answerer specs: the one string that names an answerer ("extractive", "openai:gpt-4o-mini", ...).

Checked when `Settings` is made, and again for any spec a client asks for, so a typo fails at once
with the list of what is known, and a server can hold clients to the specs its operator allows.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable

from ..errors import ConfigError

EXTRACTIVE = ("extractive", "extractive:strict", "extractive:reader")  # the answerers that need no LLM
PROVIDERS = ("openai", "ollama", "gguf")


DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


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


def is_dotted(spec: str) -> bool:
    """"package.module:Name": a custom answerer (or LangChain chat model) made by calling Name()."""
    return bool(DOTTED.fullmatch(spec)) and spec.partition(":")[0] not in PROVIDERS and "." in spec.partition(":")[0]


def resolve_dotted(spec: str) -> object:
    """The object a dotted spec names, called if it is a class or function (no arguments)."""
    module_name, _, attribute = spec.partition(":")
    try:
        found = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot load the answerer '{spec}': {err}") from err
    if isinstance(found, type) or (callable(found) and not hasattr(found, "stream")):
        return found()  # a class or a factory function
    return found


def as_answerer(part: object, context_tokens: int, name: str | None = None):
    """An answerer for an injected object: an `Answerer` as it is, a LangChain chat model wrapped
    so that it answers from the passages with [n] citations (verified like every answer)."""
    try:
        from langchain_core.language_models import BaseChatModel
    except ImportError:  # pragma: no cover - without langchain-core no chat model can be passed
        pass
    else:
        if isinstance(part, BaseChatModel):
            from .llm import LLMAnswerer

            return LLMAnswerer(name or f"langchain:{type(part).__name__}", part, context_tokens)
    if callable(getattr(part, "stream", None)) and isinstance(getattr(part, "name", None), str):
        return part
    raise ConfigError(f"{type(part).__name__} is not an answerer: give an object with `name` and "
                      "`stream(question, passages)`, a LangChain chat model, or a spec string")


def allowed(spec: str | None, allow: Iterable[str], default: str) -> str:
    """The spec a client asked for (None or empty: the server's default), if the operator allows it."""
    spec = (spec or "").strip() or default
    check_spec(spec)
    allow = tuple(allow)
    if spec not in allow:
        raise ConfigError(f"answerer '{spec}' is not offered by this server; choose one of: {', '.join(allow)}")
    return spec
