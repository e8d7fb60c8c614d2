"""Pluggable parts, chosen the same way everywhere: a registry name, or a dotted path.

Each swappable part has a Protocol in its stage's package and a plain dict of built-in names:
    embedder  rag.embed.embedders.Embedder      EMBEDDERS  (Settings.embedding_backend; Rag(embedder=))
    reranker  rag.search.rerank.Reranker        RERANKERS  (Settings.reranker; Rag(reranker=))
    store     rag.store.backend.IndexBackend    BACKENDS   (Settings.store)
    answerer  rag.answer.flow.Answerer          rag.answer.answerers (Settings.answerer; Rag(answerer=))
Anything else is named by a dotted path "package.module:Name", imported when chosen: no registry
is edited to add a part.
"""

from __future__ import annotations

import importlib
import re

from .errors import ConfigError

DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def is_dotted(spec: object) -> bool:
    """"package.module:Name" (the module part holds at least one dot)."""
    return isinstance(spec, str) and bool(DOTTED.fullmatch(spec))


def load(spec: str, what: str) -> object:
    """The object a dotted path names (not called), or a one-line ConfigError saying what failed."""
    module_name, _, attribute = spec.partition(":")
    try:
        found: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot load the {what} '{spec}': {err}") from err
    return found


def unknown(what: str, spec: object, known: object) -> ConfigError:
    """The error for a name no registry knows: the known names, and the dotted form."""
    names = ", ".join(str(k) for k in known)  # type: ignore[attr-defined]
    return ConfigError(f"unknown {what} '{spec}'; known: {names}, or a dotted path package.module:Name")
