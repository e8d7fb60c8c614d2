"""A PDF citation in a real browser: headless Chromium asks about a multi-page PDF whose answer is on
page 2, opens the citation, and finds the highlight over the page image of that page, where
rag.verify.pageview says the quote stands. The view is copied to docs/ui-pdf.png (docs/ui.md shows it)."""

from __future__ import annotations

import html
import shutil
from urllib.parse import parse_qs

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port

from rag import Rag, Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium: apt-get install -y chromium", allow_module_level=True)
pytest.importorskip("gradio")
pytest.importorskip("pypdfium2")
sync_api = pytest.importorskip("playwright.sync_api")

from pdfs import paragraph, text_pdf

from ui import render
from ui.app import build_app, launch

WAIT_MS = 90_000
PAGES = [
    ["The Varn River Office", "", "This report describes the work of the river office in the year 2031.",
     "The office keeps the locks, the ferries and the harbour lights in order."],
    ["Customs", "", "The customs office in Lenk collected 4,212 crowns in the spring of",
     "2031, twice the sum of the year before. Most of it came from salt barges."],
    ["Fishing", "", "Fishing licences on the Varn are shared equally between Freedonia and",
     "Sylvania. Each country issues at most 300 licences a year."],
]
QUESTION = "How many crowns did the customs office in Lenk collect in the spring of 2031?"



@pytest.fixture
def report(tmp_path):
    """The app over one indexed three-page PDF (real model); yields (url, rag)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    text_pdf(docs / "varn-report.pdf", [paragraph(lines, y=120) for lines in PAGES])
    settings = Settings(index_path=str(tmp_path / "index"))
    rag = Rag(settings)
    rag.index([docs])
    app = build_app(settings, rag=rag)
    _, url, _ = launch(app, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    yield url, rag
    app.close()


def test_a_pdf_citation_opens_its_page_with_the_quote_highlighted(report, tmp_path):
    url, rag = report
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            page.fill("#rq-question textarea", QUESTION)
            page.keyboard.press("Enter")
            cite = page.locator("#rq-chat .rq-cite").filter(has_text="4,212 crowns").first
            cite.wait_for()
            assert "varn-report.pdf" in cite.locator(".rq-src").inner_text() and "p. 2" in cite.inner_text()
            assert "found in" in cite.inner_text() and "p. 2" in cite.locator(".rq-found").inner_text()

            link = cite.locator("a.rq-open")
            span = parse_qs(html.unescape(link.get_attribute("href") or "").split("?", 1)[1])
            link.click()
            shown = page.locator('#rq-viewer .rq-page[data-page="2"]')
            shown.wait_for()
            assert shown.locator("img.rq-page-img").get_attribute("alt") == "page 2 of varn-report.pdf"
            page.wait_for_function("() => { const i = document.querySelector('#rq-viewer img.rq-page-img');"
                                   " return i && i.complete && i.naturalWidth > 0; }")
            image = shown.locator("img.rq-page-img").bounding_box()
            marks = shown.locator(".rq-hl")
            assert image and image["width"] > 300 and marks.count() >= 1

            # where rag.verify.pageview says the quote stands on page 2, scaled to the image as shown
            ((source, _),) = rag.documents()
            assert span["doc"] == [render.doc_key(source)] and source not in page.content()  # no server path
            view = rag.page_view(source, int(span["start"][0]), int(span["end"][0]))
            assert view is not None and view.page == 2 and len(view.boxes) == marks.count()
            for n, box in enumerate(view.boxes):
                mark = marks.nth(n).bounding_box()
                assert mark and mark["width"] > 20 and mark["height"] > 5
                assert mark["x"] == pytest.approx(image["x"] + box.x0 * image["width"], abs=2)
                assert mark["y"] == pytest.approx(image["y"] + box.y0 * image["height"], abs=2)
                assert mark["x"] + mark["width"] <= image["x"] + image["width"] + 1  # over the image
                assert mark["y"] + mark["height"] <= image["y"] + image["height"] + 1
            # the page is scrolled so the highlight is in view, and it covers the quoted words
            page.wait_for_function("""() => {
                const box = document.querySelector('#rq-viewer .rq-page-scroll').getBoundingClientRect();
                const hl = document.querySelector('#rq-viewer .rq-hl').getBoundingClientRect();
                return hl.top >= box.top && hl.bottom <= box.bottom && hl.height > 0;
            }""")
            assert "4,212 crowns" in page.locator("#rq-viewer mark.rq-target").inner_text()
            shot = tmp_path / "pdf.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            shutil.copy(shot, ROOT / "docs" / "ui-pdf.png")
        finally:
            browser.close()
