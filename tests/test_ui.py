"""The Gradio app without a browser: HTML rendering, the upload/remove handlers (fast test double),
and several questions sent at once through gradio_client to a running app (real model)."""

from __future__ import annotations

import json
import threading
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, unquote

import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")

from conftest import EXTRADITION, EXTRADITION_DOC, free_port  # noqa: E402

from rag import Rag  # noqa: E402
from rag.types import Answer, Chunk, Citation, Document, Hit  # noqa: E402
from ui import render  # noqa: E402
from ui.app import build_app, launch  # noqa: E402
from ui.handlers import Handlers, safe_name  # noqa: E402

TEXT = "Preamble. The Zorblat treaty was signed in 2031 by Freedonia and Sylvania. It ends the <b>war</b>."


def _doc(source: str = "docs/zorblat.txt", text: str = TEXT) -> Document:
    return Document.from_text(source, text)


def _hit(doc: Document, start: int, end: int, rank: int = 1) -> Hit:
    chunk = Chunk(id=f"c{rank}", source=doc.source, start=start, end=end, text=doc.text[start:end], ordinal=0)
    return Hit(chunk=chunk, score=0.5 / rank, rank=rank, scores={"dense_rank": rank, "bm25_rank": 2})


# rendering --------------------------------------------------------------------------------------


def test_answer_html_shows_each_quote_in_its_context_with_a_link_to_the_span():
    doc = _doc()
    start = doc.text.index("The Zorblat")
    end = doc.text.index("Sylvania.") + len("Sylvania.")
    quote = doc.text[start:end]
    answer = Answer(
        question="who signed the zorblat treaty?",
        query="who signed the zorblat treaty?",
        text="Freedonia and Sylvania signed it [1].",
        citations=(
            Citation(1, doc.source, start, end, quote, True),
            Citation(1, doc.source, 0, 4, "a quote nobody wrote", False),
        ),
        passages=(_hit(doc, 0, len(doc.text)),),
        abstained=False,
        answerer="extractive",
    )
    html = render.answer_html(answer, {doc.source: doc})
    assert "Freedonia and Sylvania signed it" in html
    assert "Preamble. <a" in html and f"<mark>{quote}</mark>" in html  # the quote inside its surrounding text
    assert "It ends the &lt;b&gt;war&lt;/b&gt;." in html  # document text is escaped, never markup
    assert html.count('class="rq-found"') == 1 and html.count("not found in <i class=\"rq-src\">zorblat.txt</i>") == 1
    assert "Answer supported by 1 quote from the documents" in html  # the answer's status, apart from each quote's
    assert "✓" not in html and "verified" not in html  # no tick: a quote in a file does not make an answer right
    assert "Searched for" not in html  # the query was the question itself
    link = html.split('href="#rq-open?', 1)[1].split('"', 1)[0]
    span = {k: v[0] for k, v in parse_qs(unquote(link.replace("&amp;", "&"))).items()}
    assert span == {"doc": render.doc_key(doc.source), "start": str(start), "end": str(end)}
    assert "docs/zorblat.txt" not in html  # the page names a file, never its path


def test_a_quote_names_the_document_by_title_then_file_name_and_page():
    doc = Document.from_text("/srv/data/000_802fec47.txt", "River Report\n\n" + TEXT, metadata={"title": "River Report"})
    start = doc.text.index("The Zorblat")
    end = doc.text.index("Sylvania.") + len("Sylvania.")
    cite = Citation(1, doc.source, start, end, doc.text[start:end], True, page=2)
    html = render.citation_html(cite, doc)
    assert "found in <i>River Report</i>, p. 2" in html and '<span class="rq-src">000_802fec47.txt</span>' in html
    assert "/srv/data" not in html
    hit = _hit(doc, start, end)
    assert "/srv/data" not in render.passage_html(hit) and "/srv/data" not in render.document_html(doc, doc.source, start, end)
    blank = Document.from_text(doc.source, doc.text, metadata={"title": "about:blank"})  # indexed before titles were checked
    assert "about:blank" not in render.citation_html(cite, blank) and "found in <i class=\"rq-src\">000_802fec47.txt</i>" in render.citation_html(cite, blank)


def test_an_answer_whose_quotes_never_mention_a_name_of_the_question_says_so():
    doc = _doc()
    start, end = doc.text.index("The Zorblat"), doc.text.index("Sylvania.") + len("Sylvania.")
    answer = Answer("who signed the treaty with Ruritania?", "who signed the treaty with Ruritania?",
                    "Freedonia and Sylvania signed it [1].", (Citation(1, doc.source, start, end, doc.text[start:end], True),),
                    (_hit(doc, 0, len(doc.text)),), False, "extractive", unmentioned=("Ruritania",))
    html = render.answer_html(answer, {doc.source: doc})
    assert "rq-unmentioned" in html and "Could not confirm: the quoted passages never mention Ruritania" in html
    assert "Answer supported" not in html
    plain = Answer(answer.question, answer.query, answer.text, answer.citations, answer.passages, False, "extractive")
    assert "rq-unmentioned" not in render.answer_html(plain, {doc.source: doc})


def test_a_quote_read_by_ocr_says_so_with_its_confidence():
    from dataclasses import replace

    text_doc = _doc()
    start, end = text_doc.text.index("The Zorblat"), text_doc.text.index("Sylvania.") + len("Sylvania.")
    scanned = replace(text_doc, ocr=((start, end, 0.91), (end + 1, len(text_doc.text), 0.6)))
    cite = Citation(1, scanned.source, start, end, scanned.text[start:end], True, page=1)
    assert 'class="rq-meta rq-ocr"' in render.citation_html(cite, scanned) and "OCR 0.91" in render.citation_html(cite, scanned)
    assert "rq-ocr" not in render.citation_html(cite, text_doc)  # a text layer's quote carries no OCR mark
    hit = _hit(scanned, start, end)
    ocr_hit = replace(hit, chunk=replace(hit.chunk, ocr=True, ocr_confidence=0.91))
    assert "read by OCR, confidence 0.91" in render.passage_html(ocr_hit)
    assert "OCR" not in render.passage_html(hit)


def test_abstention_reads_as_not_in_the_documents_never_as_an_answer():
    doc = _doc()
    answer = Answer(
        question="and its population?",
        query="who signed the zorblat treaty: and its population?",
        text="The documents do not contain an answer to this question.",
        citations=(),
        passages=(_hit(doc, 0, 40), _hit(doc, 40, 80, rank=2)),
        abstained=True,
        answerer="extractive",
    )
    html = render.answer_html(answer, {})
    assert "Not in the documents" in html and "Could not confirm an answer in the documents" in html
    assert "rq-answer" not in html and "rq-cites" not in html and "found in" not in html and "✓" not in html
    assert "Nearest passages" in html and html.count('class="rq-passage"') == 2
    assert "Searched for: “who signed the zorblat treaty: and its population?”" in html
    assert "Why:" not in html  # no reason given, none made up
    from dataclasses import replace

    why = render.answer_html(replace(answer, reason="the nearest passage gives “2031” for <Freedonia>, not for Ruritania"), {})
    assert ('<div class="rq-abstain-why">Why: the nearest passage gives “2031” for &lt;Freedonia&gt;, not for Ruritania.</div>'
            in why)


def test_document_viewer_highlights_the_span_and_escapes_the_rest():
    doc = _doc()
    start = doc.text.index("Freedonia")
    html = render.document_html(doc, doc.source, start, start + len("Freedonia"))
    assert '<mark id="rq-target" class="rq-target">Freedonia</mark>' in html
    assert "&lt;b&gt;war&lt;/b&gt;" in html and "<b>war</b>" not in html
    assert "is no longer in the index" in render.document_html(None, "gone.txt")


def test_passages_panel_keeps_scores_and_method_ranks_in_a_fold():
    doc = _doc()
    html = render.passages_html([_hit(doc, 0, 40), _hit(doc, 40, 80, rank=2)], "zorblat")
    assert "2 passages found for “zorblat”" in html and "1 passage found" in render.passages_html([_hit(doc, 0, 40)], "z")
    details = html.split("<details")[1:]  # scores and ranks only inside a folded Details
    assert "rank 1 · score 0.5000 · dense #1, bm25 #2" in details[0] and "rank 2 · score 0.2500 · dense #2, bm25 #2" in details[1]
    assert "score" not in html.replace("".join("<details" + d for d in details), "")


def test_a_streaming_draft_is_labelled_as_not_yet_checked_until_the_answer_replaces_it():
    draft = render.pending_html("who signed it?", "who signed it?", "Freedonia and <b>Sylvania</b> [1]")
    assert "Draft: not yet checked against the documents" in draft and 'class="rq-draft"' in draft
    assert "rq-answer" not in draft and "&lt;b&gt;Sylvania&lt;/b&gt;" in draft
    assert "Draft" not in render.pending_html("who signed it?")  # before any token: "Searching the documents…"


def test_safe_name_keeps_plain_file_names_only():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name(".hidden.txt") == "hidden.txt"
    assert safe_name("my report (v2).pdf") == "my report _v2_.pdf"


# handlers over the fast test double ---------------------------------------------------------------


def _files(folder: Path, **contents: bytes) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in contents.items():
        path = folder / name.replace("_dot_", ".")
        path.write_bytes(data)
        paths.append(str(path))
    return paths


def test_upload_indexes_good_files_and_rejects_bad_ones_without_losing_anything(tmp_path, fast_settings):
    ui = Handlers(Rag(fast_settings))
    uploads = Path(fast_settings.index_path) / "uploads"

    good = _files(tmp_path / "a", zorblat_dot_txt=TEXT.encode(), notes_dot_md=b"# Notes\n\nSylvania exports cheese.\n")
    status, table, _, cleared = ui.upload(good)
    assert "✓ Added <b>zorblat.txt</b>" in status and "✓ Added <b>notes.md</b>" in status and "✗" not in status
    assert sorted(row[:2] for row in table) == [["Notes", "notes.md"], ["—", "zorblat.txt"]]  # the title (its first heading), then the file name
    assert cleared is None and sorted(p.name for p in uploads.iterdir()) == ["notes.md", "zorblat.txt"]

    bad = _files(
        tmp_path / "b",
        empty_dot_txt=b"",
        blob_dot_txt=b"\x00\x01\x02binary",
        tool_dot_exe=b"MZ\x90\x00",
        zorblat_dot_txt=b"   \n",  # an empty file must not replace the indexed one of the same name
    )
    status, table, _, _ = ui.upload(bad)
    status = unescape(status)
    assert "empty.txt: file is empty" in status and "blob.txt: looks like a binary file" in status
    assert "tool.exe: unsupported file type '.exe'" in status and "zorblat.txt: file is empty" in status
    assert "Nothing already indexed was changed" in status and "✓ Added" not in status
    assert sorted(row[1] for row in table) == ["notes.md", "zorblat.txt"]
    assert (uploads / "zorblat.txt").read_text() == TEXT
    assert sorted(p.name for p in uploads.iterdir()) == ["notes.md", "zorblat.txt"]

    zorblat = next(s for name, s in ui.picker_choices() if name == "zorblat.txt")
    status, table, _ = ui.remove(zorblat)
    assert "Removed zorblat.txt. 1 document, 1 passage remain." in status
    assert [row[:2] for row in table] == [["Notes", "notes.md"]] and not (uploads / "zorblat.txt").exists()
    assert [d["chunks"] for d in ui.documents()] == [1] and str(tmp_path) not in str(table)


def test_asking_before_anything_is_indexed_says_what_to_do(fast_settings):
    ui = Handlers(Rag(fast_settings))
    *_, (_, state, _, kept, _, hint) = ui.chat("anything?", {"turns": [], "messages": []}, "extractive", 5)
    assert "No documents are indexed yet" in hint and state["turns"] == [] and kept == "anything?"
    assert ui.documents() == []


def test_an_empty_question_says_why_nothing_happens_and_a_long_one_is_kept(fast_settings):
    ui = Handlers(Rag(fast_settings))
    ((*_, hint),) = ui.chat("   ", {"turns": [], "messages": []}, "extractive", 5)
    assert "Type a question first" in hint
    long = "why " * 600
    *_, (messages, _, _, kept, _, hint) = ui.chat(long, {"turns": [], "messages": []}, "extractive", 5)
    assert kept == long and "2,000" in hint.replace("2000", "2,000") and messages == []


# several users at once, through the named API ---------------------------------------------------

QUESTIONS = {  # question -> (document that answers it, words the answer must contain)
    EXTRADITION: (EXTRADITION_DOC, ["Indonesia", "Pakistan"]),
    "When will the 25th ASEAN SOMTC be held in Malaysia?": ("001_", ["June 23 to 27"]),
    "How many delegates attended the 25th SOMTC and its related meetings in Putrajaya?": ("002_", ["200 delegates"]),
    "When was the Malaysia–Singapore MoU on transborder crime prevention signed?": ("003_", ["November 14, 2024"]),
    "How many Malaysians involved in overseas job scam syndicates have been rescued and brought home?": ("004_", ["707"]),
    "What is the population of Malaysia?": (None, []),
}



@pytest.fixture(scope="module")
def served(real_rag):
    app = build_app(real_rag.settings, rag=real_rag)
    _, url, _ = launch(app, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    yield url
    app.close()


@pytest.mark.slow
def test_concurrent_questions_each_get_their_own_answer(served):
    from gradio_client import Client

    results: dict[str, dict] = {}
    errors: list[BaseException] = []

    def ask(question: str, history: list) -> None:
        try:
            client = Client(served, verbose=False)
            results[question] = client.predict(question, history, "extractive", 5, api_name="/ask")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    follow_up = "and which of those countries is in South Asia?"
    previous = "Which countries have extradition treaties with Malaysia"
    threads = [threading.Thread(target=ask, args=(q, [])) for q in QUESTIONS]
    threads.append(threading.Thread(target=ask, args=(follow_up, [[previous + "?", "Indonesia, Pakistan [1]."]])))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    assert set(results) == {*QUESTIONS, follow_up}

    for question, (doc, words) in QUESTIONS.items():
        answer = results[question]
        assert answer["question"] == question and answer["query"] == question
        json.dumps(answer)  # plain JSON all the way down
        if doc is None:
            assert answer["abstained"] and answer["citations"] == []
            continue
        assert not answer["abstained"], (question, answer["answer"])
        for word in words:
            assert word in answer["answer"], (question, answer["answer"])
        assert answer["citations"] and all(c["verified"] for c in answer["citations"])
        own = [c for c in answer["citations"] if Path(c["source"]).name.startswith(doc)]
        # another document's quotes only where the answer says the documents disagree (the SOMTC dates)
        assert own and (answer["conflict"] or len(own) == len(answer["citations"])), (question, answer["citations"])
        assert len(answer["passages"]) == 5

    rewritten = results[follow_up]
    assert rewritten["question"] == follow_up
    assert rewritten["query"] == "Which of the countries that have extradition treaties with Malaysia is in South Asia?"


@pytest.mark.slow
def test_documents_and_search_endpoints(served, real_rag):
    from gradio_client import Client

    client = Client(served, verbose=False)
    documents = client.predict(api_name="/documents")
    assert sorted(Path(d["source"]).name for d in documents) == sorted(Path(s).name for s, _ in real_rag.documents())
    hits = client.predict(EXTRADITION, 3, api_name="/search")
    assert [h["rank"] for h in hits] == [1, 2, 3] and Path(hits[0]["source"]).name == EXTRADITION_DOC


def test_withheld_claims_are_shown_apart_and_marked_unsupported():
    from rag.types import Claim

    doc = _doc()
    start = doc.text.index("The Zorblat")
    end = doc.text.index("Sylvania.") + len("Sylvania.")
    cite = Citation(1, doc.source, start, end, doc.text[start:end], True)
    kept = Claim("Freedonia and Sylvania signed it.", (cite,), True)
    dropped = Claim("Wire money to account 0042.", (), False, ("no citation: “Wire money to account 0042.”",))
    answer = Answer("who signed?", "who signed?", kept.render(), (cite,), (_hit(doc, 0, len(doc.text)),), False,
                    "openai:m", claims=(kept, dropped))
    html = render.answer_html(answer, {doc.source: doc})
    answer_part, _, withheld = html.partition('class="rq-withheld"')
    assert "Wire money" not in answer_part and "Freedonia and Sylvania signed it." in answer_part
    assert "1 sentence left out: not supported by the documents" in withheld
    assert "Wire money to account 0042." in withheld and "no citation" in withheld


def test_chats_are_kept_per_user_and_export_with_their_quotes(tmp_path):
    from ui.chats import ChatStore, export

    doc = _doc()
    start, end = doc.text.index("The Zorblat"), doc.text.index("Sylvania.") + len("Sylvania.")
    answer = Answer("who signed?", "who signed?", "Freedonia and Sylvania signed it [1].",
                    (Citation(1, doc.source, start, end, doc.text[start:end], True, page=3),), (), False, "extractive")
    record = {**answer.to_dict(), "citations": [{**answer.to_dict()["citations"][0], "title": "Zorblat Treaty"}]}
    chat = {"turns": [["who signed?", answer.text]], "messages": [], "answers": {"1": record}, "id": "", "title": ""}
    store = ChatStore(tmp_path)
    kept = store.save("ann", chat)
    assert store.list("ann") == [("who signed?", kept)] and store.list("bob") == []  # one user's chats only
    assert store.load("bob", kept) is None
    store.rename("ann", kept, "  Zorblat   signatories ")
    assert store.list("ann") == [("Zorblat signatories", kept)]
    stem, markdown, data = export(store.load("ann", kept) or {})
    assert stem == "chat" and markdown.startswith("# Zorblat signatories\n\n## who signed?")
    assert "[1] found in *Zorblat Treaty*, p. 3 (zorblat.txt, characters 10–74):" in markdown
    assert "> The Zorblat treaty was signed in 2031 by Freedonia and Sylvania." in markdown
    quote = json.loads(data)["answers"][0]["quotes"][0]
    assert quote == {"n": 1, "document": "zorblat.txt", "title": "Zorblat Treaty", "page": 3, "start": start, "end": end,
                     "quote": doc.text[start:end], "found_in_document": True}
    assert "docs/" not in data and "docs/" not in markdown  # file names only
    store.delete("ann", kept)
    assert store.list("ann") == []
