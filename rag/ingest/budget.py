"""A per-document time budget for loading and chunking: a few seconds per megabyte (with a floor),
checked as the work goes, so that a file built to stall a parser becomes one skipped file with
its reason rather than a stuck indexer. The loaders are linear in their input; this is the net
under what they have not met yet. OCR'd pages are not counted (they have their own limits).
"""

from __future__ import annotations

import time

from ..errors import LoadError

MIN_SECONDS = 10.0  # the least any document gets, however small
CHECK_EVERY = 1024  # loops check the clock this often (see `ticks`)


def too_large(source: str, chars: int, limit: int) -> LoadError:
    """The one-line error of a document whose text is longer than `Settings.max_document_chars`."""
    reason = f"document too large: {chars:,} characters of text (limit {limit:,}); split it into smaller files"
    return LoadError(source, reason)


class Deadline:
    """`check()` raises the document's `LoadError` once its budget is spent."""

    def __init__(self, source: str, size: int, seconds_per_mb: float, what: str = "reading"):
        self.source, self.what = source, what
        self.seconds = max(MIN_SECONDS, seconds_per_mb * size / 2**20)
        self.size, self.per_mb = size, seconds_per_mb
        self.ends = time.monotonic() + self.seconds
        self.ticks = 0

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise LoadError(self.source, f"{self.what} took longer than its time budget ({self.seconds:.0f} s for "
                                         f"{self.size / 2**20:.3g} MB at {self.per_mb:g} s per MB); simplify or split the file")

    def tick(self) -> None:
        """`check()` every CHECK_EVERY calls: for tight loops."""
        self.ticks += 1
        if self.ticks % CHECK_EVERY == 0:
            self.check()
