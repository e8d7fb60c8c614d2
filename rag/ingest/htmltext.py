"""An HTML page's visible text in one pass over its tags: time and memory linear in the page,
however deep its nesting, however many tags are left open or unterminated ("<a<a<a..." is one tag,
as a browser reads it; the standard library's parser takes quadratic time on it). Block elements
start lines; hidden elements (scripts, navigation, page furniture) are left out with everything
inside them. No tree is built.
"""

from __future__ import annotations

import html
import re
from collections import Counter

from .budget import Deadline

# Elements whose text a reader never sees as content.
HIDDEN = frozenset(("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "svg", "iframe"))
BLOCKS = frozenset(("p", "div", "li", "tr", "br", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre",
                    "blockquote", "table", "ul", "ol", "title"))
# Elements that never hold content, so never stay open.
VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"))
RAW = ("script", "style")  # their content is text up to their end tag, never tags
TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")
# a tag's attributes up to its ">": a quoted value may hold ">" (unterminated, it runs to the end, as in a browser)
ATTRIBUTES = re.compile(r"""(?:[^>"']+|"[^"]*"?|'[^']*'?)*""")
NAVIGATION = re.compile(r"""(?:^|\s)role\s*=\s*(["']?)navigation\1(?=[\s/]|$)""", re.IGNORECASE)
RAW_END = {tag: re.compile(rf"</{tag}(?=[\s/>])", re.IGNORECASE) for tag in RAW}


class _Text:
    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.open: list[tuple[str, bool]] = []  # (tag, hides its content) of each open element
        self.count: Counter[str] = Counter()  # open elements by tag: an end tag with none open is ignored at once
        self.hidden = 0  # open elements that hide their content

    def data(self, text: str) -> None:
        if text and not self.hidden:
            self.pieces.append(html.unescape(text))

    def start(self, tag: str, attributes: str, closed: bool) -> None:
        hides = tag in HIDDEN or bool(NAVIGATION.search(attributes))
        if tag in BLOCKS and not self.hidden:
            self.pieces.append("\n")
        if tag in VOID or closed:
            return
        self.open.append((tag, hides))
        self.count[tag] += 1
        self.hidden += hides

    def end(self, tag: str) -> None:
        if not self.count[tag]:
            return  # closes nothing open: ignored, as browsers do
        while self.open:  # closes it and whatever was left open inside it; each element is closed once
            name, hides = self.open.pop()
            self.count[name] -= 1
            self.hidden -= hides
            if name in BLOCKS and not self.hidden:
                self.pieces.append("\n")
            if name == tag:
                break


def html_to_text(page: str, deadline: Deadline | None = None) -> str:
    """The visible text, one line per block, runs of white space as one space, blank lines left out."""
    out = _Text()
    pos, n = 0, len(page)
    while pos < n:
        if deadline:
            deadline.tick()
        lt = page.find("<", pos)
        if lt < 0:
            out.data(page[pos:])
            break
        out.data(page[pos:lt])
        if page.startswith("<!--", lt):  # a comment, to its end (an unterminated one to the page's end)
            close = page.find("-->", lt + 4)
            pos = n if close < 0 else close + 3
            continue
        if page.startswith("<![CDATA[", lt):
            close = page.find("]]>", lt + 9)
            out.data(page[lt + 9 : n if close < 0 else close])
            pos = n if close < 0 else close + 3
            continue
        tag = TAG.match(page, lt)
        if tag is None:
            if page.startswith(("<!", "<?", "</"), lt):  # a declaration, processing instruction or bogus end tag
                close = page.find(">", lt)
                pos = n if close < 0 else close + 1
            else:  # "a < b": text
                out.data("<")
                pos = lt + 1
            continue
        attributes = ATTRIBUTES.match(page, tag.end())
        stop = attributes.end() if attributes else tag.end()
        pos = n if stop >= n else stop + 1  # past the ">"; a tag left open at the end is dropped, as in a browser
        if stop >= n:
            break
        name, text = tag.group(2).lower(), page[tag.end() : stop]
        if tag.group(1):
            out.end(name)
            continue
        out.start(name, text, text.endswith("/"))
        if name in RAW and not text.endswith("/"):
            close_at = RAW_END[name].search(page, pos)
            end = n if close_at is None else close_at.start()
            out.data(page[pos:end])
            out.end(name)
            gt = -1 if close_at is None else page.find(">", close_at.end())
            pos = n if gt < 0 else gt + 1
    lines = (" ".join(line.split()) for line in "".join(out.pieces).splitlines())
    return "\n".join(line for line in lines if line)
