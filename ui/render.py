"""HTML for the chat UI: answers with their cited quotes, retrieved passages, the source viewer.

Pure functions from `rag.types` records to HTML strings; no Gradio here. Every piece of
document or model text goes through `html.escape`, so a document cannot inject markup. A document
is named by its title, its file name small beside it; the page never holds a server path (links
carry `doc_key(source)`, which the app maps back).
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import PurePath
from urllib.parse import urlencode

from rag.answer.flow import NOT_FOUND, unmentioned_note
from rag.ingest.metadata import real_title
from rag.types import Answer, Citation, Document, Hit

CONTEXT_CHARS = 160  # characters of surrounding text shown on each side of a quote
VIEWER_WINDOW = 40_000  # the viewer shows at most this many characters around the quote
MARKER = re.compile(r"\[(\d+)\]")
OPEN_PREFIX = "rq-open?"  # links to a source span look like #rq-open?source=...&start=...&end=...


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def short_name(source: str) -> str:
    return PurePath(source).name or source


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """"1 passage", "2 passages"."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"


def doc_key(source: str) -> str:
    """What the page knows a document by: a digest of its source, never the server's path."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def real(title: object) -> str:
    """A title worth showing: not a placeholder an older index may still hold ("about:blank")."""
    return str(title) if title and real_title(title) else ""


def title_of(doc: Document | None) -> str:
    return real(doc.metadata.get("title")) if doc is not None else ""


def doc_name(source: str, title: str = "") -> str:
    """A document as the page names it: its title, else its file name."""
    return real(title) or short_name(source)


def doc_html(source: str, title: str = "") -> str:
    """The document's title (its file name where it has none), then its file name small."""
    title = real(title)
    name = f'<span class="rq-title">{esc(title)}</span> ' if title else ""
    return f'<span class="rq-doc">{name}<span class="rq-src">{esc(short_name(source))}</span></span>'


def source_link(source: str, start: int, end: int, label: str, css: str = "rq-open", title: str = "") -> str:
    """A link the page script turns into "open this span in the source viewer".

    The span rides in the link's fragment: the chat's HTML sanitizer keeps `href` but drops data-* attributes.
    """
    query = urlencode({"doc": doc_key(source), "start": int(start), "end": int(end)})
    tip = f"Read this passage in {doc_name(source, title)}"
    return f'<a class="{css}" href="#{OPEN_PREFIX}{esc(query)}" title="{esc(tip)}">{label}</a>'


def _flat(text: str) -> str:
    return " ".join(text.split())


def _context(doc: Document | None, start: int, end: int, quote: str) -> tuple[str, str]:
    """Up to CONTEXT_CHARS of text before and after the quote, cut at word boundaries."""
    if doc is None or doc.text[start:end] != quote:
        return "", ""
    before = doc.text[max(0, start - CONTEXT_CHARS) : start]
    after = doc.text[end : end + CONTEXT_CHARS]
    if start > CONTEXT_CHARS and " " in before:
        before = "…" + before.split(" ", 1)[1]
    if end + CONTEXT_CHARS < len(doc.text) and " " in after:
        after = after.rsplit(" ", 1)[0] + "…"
    return _flat(before), _flat(after)


def found_html(citation: Citation, title: str) -> str:
    """What was checked about one quote: that it stands, word for word, in the document."""
    name = f"<i>{esc(title)}</i>" if title else f'<i class="rq-src">{esc(short_name(citation.source))}</i>'
    where = name + (f", p. {citation.page}" if citation.page else "")
    if citation.verified:
        tip = "This quote was found word for word in the document; read it to judge whether it answers"
        return f'<span class="rq-found" title="{tip}">found in {where}</span>'
    return f'<span class="rq-bad" title="This quote could not be found in the document">not found in {where}</span>'


def ocr_badge(confidence: float | None) -> str:
    """Says that a quote or passage was read by OCR from a page image, and how sure the OCR was."""
    if confidence is None:
        return ""
    return f' <span class="rq-meta rq-ocr" title="read by OCR from a page image">OCR {confidence:.2f}</span>'


def citation_html(citation: Citation, doc: Document | None) -> str:
    before, after = _context(doc, citation.start, citation.end, citation.quote)
    title = title_of(doc)
    head = (
        f'<span class="rq-marker">[{citation.marker}]</span> {found_html(citation, title)}'
        f'{ocr_badge(doc.ocr_at(citation.start, citation.end) if doc is not None else None)}'
        + (f' <span class="rq-src">{esc(short_name(citation.source))}</span>' if title else "")
    )
    quote = esc(_flat(citation.quote))
    if before or after:
        spaced_before = f"{esc(before)} " if before else ""
        spaced_after = f" {esc(after)}" if after else ""
        mark = source_link(citation.source, citation.start, citation.end, f"<mark>{quote}</mark>", "rq-quote", title)
        body = f"{spaced_before}{mark}{spaced_after}"
    elif quote:
        body = f"“<mark>{quote}</mark>”"
    else:
        body = "(no quote: the source file changed since it was indexed)"
    link = source_link(citation.source, citation.start, citation.end, "read in the document ↗", title=title) if doc is not None else ""
    return f'<div class="rq-cite"><div class="rq-cite-head">{head} {link}</div><div class="rq-ctx">{body}</div></div>'


def _answer_text(text: str) -> str:
    escaped = esc(text.strip()).replace("\n", "<br>")
    return MARKER.sub(r'<sup class="rq-ref">[\1]</sup>', escaped)


def query_note(question: str, query: str) -> str:
    """Names the standalone query when a follow-up was rewritten before searching."""
    if not query or _flat(query).lower() == _flat(question).lower():
        return ""
    return f'<div class="rq-query">Searched for: “{esc(_flat(query))}”</div>'


DRAFT_LABEL = "Draft: not yet checked against the documents"


def pending_html(question: str, query: str = "", partial: str = "") -> str:
    """The assistant message while an answer streams in. An LLM's tokens arrive before verification,
    so they are shown under a draft label, in their own style, until the checked answer replaces them."""
    note = query_note(question, query)
    if partial:
        cursor = '<span class="rq-cursor">▍</span>'
        label = f'<div class="rq-draft-label">{DRAFT_LABEL}</div>'
        return f'<div class="rq-msg">{note}<div class="rq-draft">{label}{_answer_text(partial)}{cursor}</div></div>'
    step = "Reading the passages…" if query else "Searching the documents…"
    return f'<div class="rq-msg">{note}<div class="rq-pending">{step}</div></div>'


def status_html(answer: Answer) -> str:
    """The answer's own status, apart from its quotes' checks: what backs it, or why it is not confirmed.
    Never a tick: a quote found in a document does not make the answer right."""
    n = sum(c.verified for c in answer.citations)
    if answer.abstained:
        return '<div class="rq-status-line rq-unsure">Could not confirm an answer in the documents; the nearest passages are below.</div>'
    if not n:
        return '<div class="rq-status-line rq-unsure">Could not confirm: no quote from the documents backs this answer.</div>'
    if answer.unmentioned:
        text = unmentioned_note(answer.unmentioned)
        return f'<div class="rq-status-line rq-unsure rq-unmentioned">Could not confirm: {esc(text)}</div>'
    if answer.conflict:
        return ('<div class="rq-status-line rq-unsure rq-conflict">The documents disagree: each source is quoted below; '
                'read them before relying on one.</div>')
    read = "read it" if n == 1 else "read them"
    return (f'<div class="rq-status-line rq-supported">Answer supported by {plural(n, "quote")} from the documents: '
            f'{read} to judge whether the answer is right.</div>')


def answer_html(answer: Answer, documents: dict[str, Document | None]) -> str:
    """The finished assistant message: the short answer, the answer, its status, then each quote in
    its context with the document it was found in.

    An abstention is never dressed as an answer: it says "Not in the documents" and lists
    the nearest passages as what they are.
    """
    note = query_note(answer.question, answer.query)
    if answer.abstained:
        said = "" if answer.text.strip() == NOT_FOUND else f'<div class="rq-abstain-text">{esc(answer.text.strip())}</div>'
        why = f'<div class="rq-abstain-why">Why: {esc(answer.reason)}.</div>' if answer.reason else ""
        near = "".join(passage_html(h, snippet=220) for h in answer.passages[:3])
        if near:
            near = f'<div class="rq-near-title">Nearest passages (they do not answer the question):</div>{near}'
        return (
            f'<div class="rq-msg">{note}<div class="rq-abstain">'
            f'<div class="rq-abstain-title">Not in the documents</div>{status_html(answer)}{said}{why}{near}</div>'
            f'{withheld_html(answer)}</div>'
        )
    cites = "".join(citation_html(c, documents.get(c.source)) for c in answer.citations)
    if cites:
        cites = f'<div class="rq-cites"><div class="rq-cites-title">{plural(len(answer.citations), "quote")}</div>{cites}</div>'
    head = ""
    if answer.short_answer:
        head = f'<div class="rq-short">{esc(answer.short_answer.text)}</div>'
    elif answer.conflict_values:  # the documents disagree: every side's value, none first as *the* answer
        sides = " · ".join(f'{esc(v.text)} <span class="rq-conflict-marks">{"".join(f"[{m}]" for m in v.markers)}</span>'
                           for v in answer.conflict_values)
        head = f'<div class="rq-short rq-conflict-values">{sides}</div>'
    body = f'<div class="rq-answer">{_answer_text(answer.text)}</div>'
    return f'<div class="rq-msg">{note}{head}{body}{status_html(answer)}{cites}{withheld_html(answer)}</div>'


def withheld_html(answer: Answer) -> str:
    """The claims verification rejected, apart from the answer and marked as unsupported."""
    if not answer.withheld:
        return ""
    items = "".join(
        f'<li><span class="rq-withheld-text">{esc(c.text)}</span>'
        f'<span class="rq-withheld-why">{esc("; ".join(p.split(": “")[0] for p in c.problems))}</span></li>'
        for c in answer.withheld
    )
    return (f'<details class="rq-withheld"><summary>{plural(len(answer.withheld), "sentence")} left out: '
            f'not supported by the documents</summary><ul>{items}</ul></details>')


def error_html(message: str) -> str:
    return f'<div class="rq-msg"><div class="rq-error">⚠ {esc(message)}</div></div>'


def _ranks(hit: Hit) -> str:
    parts = [f"{k.removesuffix('_rank')} #{v}" for k, v in hit.scores.items() if k.endswith("_rank")]
    return f" · {', '.join(parts)}" if parts else ""


def passage_html(hit: Hit, snippet: int = 420) -> str:
    """One retrieved passage: its document by title, page, section and text; how it ranked only in a fold."""
    c = hit.chunk
    text = _flat(c.text)
    if len(text) > snippet:
        text = text[:snippet].rsplit(" ", 1)[0] + "…"
    where = f"p. {c.page}" if c.page else ""
    if c.ocr and c.ocr_confidence is not None:
        where += f"{' · ' if where else ''}read by OCR, confidence {c.ocr_confidence:.2f}"
    link = source_link(c.source, c.start, c.end, "read ↗", title=c.title)
    head = f'<div class="rq-passage-head">{doc_html(c.source, c.title)}{link}</div>'
    if where:
        head += f'<div class="rq-meta">{where}</div>'
    if c.heading:  # the section it stands under, which the passage itself may not say
        head += f'<div class="rq-meta rq-under">under “{esc(c.heading.splitlines()[-1])}”</div>'
    details = (f'<details class="rq-details"><summary>Details</summary><span class="rq-meta">rank {hit.rank} · '
               f'score {hit.score:.4f}{esc(_ranks(hit))}</span></details>')
    return f'<div class="rq-passage">{head}<div class="rq-passage-text">{esc(text)}</div>{details}</div>'


def passages_html(hits, query: str = "") -> str:
    if not hits:
        return '<div class="rq-empty">Ask a question to see the passages it was answered from.</div>'
    title = ""
    if query:
        title = f'<div class="rq-panel-note">{plural(len(hits), "passage")} found for “{esc(_flat(query))}”</div>'
    return title + "".join(passage_html(h) for h in hits)


def document_html(doc: Document | None, source: str, start: int = 0, end: int = 0, above: str = "") -> str:
    """The full source text with [start, end) highlighted; the page script scrolls to the highlight.
    `above`: HTML shown above the text (a PDF's page with the quote highlighted: ui.pages)."""
    if doc is None:
        return f'<div class="rq-empty">{esc(short_name(source))} is no longer in the index.</div>'
    text = doc.text
    start = max(0, min(int(start), len(text)))
    end = max(start, min(int(end), len(text)))
    lo, hi = 0, len(text)
    if len(text) > VIEWER_WINDOW:
        lo = max(0, start - VIEWER_WINDOW // 2)
        hi = min(len(text), max(end, lo + VIEWER_WINDOW))
    page = doc.page_at(start)
    page_note = f" · p. {page}" if page else ""
    shown = f" · showing characters {lo:,}–{hi:,}" if (lo, hi) != (0, len(text)) else ""
    head = (
        f'<div class="rq-doc-head">{doc_html(source, title_of(doc))}'
        f'<span class="rq-meta">{len(text):,} characters{page_note}{shown}</span></div>'
    )
    body = esc(text[lo:start])
    if end > start:
        body += f'<mark id="rq-target" class="rq-target">{esc(text[start:end])}</mark>'
    body += esc(text[end:hi])
    return f'{head}{above}<div class="rq-doc-text">{body}</div>'


def viewer_placeholder() -> str:
    return '<div class="rq-empty">Open a citation or a passage to read it in its source document.</div>'
