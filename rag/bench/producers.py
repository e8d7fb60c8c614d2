"""A PDF corpus from the programs staff's PDFs come from, made here with known text: Chromium's
print to PDF (one column, two columns, a table), fpdf2, Ghostscript's ps2pdf, groff (one and two
columns), pdfTeX, and LibreOffice (a .docx and an .odt). Nothing is downloaded.

Each producer writes one document and says what a reader gets from it (`Made.blocks`: title,
paragraphs, table rows as rag.ingest.layout writes them, running headers and page numbers left out), so a
loader's text can be scored in words and in reading order (rag.bench.pdf). A producer whose
program is not installed raises `Unavailable` with the command that installs it.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
TITLE = "Minutes of the Finance Committee"
BUDGET = "The committee approved a budget of RM4.2 million on 3 March 2025."
PARAGRAPHS = (
    ("The Finance Committee met in the main office of the council on 3 March 2025. The chair opened the meeting "
     "at ten in the morning and welcomed five members, two staff officers and one official from the audit "
     "department. Apologies were received from the deputy chair, who was travelling abroad."),
    (f"{BUDGET} The budget covers the first financial year of the new library, its fifty reading rooms, the "
     "offline archive and the staff who run them. Members noted that the figure reflects the efficient use of "
     "the grant of the previous year."),
    ("The treasurer reported that traffic to the online services had doubled, and that difficult decisions about "
     "the affordable housing fund were deferred to the next meeting. The fund remains fully committed until the "
     "end of the year, and no new applications will be accepted before June."),
    ("Members discussed the flood defences on the eastern bank of the river. The engineer explained that the "
     "official estimate of the repairs is RM1.8 million, spread over three years. The committee asked for a "
     "fluent summary of the options, written for residents, before a decision is made."),
    ("Under any other business, the secretary announced that the offices will close for two days in April for "
     "the installation of a new heating system. Staff will work from home, and urgent requests will be handled "
     "by the duty officer by telephone."),
    ("The meeting closed at half past twelve. The next meeting will be held on 7 April 2025 in the same room, and "
     "the minutes of this meeting will be circulated to all members within ten working days."),
)
HEADER = "Finance Committee minutes"  # the running header where a producer sets one (page furniture)
TABLE_TITLE = "Budget by item"
TABLE_INTRO = "The table below lists each item of the approved budget, its amount and the year it is spent."
TABLE_HEADERS = ("Item", "Amount", "Year")
TABLE_ROWS = (
    ("Library staff", "RM1.9 million", "2025"),
    ("Offline archive", "RM0.6 million", "2025"),
    ("Reading rooms", "RM1.1 million", "2026"),
    ("Heating system", "RM0.3 million", "2025"),
    ("Flood defences", "RM1.8 million", "2027"),
)
TABLE_OUTRO = "All amounts are in ringgit and include the tax due on each item."


class Unavailable(Exception):
    """A producer's program is not installed here; the message says how to install it."""


@dataclass(frozen=True)
class Made:
    """One producer's document: its PDF bytes and, in reading order, the blocks a reader gets."""

    producer: str
    data: bytes
    blocks: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.blocks)


def minutes_blocks() -> tuple[str, ...]:
    return (TITLE, *PARAGRAPHS)


def table_blocks() -> tuple[str, ...]:
    rows = tuple(" | ".join(f"{h}: {v}" for h, v in zip(TABLE_HEADERS, row)) for row in TABLE_ROWS)
    return (TABLE_TITLE, TABLE_INTRO, *rows, TABLE_OUTRO)


# ---- Chromium (print to PDF) ---------------------------------------------------------------

# The URW fonts come with Ghostscript (Debian's fonts-urw-base35); their word spaces are narrow, and
# Chromium draws no space glyph between words: a page read by gaps alone loses most of its spaces.
PAGE_CSS = "body { font-family: 'P052', 'Nimbus Roman', serif; font-size: 12pt; line-height: 1.4; }"
FURNITURE = {
    "display_header_footer": True,
    "header_template": f'<div style="font-size:9px; width:100%; text-align:center">{HEADER}</div>',
    "footer_template": '<div style="font-size:9px; width:100%; text-align:center">'
    'Page <span class="pageNumber"></span> of <span class="totalPages"></span></div>',
    "margin": {"top": "72px", "bottom": "72px", "left": "72px", "right": "72px"},
}


def _html(body: str, css: str = "") -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{PAGE_CSS} {css}</style></head><body>{body}</body></html>"


def _p(text: str, style: str = "") -> str:
    styled = f' style="{style}"' if style else ""
    return f"<p{styled}>{html.escape(text)}</p>"


def minutes_html() -> str:
    """Two pages of minutes: the second starts at the fourth paragraph."""
    parts = [f"<h1>{html.escape(TITLE)}</h1>"]
    parts += [_p(p, "page-break-before: always" if i == 3 else "") for i, p in enumerate(PARAGRAPHS)]
    return _html("".join(parts))


def columns_html() -> str:
    paragraphs = "".join(_p(p) for p in PARAGRAPHS)
    return _html(f"<h1>{html.escape(TITLE)}</h1><div style='column-count: 2; column-gap: 36px'>{paragraphs}</div>",
                 "body { text-align: justify; }")


def table_html() -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in TABLE_HEADERS)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in TABLE_ROWS)
    table = f"<table style='width:100%; border-collapse: collapse'><tr>{head}</tr>{rows}</table>"
    return _html(f"<h1>{html.escape(TABLE_TITLE)}</h1>{_p(TABLE_INTRO)}{table}{_p(TABLE_OUTRO)}")


def chromium_pdfs(pages: list[tuple[str, dict]], executable: str = CHROMIUM) -> list[bytes]:
    """Each (html, page.pdf options) printed to PDF by headless Chromium (A4), through playwright."""
    if not Path(executable).exists():
        raise Unavailable(f"needs Chromium at {executable}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise Unavailable("needs playwright: pip install playwright") from err
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page()
            out = []
            for markup, options in pages:
                page.set_content(markup)
                out.append(page.pdf(format="A4", **options))
            return out
        finally:
            browser.close()


def chromium() -> list[Made]:
    minutes, columns, table = chromium_pdfs([(minutes_html(), FURNITURE), (columns_html(), {}), (table_html(), {})])
    return [Made("chromium", minutes, minutes_blocks()), Made("chromium-columns", columns, minutes_blocks()),
            Made("chromium-table", table, table_blocks())]


# The minutes again in other styles (`rag bench pdf --styles`): each varies what sets word gaps.
STYLES = {
    "letter-spacing-0.05em": "p { letter-spacing: 0.05em }",
    "letter-spacing-0.15em": "p { letter-spacing: 0.15em }",
    "word-spacing-10px": "p { word-spacing: 10px }",
    "italic": "p { font-style: italic }",
    "bold": "p { font-weight: bold }",
    "small-caps": "p { font-variant: small-caps }",
    "kerning-ligatures": "p { font-kerning: normal; font-feature-settings: 'kern' 1, 'liga' 1 }",
    "hyphens-narrow": "body { width: 180px; hyphens: auto }",
    "justify-narrow": "body { width: 200px; text-align: justify }",
    "centred": "p { text-align: center; width: 300px }",
    "6pt": "body { font-size: 6pt }",
    "30pt": "body { font-size: 30pt }",
    "sans": "body { font-family: 'Nimbus Sans', sans-serif }",
    "mono": "body { font-family: monospace }",
}


def chromium_styles() -> list[Made]:
    body = f"<h1>{html.escape(TITLE)}</h1>" + "".join(_p(p) for p in PARAGRAPHS)
    pdfs = chromium_pdfs([(_html(body, css), {}) for css in STYLES.values()])
    return [Made(f"chromium-{name}", data, minutes_blocks()) for name, data in zip(STYLES, pdfs)]


# ---- fpdf2 ---------------------------------------------------------------------------------


def fpdf2() -> list[Made]:
    """Core Helvetica, a running header and "Page N" footer, paragraphs wrapped by multi_cell; two pages."""
    try:
        import fpdf
    except ImportError as err:
        raise Unavailable("needs fpdf2: pip install fpdf2") from err

    class Minutes(fpdf.FPDF):
        def header(self) -> None:
            self.set_font("helvetica", size=9)
            self.cell(0, 10, HEADER, align="C")
            self.ln(20)

        def footer(self) -> None:
            self.set_y(-40)
            self.set_font("helvetica", size=9)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")

    pdf = Minutes(format="A4", unit="pt")
    pdf.set_margins(72, 72, 72)
    pdf.add_page()
    pdf.set_font("helvetica", "B", size=18)
    pdf.multi_cell(0, 24, TITLE)
    pdf.ln(8)
    for i, paragraph in enumerate(PARAGRAPHS):
        if i == 3:
            pdf.add_page()
        pdf.set_font("helvetica", size=11)
        pdf.multi_cell(0, 15, paragraph, align="J")
        pdf.ln(8)
    return [Made("fpdf2", bytes(pdf.output()), minutes_blocks())]


# ---- Ghostscript (PostScript to PDF) -------------------------------------------------------

PS_PROLOG = """%!PS-Adobe-3.0
% para: ( words lead -- ) sets the words from x 72, y Y down, greedy lines W wide, justified but the last
/W 451 def
/line { /j exch def /lw exch def /tw 0 def lw { stringwidth pop tw add /tw exch def } forall
  /g j { W tw sub lw length 1 sub 1 max div } { sp } ifelse def
  72 Y moveto lw { show g 0 rmoveto } forall /Y Y lead sub def } def
/para { /lead exch def /ws exch def /sp ( ) stringwidth pop def /start 0 def /n 0 def /t 0 def
  0 1 ws length 1 sub { /i exch def /w ws i get stringwidth pop def
    n 0 gt t w add sp n mul add W gt and { ws start n getinterval true line /start i def /n 0 def /t 0 def } if
    /t t w add def /n n 1 add def } for
  ws start n getinterval false line /Y Y 8 sub def } def
"""


def _ps_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def postscript() -> str:
    """The minutes as PostScript in Times, laid out by the PostScript program itself: every word shown
    on its own and lines justified, so the PDF holds no space between words (only gaps); a running
    header and a page number on each page."""
    out = [PS_PROLOG]
    pages = [[TITLE, *PARAGRAPHS[:3]], list(PARAGRAPHS[3:])]
    for number, blocks in enumerate(pages, start=1):
        out.append(f"%%Page: {number} {number}\n/Times-Roman findfont 9 scalefont setfont\n")
        out.append(f"250 800 moveto {_ps_string(HEADER)} show 290 40 moveto {_ps_string(f'Page {number}')} show\n/Y 750 def\n")
        for block in blocks:
            size = 18 if block == TITLE else 11
            words = " ".join(_ps_string(w) for w in block.split())
            out.append(f"/Times-Roman findfont {size} scalefont setfont\n[{words}] {size * 1.4:.1f} para\n")
        out.append("showpage\n")
    return "".join(out)


def _run(command: list[str], install: str, cwd: Path, timeout: int = 180) -> None:
    if shutil.which(command[0]) is None:
        raise Unavailable(f"needs {command[0]}: {install}")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-300:]}")


def ps2pdf() -> list[Made]:
    with tempfile.TemporaryDirectory(prefix="rag-ps2pdf-") as scratch:
        folder = Path(scratch)
        (folder / "minutes.ps").write_text(postscript(), encoding="latin-1")
        _run(["ps2pdf", "minutes.ps", "minutes.pdf"], "apt-get install ghostscript", folder)
        return [Made("ps2pdf", (folder / "minutes.pdf").read_bytes(), minutes_blocks())]


# ---- groff ---------------------------------------------------------------------------------


def roff(columns: int = 1) -> str:
    """The minutes in groff's ms macros: filled, justified, hyphenated, with ligatures; no page numbers."""
    two = ".2C\n" if columns == 2 else ""
    body = "".join(f".LP\n{p}\n" for p in PARAGRAPHS)
    return f'.ds CH\n.nr PS 11\n.nr VS 14\n.TL\n{TITLE}\n.AU\n.AB no\n.AE\n{two}{body}'


def groff() -> list[Made]:
    if shutil.which("groff") is None or shutil.which("gropdf") is None:
        raise Unavailable("needs groff with its PDF device: apt-get install groff")
    made = []
    with tempfile.TemporaryDirectory(prefix="rag-groff-") as scratch:
        folder = Path(scratch)
        for name, columns in (("groff", 1), ("groff-columns", 2)):
            (folder / f"{name}.ms").write_text(roff(columns), encoding="utf-8")
            done = subprocess.run(["groff", "-ms", "-Tpdf", f"{name}.ms"], cwd=folder, capture_output=True, timeout=60, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"groff failed: {done.stderr.decode(errors='replace')[-300:]}")
            made.append(Made(name, done.stdout, minutes_blocks()))
    return made


# ---- pdfTeX (plain TeX) ---------------------------------------------------------------------

TEX_SPECIALS = str.maketrans({c: f"\\char{ord(c)} " for c in "\\{}$&#^_%~"})


def plain_tex() -> str:
    """The minutes in plain TeX (Computer Modern: ligatures, kerning, justified lines, hyphenation),
    the fourth paragraph on a second page; plain TeX's page number at the foot of each page."""
    paragraphs = [p.translate(TEX_SPECIALS) for p in PARAGRAPHS]
    body = "\\par\n".join(paragraphs[:3]) + "\\par\n\\vfill\\eject\n" + "\\par\n".join(paragraphs[3:])
    return f"\\parindent=0pt \\parskip=6pt\n\\centerline{{\\bf {TITLE}}}\n{body}\\par\n\\bye\n"


def pdftex() -> list[Made]:
    with tempfile.TemporaryDirectory(prefix="rag-pdftex-") as scratch:
        folder = Path(scratch)
        (folder / "minutes.tex").write_text(plain_tex(), encoding="ascii")
        _run(["pdftex", "-interaction=batchmode", "-no-shell-escape", "minutes.tex"],
             "apt-get install --no-install-recommends texlive-base", folder)
        return [Made("pdftex", (folder / "minutes.pdf").read_bytes(), minutes_blocks())]


# ---- LibreOffice (.docx and .odt to PDF) ---------------------------------------------------


def docx_file(path: Path) -> None:
    """The minutes and the budget table as a .docx (python-docx): a page break before paragraph four."""
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    document.add_heading(TITLE, level=1)
    for i, paragraph in enumerate(PARAGRAPHS):
        p = document.add_paragraph()
        if i == 3:
            p.add_run().add_break(WD_BREAK.PAGE)
        p.add_run(paragraph)
    document.add_heading(TABLE_TITLE, level=2)
    document.add_paragraph(TABLE_INTRO)
    table = document.add_table(rows=1, cols=len(TABLE_HEADERS))
    for cell, text in zip(table.rows[0].cells, TABLE_HEADERS):
        cell.text = text
    for row in TABLE_ROWS:
        for cell, text in zip(table.add_row().cells, row):
            cell.text = text
    document.add_paragraph(TABLE_OUTRO)
    document.save(str(path))


ODT_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""


def odt_file(path: Path) -> None:
    """The minutes as a minimal OpenDocument text file, written by hand (a zip of two XML files)."""
    import zipfile

    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
          'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"')
    styles = ('<office:automatic-styles><style:style style:name="Break" style:family="paragraph">'
              '<style:paragraph-properties fo:break-before="page"/></style:style></office:automatic-styles>')
    body = f'<text:h text:outline-level="1">{html.escape(TITLE)}</text:h>'
    breaks = ' text:style-name="Break"'
    body += "".join(f"<text:p{breaks if i == 3 else ''}>{html.escape(p)}</text:p>" for i, p in enumerate(PARAGRAPHS))
    content = (f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {ns} office:version="1.2">{styles}'
               f"<office:body><office:text>{body}</office:text></office:body></office:document-content>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")  # first, stored
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", ODT_MANIFEST, compress_type=zipfile.ZIP_DEFLATED)


def libreoffice() -> list[Made]:
    with tempfile.TemporaryDirectory(prefix="rag-soffice-") as scratch:
        folder = Path(scratch)
        docx_file(folder / "docx.docx")
        odt_file(folder / "odt.odt")
        profile = (folder / "profile").as_uri()  # its own profile: no lock shared with a running LibreOffice
        _run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir", str(folder),
              "docx.docx", "odt.odt"], "apt-get install --no-install-recommends libreoffice-writer-nogui", folder)
        return [Made("libreoffice-docx", (folder / "docx.pdf").read_bytes(), (*minutes_blocks(), *table_blocks())),
                Made("libreoffice-odt", (folder / "odt.pdf").read_bytes(), minutes_blocks())]


PRODUCERS: dict[str, Callable[[], list[Made]]] = {
    "chromium": chromium, "fpdf2": fpdf2, "ps2pdf": ps2pdf, "groff": groff, "pdftex": pdftex, "libreoffice": libreoffice,
}
