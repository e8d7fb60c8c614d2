"""The Gradio app in a real browser: headless Chromium asks, reads the cited quote, opens its source,
uploads documents (good and bad) and asks about them. Screenshots land in tmp_path; the answer view
is copied to docs/ui.png (the README shows it), the others to out/screenshots/ for a person to look at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXTRADITION, EXTRADITION_DOC, ROOT, free_port, needs_browser

from rag import Rag

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = needs_browser()

from ui.app import build_app, launch  # noqa: E402

WAIT_MS = 90_000
ZORBLAT = """The Zorblat Accord

The Zorblat treaty was signed in 2031 by Freedonia and Sylvania. It ended forty years of border disputes along the Varn river.

Under the treaty, both countries share the river's fishing grounds and hold a joint customs office in the town of Lenk.
"""




@pytest.fixture
def app_url(tmp_path, real_rag):
    """The app over a private copy of the real seeds index (uploads must not touch the shared one)."""
    index = tmp_path / "index"
    shutil.copytree(real_rag.settings.index_path, index)
    settings = real_rag.settings.with_(index_path=str(index))
    app = build_app(settings, rag=Rag(settings, embedder=real_rag.embedder))
    _, url, _ = launch(app, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    yield url
    app.close()

CODEX = """The Varn Codex

The scribes of Lenk copied the square rule, written $$x^2$$ 42 times, into the Varn Codex in 1412.

The codex is kept in the town hall.
"""


@pytest.fixture
def codex_url(tmp_path, real_rag):
    """The app over one document whose text holds TeX delimiters."""
    docs = tmp_path / "codex"
    docs.mkdir()
    (docs / "codex.txt").write_text(CODEX)
    settings = real_rag.settings.with_(index_path=str(tmp_path / "codex-index"))
    rag = Rag(settings, embedder=real_rag.embedder)
    rag.index([docs])
    app = build_app(settings, rag=rag)
    _, url, _ = launch(app, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    yield url
    app.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(app_url)
    page.wait_for_selector("#rq-question textarea")
    yield page
    context.close()


def ask(page, question: str):
    """Type a question, press Enter, wait until its answer has finished streaming; returns that message."""
    before = page.locator("#rq-chat .rq-msg").count()
    page.fill("#rq-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#rq-chat .rq-msg').length > n"
        " && !document.querySelector('#rq-chat .rq-pending, #rq-chat .rq-cursor')",
        arg=before,
    )
    return page.locator("#rq-chat .rq-msg").nth(before)


def shot(page, path: Path, publish: str | None = None) -> None:
    """Screenshot into tmp_path; `publish` also copies it to docs/ (ui.png, which the README shows) or
    out/screenshots/ (the others) for a person to look at."""
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    if publish:
        folder = ROOT / "docs" if publish == "ui.png" else ROOT / "out" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / publish)


def test_answer_with_verified_quote_opens_the_source_at_the_quote(page, tmp_path):
    message = ask(page, EXTRADITION)
    answer = message.locator(".rq-answer").inner_text()
    assert "Indonesia" in answer and "Pakistan" in answer

    cite = message.locator(".rq-cite").filter(has_text="11 extradition treaties").first
    assert EXTRADITION_DOC in cite.locator(".rq-src").inner_text()
    assert f"found in {EXTRADITION_DOC}" in cite.inner_text()
    assert "11 extradition treaties" in cite.locator("mark").inner_text()
    context = cite.locator(".rq-ctx").inner_text()
    assert len(context) > len(cite.locator("mark").inner_text()) + 40  # the quote sits inside its surrounding text

    passages = page.locator("#rq-passages .rq-passage")
    assert passages.count() == 5 and "score" not in passages.first.inner_text()  # folded under Details
    passages.first.get_by_text("Details").click()
    assert "score" in passages.first.inner_text()

    cite.locator("a.rq-open").click()
    target = page.locator("#rq-viewer mark.rq-target")
    target.wait_for()
    assert "11 extradition treaties" in target.inner_text()
    assert EXTRADITION_DOC in page.locator("#rq-viewer .rq-doc-head").inner_text()
    assert "/" not in page.locator("#rq-viewer .rq-doc-head").inner_text()  # a file name, never the server's path
    page.wait_for_function(
        """() => {
            const box = document.querySelector('#rq-viewer .rq-doc-text').getBoundingClientRect();
            const mark = document.querySelector('#rq-viewer mark.rq-target').getBoundingClientRect();
            return mark.top >= box.top && mark.bottom <= box.bottom && mark.height > 0;
        }"""
    )  # scrolled so the quote is in view
    shot(page, tmp_path / "answer.png", publish="ui.png")

    follow_up = ask(page, "and which of those is Pakistan's neighbour?")
    note = follow_up.locator(".rq-query").inner_text()
    assert note.startswith("Searched for:") and "extradition treaties with Malaysia" in note

    abstained = ask(page, "What is the population of Malaysia?")
    assert "Not in the documents" in abstained.inner_text()
    assert abstained.locator(".rq-answer, .rq-cites").count() == 0
    assert abstained.locator(".rq-passage").count() >= 1  # the nearest passages, labelled as such
    shot(page, tmp_path / "abstained.png")

    # a passage shows the section it stands under, which its own text may not say
    listed = ask(page, "Which dialogue partners held SOMTC consultation sessions on the second day?")
    assert "Canada" in listed.locator(".rq-answer").inner_text()
    under = page.locator("#rq-passages .rq-under").filter(has_text="Day Two (25 June 2025)")
    assert under.count() >= 1
    shot(page, tmp_path / "sections.png", publish="ui-sections.png")


def test_upload_then_ask_about_it_and_a_bad_upload_loses_nothing(page, tmp_path):
    page.get_by_role("tab", name="Documents").click()
    table = page.locator("#rq-docs")
    table.filter(has_text=EXTRADITION_DOC).wait_for()

    zorblat = tmp_path / "zorblat.txt"
    zorblat.write_text(ZORBLAT)
    page.set_input_files("#rq-upload input[type=file]", str(zorblat))
    status = page.locator("#rq-upload-status")
    status.filter(has_text="Added zorblat.txt").wait_for()
    table.filter(has_text="zorblat.txt").wait_for()
    assert (tmp_path / "index" / "uploads" / "zorblat.txt").read_text() == ZORBLAT

    page.get_by_role("tab", name="Ask").click()
    message = ask(page, "Which countries signed the Zorblat treaty?")
    answer = message.locator(".rq-answer").inner_text()
    assert "Freedonia" in answer and "Sylvania" in answer
    cite = message.locator(".rq-cite").first
    assert "zorblat.txt" in cite.locator(".rq-src").inner_text() and "found in The Zorblat Accord" in cite.inner_text()
    shot(page, tmp_path / "zorblat.png")

    page.get_by_role("tab", name="Documents").click()
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    page.set_input_files("#rq-upload input[type=file]", str(empty))
    status.filter(has_text="empty.txt").wait_for()
    text = status.inner_text()
    assert "Not added: empty.txt: file is empty" in text and "Nothing already indexed was changed" in text
    listed = table.inner_text()
    assert "zorblat.txt" in listed and EXTRADITION_DOC in listed and "empty.txt" not in listed
    assert not (tmp_path / "index" / "uploads" / "empty.txt").exists()
    shot(page, tmp_path / "documents.png", publish="ui-documents.png")


def test_two_users_at_once_each_see_only_their_own_conversation(browser, app_url):
    questions = {
        EXTRADITION: "Pakistan",
        "How many Malaysians involved in overseas job scam syndicates have been rescued and brought home?": "707",
    }
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in questions]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(WAIT_MS)
            page.goto(app_url)
            page.wait_for_selector("#rq-question textarea")
        for page, question in zip(pages, questions):  # both questions are in flight together
            page.fill("#rq-question textarea", question)
            page.keyboard.press("Enter")
        for page, (question, word) in zip(pages, questions.items()):
            page.wait_for_selector("#rq-chat .rq-cites")
            chat = page.locator("#rq-chat").inner_text()
            other = next(q for q in questions if q != question)
            assert question in chat and other not in chat
            assert word in page.locator("#rq-chat .rq-answer").inner_text()
            assert page.locator("#rq-chat .rq-msg").count() == 1
    finally:
        for context in contexts:
            context.close()


def test_document_text_with_tex_delimiters_is_shown_as_written(browser, codex_url, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(codex_url)
        page.wait_for_selector("#rq-question textarea")
        message = ask(page, "How many times did the scribes copy the square rule into the Varn Codex?")
        cite = message.locator(".rq-cite").first
        assert "found in The Varn Codex" in cite.inner_text()
        assert "written $$x^2$$ 42 times" in cite.locator("mark").inner_text()  # the quote as the source has it
        assert "$$x^2$$ 42" in message.locator(".rq-answer").inner_text()
        assert "$$x^2$$ 42" in page.locator("#rq-passages").inner_text()
        cite.locator("a.rq-open").click()
        page.locator("#rq-viewer mark.rq-target").wait_for()
        assert "$$x^2$$ 42" in page.locator("#rq-viewer mark.rq-target").inner_text()
        assert page.locator(".katex, math").count() == 0  # nothing on the page was typeset
        shot(page, tmp_path / "codex.png")
    finally:
        context.close()


def test_answer_settings_filter_restricts_the_answer_and_says_when_nothing_matches(page, tmp_path):
    page.locator("#rq-settings").get_by_text("Advanced").click()
    page.fill("#rq-filter textarea", "source=*002_*")
    message = ask(page, "Where were the 25th SOMTC and its related meetings held?")
    sources = page.locator("#rq-passages .rq-src").all_inner_texts()
    assert sources and all("002_" in s for s in sources)
    title = page.locator("#rq-passages .rq-title").first.inner_text()
    assert title.startswith("Strengthening regional cooperation")  # the document's title beside its file name
    assert all("002_" in s for s in message.locator(".rq-src").all_inner_texts())
    page.fill("#rq-filter textarea", "modified<1990-01-01")
    page.fill("#rq-question textarea", EXTRADITION)
    page.keyboard.press("Enter")
    page.locator("#rq-hint").filter(has_text="No indexed document matches the chosen documents and filter").wait_for()
    page.fill("#rq-filter textarea", "colour=red")
    page.locator("#rq-send").click()
    page.locator("#rq-hint").filter(has_text="unknown filter key 'colour'; this index knows: modified, source, title").wait_for()
    assert page.locator("#rq-chat .rq-msg").count() == 1  # failed questions add no turn; the passages are cleared
    assert "Ask a question to see" in page.locator("#rq-passages").inner_text()
    shot(page, tmp_path / "filter.png")
