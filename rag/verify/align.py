"""Edit distance and approximate search: where a quote stands in a text that differs from the one
it was copied from by a few characters (an OCR'd copy of the same document)."""

from __future__ import annotations

import numpy as np


def _last_row(needle: str, haystack: str, *, free_start: bool) -> np.ndarray:
    """The last row of the Levenshtein table of `needle` against `haystack`, one row at a time in
    numpy; with `free_start` the match may begin anywhere in `haystack` (semi-global alignment)."""
    codes = np.frombuffer(haystack.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(haystack) + 1)
    row = np.zeros(len(haystack) + 1, dtype=np.int64) if free_start else steps.astype(np.int64)
    for i, char in enumerate(needle, start=1):
        cost = (codes != ord(char)).astype(np.int64)
        best = np.empty_like(row)
        best[0] = i
        best[1:] = np.minimum(row[1:] + 1, row[:-1] + cost)
        row = np.minimum.accumulate(best - steps) + steps  # insertions run along the row
    return row


def edit_distance(a: str, b: str) -> int:
    if not a or not b:
        return len(a) + len(b)
    return int(_last_row(a, b, free_start=False)[-1])


def locate(needle: str, haystack: str, max_error: float = 0.1) -> tuple[int, int] | None:
    """(start, end) of `needle` in `haystack`: exactly, else the span with the fewest edits when
    those are at most `max_error` of the needle's length; None when nothing is that close."""
    exact = haystack.find(needle)
    if exact >= 0:
        return exact, exact + len(needle)
    if not needle or not haystack:
        return None
    ends = _last_row(needle, haystack, free_start=True)
    end = int(np.argmin(ends))
    if ends[end] > max_error * len(needle):
        return None
    window = max(0, end - 2 * len(needle))
    backwards = _last_row(needle[::-1], haystack[window:end][::-1], free_start=True)
    return end - int(np.argmin(backwards)), end
