"""The exception tree. The library raises these; the CLI and UI print them as one line.

    RagError
    ├── ConfigError        unknown backend name, bad setting
    ├── LoadError          a document could not be read (empty, binary, corrupt, unsupported)
    ├── SourceChangedError a document's file is gone or changed since it was indexed (its pages cannot be shown)
    ├── IndexMismatchError the index on disk was built differently (model, dimension, format)
    ├── IndexNotFoundError no index at the given path
    ├── StoreError         the vector/chunk store failed (e.g. a database went away)
    └── AnswerError        the answerer (LLM) failed
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: every error the library raises on purpose."""


class ConfigError(RagError):
    pass


class LoadError(RagError):
    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class SourceChangedError(RagError):
    pass


class IndexMismatchError(RagError):
    pass


class IndexNotFoundError(RagError):
    pass


class StoreError(RagError):
    pass


class AnswerError(RagError):
    pass


class MissingDependencyError(RagError):
    def __init__(self, what: str, install: str):
        super().__init__(f"{what} is not installed: run `{install}`")
