"""Titles and section headings in plain text, so that a chunk or a sentence can carry the heading
it stands under ("Day Two (25 June 2025): Consultations ...") as context.

A sentence under a heading often leaves out what the heading says: "Four sessions were held as
follows:" under "Day Two" answers "what was held on the second day?". The heading is context only:
it is embedded and searched with its chunk and read by the answerer, and quoted only at its own
place in the document (`located`), never as if it were the chunk's text.
"""

from __future__ import annotations

import re
from bisect import bisect_right

LINE = re.compile(r"[^\n]+")
MAX_TITLE_WORDS = 24  # a first line longer than this is a lede, not a title
MAX_HEADING_WORDS = 16
# A heading never ends as prose does; wider than rag.text.ENDS_SENTENCE on purpose (":" "," ";" too)
ENDS_PROSE = re.compile(r"[.!?:;,\"“”'‘’)\]]\s*$")
STARTS_DATELINE = re.compile(r"^\s*(?:date \d{4}-\d{2}-\d{2}\b|[A-Z][A-Z.’'-]+(?: [A-Z][A-Z.’'-]+)*(?:, [^:]{0,30})?\s*:)")
WORD = re.compile(r"[A-Za-z][\w’'-]*")


def title(text: str) -> tuple[int, int] | None:
    """The span of the document's first line when it reads as a title: short, its own line, and
    not a news dateline ("KUALA LUMPUR: ...")."""
    match = LINE.search(text)
    while match and not match.group().strip():
        match = LINE.search(text, match.end())
    if not match or match.end() >= len(text.rstrip()):
        return None  # a one-line document has no title apart from its text
    line = match.group()
    if len(line.split()) > MAX_TITLE_WORDS or STARTS_DATELINE.match(line):
        return None
    lead = len(line) - len(line.lstrip())
    return match.start() + lead, match.start() + len(line.rstrip())


def _capitalized_share(line: str) -> float:
    words = [w for w in WORD.findall(line) if len(w) > 3]
    return sum(w[0].isupper() for w in words) / len(words) if words else 0.0


def headings(text: str) -> list[tuple[int, int]]:
    """Spans of the lines that read as section headings: short, no closing punctuation, mostly
    capitalized words; a line right after one that opens a list ("...as follows:") or continues
    it is a list item unless every long word is capitalized."""
    spans = []
    previous = ""  # the last non-empty line
    for match in LINE.finditer(text):
        line = match.group().strip()
        if not line:
            continue
        words = len(line.split())
        if 1 < words <= MAX_HEADING_WORDS and not ENDS_PROSE.search(line):
            share = _capitalized_share(line)
            after_sentence = not previous or bool(re.search(r"[.!?\"”’]\s*$", previous))
            if share == 1.0 or (share >= 0.6 and after_sentence):
                lead = len(match.group()) - len(match.group().lstrip())
                spans.append((match.start() + lead, match.start() + lead + len(line)))
        previous = line
    return spans


def located(chunk, text: str) -> list[tuple[int, int]]:
    """Where the lines of a chunk's heading (its title and section heading: context, written
    before the chunk) stand in its document's `text`: the last place each is written before the
    chunk starts. A line not found there is left out."""
    out = []
    for line in chunk.heading.split("\n"):
        at = text.rfind(line, 0, chunk.start) if line.strip() else -1
        if at >= 0:
            out.append((at, at + len(line)))
    return out


class Outline:
    """A document's title and headings, to ask which heading a given offset stands under. A table
    row (`rows`: spans of the text) is never a heading, however short its cells."""

    def __init__(self, text: str, rows: tuple[tuple[int, int], ...] = ()):
        self.text = text
        self.title = title(text)
        in_rows = {start for start, _ in rows}
        self.heads = [h for h in headings(text) if h != self.title and h[0] not in in_rows]
        self._starts = [s for s, _ in self.heads]

    def context(self, offset: int) -> str:
        """The title and the nearest heading above `offset`, each left out when it starts at or
        after `offset` (a chunk that opens with its heading holds it already)."""
        parts = []
        if self.title and self.title[0] < offset:
            parts.append(self.text[self.title[0] : self.title[1]])
        i = bisect_right(self._starts, offset - 1) - 1
        if i >= 0 and self.heads[i][0] < offset:
            parts.append(self.text[self.heads[i][0] : self.heads[i][1]])
        return "\n".join(parts)
