"""The chat as a new user meets it, in headless Chromium over a real server and the real model: the
short answer in view, quotes numbered 1..n and named by document, no server path anywhere in the
page, feedback stored and exported, chats reopened after a restart (in the browser, and on the server
for a signed-in user), a document picker, a phone layout. The main states are screenshot into docs/
(docs/ui.md shows them), so the pictures there are always today's page."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import EXTRADITION, ROOT, free_port, needs_browser

from rag import Rag

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = needs_browser()

from rag.cli import main
from rag.evaluation.feedback import FeedbackStore
from ui.app import build_app, launch
from ui.auth import Users, hash_password

WAIT_MS = 90_000
DOCS = ROOT / "docs"
CONFLICT = "When will the 25th ASEAN SOMTC be held in Malaysia?"  # two documents give different dates
DECLINED = "What is the population of Malaysia?"
SOMTC_TITLE = "Strengthening regional cooperation"  # 002_'s title; the other seeds have none




class Site:
    """The app over a private copy of the real seeds index; `restart()` stops it and starts a fresh one
    on the same port (same origin: what the browser keeps stays readable)."""

    def __init__(self, tmp_path: Path, real_rag: Rag, users: Users | None = None):
        self.index = tmp_path / "index"
        shutil.copytree(real_rag.settings.index_path, self.index)
        self.settings = real_rag.settings.with_(index_path=str(self.index))
        self.embedder, self.users = real_rag.embedder, users
        self.corpus = str(Path(real_rag.documents()[0][0]).parent)  # the server's folder: never in the page
        self.port = free_port()
        self.app = None
        self.start()

    def start(self) -> None:
        self.app = build_app(self.settings, rag=Rag(self.settings, embedder=self.embedder))
        _, self.url, _ = launch(self.app, host="127.0.0.1", port=self.port, block=False, quiet=True, users=self.users)

    def restart(self) -> None:
        self.app.close()
        self.start()

    def close(self) -> None:
        self.app.close()


@pytest.fixture
def site(tmp_path, real_rag):
    site = Site(tmp_path, real_rag)
    yield site
    site.close()


def open_page(browser, url: str, width: int = 1280, height: int = 900, **options):
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.wait_for_selector("#rq-question textarea")
    return context, page


def ask(page, question: str):
    """Type a question, press Enter, wait until its answer has finished; returns that message."""
    before = page.locator("#rq-chat .rq-msg").count()
    page.fill("#rq-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#rq-chat .rq-msg').length > n"
        " && !document.querySelector('#rq-chat .rq-pending, #rq-chat .rq-cursor')",
        arg=before,
    )
    return page.locator("#rq-chat .rq-msg").nth(before)


def publish(page, name: str, tmp_path: Path, **options) -> None:
    """A screenshot into docs/ (docs/ui.md shows it), checked to be a real picture first."""
    path = tmp_path / name
    page.screenshot(path=str(path), **options)
    assert path.stat().st_size > 10_000
    shutil.copy(path, DOCS / name)


def in_view(page, element) -> bool:
    """Whether the element's first line shows: inside the chat's box and inside the window."""
    page.wait_for_timeout(300)  # the chat scrolls on the next animation frame
    top = element.evaluate("e => e.getBoundingClientRect().top")
    chat = page.locator("#rq-chat").bounding_box()
    return bool(chat) and chat["y"] - 1 <= top <= chat["y"] + chat["height"] - 30 and 0 <= top <= 900 - 30


def markers(message) -> tuple[list[int], list[int]]:
    """The [n] in an answer's text, in reading order, and the numbers its quotes carry."""
    shown = [int(n) for n in re.findall(r"\[(\d+)\]", message.locator(".rq-answer").inner_text())]
    quoted = [int(t.strip("[]")) for t in message.locator(".rq-cite .rq-marker").all_inner_texts()]
    return shown, quoted


def data_url(href: str | None) -> str:
    """The text a base64 data: link carries."""
    assert href and href.startswith("data:")
    return base64.b64decode(href.split(",", 1)[1]).decode("utf-8")


def no_server_path(page, site: Site) -> None:
    html = page.content()
    for path in (site.corpus, str(site.index)):
        assert path not in html and quote(path, safe="") not in html and quote(path) not in html


def test_answers_show_the_short_answer_numbered_quotes_by_document_and_no_server_path(browser, site, tmp_path):
    context, page = open_page(browser, site.url)
    try:
        width = page.evaluate("document.documentElement.scrollWidth")
        first = ask(page, EXTRADITION)
        assert "Answer supported by" in first.locator(".rq-status-line").inner_text()
        cite = first.locator(".rq-cite").filter(has_text="11 extradition treaties").first
        assert re.search(r"found in 000_802fec47948a7749\.txt", cite.inner_text())
        assert "✓" not in first.inner_text() and "verified" not in first.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") == width == 1280  # the page did not widen
        publish(page, "ui-answer.png", tmp_path)

        conflict = ask(page, CONFLICT)
        assert "The documents disagree" in conflict.locator(".rq-status-line").inner_text()
        values = conflict.locator(".rq-short").inner_text()  # both sides' values in the short answer's place
        assert "June 23 to 27, 2025" in values and "24–26 June 2025" in values and " · " in values, values
        shown, quoted = markers(conflict)
        assert len(set(shown)) >= 2 and list(dict.fromkeys(shown)) == list(range(1, len(set(shown)) + 1))  # 1, 2, 3 in order
        assert sorted(set(quoted)) == sorted(set(shown))
        assert any(SOMTC_TITLE in t for t in conflict.locator(".rq-found").all_inner_texts())  # found in *its title*
        assert in_view(page, conflict.locator(".rq-short"))  # the newest answer's first line, not the end of its quotes
        publish(page, "ui-conflict.png", tmp_path)

        declined = ask(page, DECLINED)
        text = declined.inner_text()
        assert "Not in the documents" in text and "Could not confirm" in text
        assert declined.locator(".rq-answer, .rq-cites, .rq-found").count() == 0 and "✓" not in text
        publish(page, "ui-decline.png", tmp_path)

        declined.locator(".rq-passage a.rq-open").first.click()
        page.locator("#rq-viewer .rq-doc-text").wait_for()
        no_server_path(page, site)
        page.get_by_role("tab", name="Documents").click()
        page.locator("#rq-docs").filter(has_text="000_802fec47948a7749.txt").wait_for()
        assert SOMTC_TITLE in page.locator("#rq-docs").inner_text()
        no_server_path(page, site)
    finally:
        context.close()


def test_feedback_is_stored_with_the_answer_and_exported_as_a_qa_item(browser, site, tmp_path, capsys):
    context, page = open_page(browser, site.url)
    try:
        message = ask(page, "How many extradition treaties does Malaysia currently have?")
        page.locator("#rq-chat button[aria-label='Like']").last.click()
        page.locator("#rq-feedback-status").filter(has_text="saved as helpful").wait_for()
        page.locator("#rq-chat button[aria-label='Dislike']").last.click()  # changes that rating, adds none
        page.locator("#rq-feedback-status").filter(has_text="saved as not helpful").wait_for()
        page.fill("#rq-correct textarea", "11")
        page.fill("#rq-note textarea", "it should say eleven")
        page.locator("#rq-send-note").click()
        page.locator("#rq-feedback-status").filter(has_text="your note was saved").wait_for()
        assert "11" in message.inner_text()
    finally:
        context.close()
    (stored,) = FeedbackStore(site.index).all()
    assert (stored.rating, stored.correct, stored.note) == ("down", "11", "it should say eleven")
    assert stored.question == "How many extradition treaties does Malaysia currently have?"
    assert stored.answer["citations"] and stored.answerer == "extractive" and stored.index_version.startswith("data-")
    out = tmp_path / "feedback.jsonl"
    assert main(["feedback", "export", "--index", str(site.index), "-o", str(out)]) == 0
    (item,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert item["facts"] == [["11"]] and "11 extradition treaties" in item["evidence"][0]["quote"]


def test_a_chat_is_reopened_after_a_server_restart_renamed_exported_and_deleted(browser, site, tmp_path):
    context, page = open_page(browser, site.url)
    try:
        ask(page, EXTRADITION)
        page.locator("#rq-chat-tools").get_by_text("Your chats").click()
        chats = page.locator("#rq-chats")
        page.wait_for_function("() => document.querySelector('#rq-chats input')?.value.includes('extradition')")

        site.restart()
        page.goto(site.url)
        page.wait_for_selector("#rq-question textarea")
        assert page.locator("#rq-chat .rq-msg").count() == 0
        page.locator("#rq-chat-tools").get_by_text("Your chats").click()
        chats.locator("input").click()
        page.get_by_role("option", name=EXTRADITION).click()
        page.locator("#rq-chat .rq-cite").first.wait_for()
        assert EXTRADITION in page.locator("#rq-chat").inner_text() and "Pakistan" in page.locator("#rq-chat .rq-answer").inner_text()

        page.fill("#rq-chat-title textarea", "Treaties")
        page.locator("#rq-rename").click()
        page.wait_for_function("() => document.querySelector('#rq-chats input')?.value === 'Treaties'")
        page.locator("#rq-export-chat").click()
        markdown = page.locator("#rq-exports a[download='chat.md']")
        markdown.wait_for()
        text = data_url(markdown.get_attribute("href"))
        assert text.startswith("# Treaties") and re.search(r"\[1\] found in \*000_802fec47948a7749\.txt\*", text)
        assert "> He added that Malaysia currently has 11 extradition treaties" in text
        data = json.loads(data_url(page.locator("#rq-exports a[download='chat.json']").get_attribute("href")))
        assert data["answers"][0]["question"] == EXTRADITION and data["answers"][0]["quotes"][0]["found_in_document"]

        page.locator("#rq-delete").click()
        page.wait_for_function("() => document.querySelector('#rq-chats input')?.value === ''")
        chats.locator("input").click()
        assert page.get_by_role("option", name="Treaties").count() == 0
    finally:
        context.close()


def test_a_signed_in_user_gets_the_chats_back_from_the_server_in_a_new_browser(browser, tmp_path, real_rag):
    users = Users(f"ann:{hash_password('correct horse', cost=(2**4, 8, 1))}\n")
    site = Site(tmp_path, real_rag, users=users)

    def login():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(site.url)
        page.get_by_label("username").fill("ann")
        page.get_by_label("password").fill("correct horse")
        page.keyboard.press("Enter")
        page.wait_for_selector("#rq-question textarea")
        return context, page

    try:
        context, page = login()
        ask(page, EXTRADITION)
        page.locator("#rq-chat-tools").get_by_text("Your chats").click()
        page.wait_for_function("() => document.querySelector('#rq-chats input')?.value.includes('extradition')")
        context.close()
        site.restart()
        context, page = login()  # a new browser profile: nothing kept in it
        page.locator("#rq-chat-tools").get_by_text("Your chats").click()
        page.locator("#rq-chats input").click()
        page.get_by_role("option", name=EXTRADITION).click()
        page.locator("#rq-chat .rq-cite").first.wait_for()
        assert "Pakistan" in page.locator("#rq-chat .rq-answer").inner_text()
        context.close()
    finally:
        site.close()


def test_the_document_picker_restricts_the_answer_to_the_documents_chosen_by_title(browser, site):
    context, page = open_page(browser, site.url)
    try:
        picker = page.locator("#rq-picker input")
        for name in (SOMTC_TITLE, "003_947c5390494264e3.txt"):
            picker.click()
            picker.fill(name[:12])
            page.get_by_role("option", name=re.compile(re.escape(name))).first.click()
        message = ask(page, "Where were the 25th SOMTC and its related meetings held?")
        sources = page.locator("#rq-passages .rq-src").all_inner_texts()
        assert sources and {s.strip() for s in sources} <= {"002_777488324060420d.txt", "003_947c5390494264e3.txt"}
        assert SOMTC_TITLE in page.locator("#rq-passages").inner_text()
        assert all(n in ("002_777488324060420d.txt", "003_947c5390494264e3.txt") for n in message.locator(".rq-src").all_inner_texts())

        page.locator("#rq-settings").get_by_text("Advanced").click()
        page.fill("#rq-filter textarea", "source=004_d8855185d72b12cf.txt")  # a bare file name, and the picked two: nothing left
        kept = "Where were the 25th SOMTC and its related meetings held?"
        page.fill("#rq-question textarea", kept)
        page.keyboard.press("Enter")
        page.locator("#rq-hint").filter(has_text="No indexed document matches").wait_for()
        assert page.locator("#rq-question textarea").input_value() == kept  # the question is kept to resend
        assert "Ask a question to see" in page.locator("#rq-passages").inner_text()  # no stale passages
        page.fill("#rq-question textarea", "")
        page.locator("#rq-send").click()
        page.locator("#rq-hint").filter(has_text="Type a question first").wait_for()
    finally:
        context.close()


def test_on_a_phone_nothing_scrolls_sideways_and_a_quote_opens_its_document_in_view(browser, site, tmp_path):
    context, page = open_page(browser, site.url, 390, 844, is_mobile=True, has_touch=True)
    try:
        message = ask(page, EXTRADITION)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        publish(page, "ui-phone.png", tmp_path)
        message.locator("a.rq-open").first.click()
        page.locator("#rq-viewer mark.rq-target").wait_for()
        page.wait_for_function("() => { const r = document.querySelector('#rq-viewer').getBoundingClientRect();"
                               " return r.top < innerHeight && r.bottom > 0; }")  # the document came into view
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.locator("#rq-theme").click()
        assert page.evaluate("document.body.classList.contains('dark')")
    finally:
        context.close()
