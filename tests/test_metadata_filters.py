"""Metadata from files (front matter, PDF and DOCX properties, dates, titles), the filter syntax, and
filtered search inside each FAISS kind and BM25. The backends' filters: test_backend_conformance.py."""

from __future__ import annotations

import datetime
import os

import numpy as np
import pytest

from rag.bench.scale import synthetic
from rag.errors import ConfigError
from rag.ingest.documents import load_file
from rag.ingest.metadata import parse_pairs, parse_value
from rag.search.filters import Condition, Filter, loaded, parse_filter, stored
from rag.store import vectors as store_module
from rag.store.bm25 import BM25Index
from rag.store.vectors import FaissStore

MTIME = datetime.datetime(2025, 3, 4, 12, 0).timestamp()


def test_markdown_front_matter_and_modification_date(tmp_path):
    path = tmp_path / "plan.md"
    path.write_text("---\ntitle: Flood Plan\nauthor: Jane Doe\ncreated: 2025-06-01\nversion: 3\ndraft: true\n"
                    "tags: [a, b]\n---\n# Heading below\n\nRivers rise in spring.\n")
    os.utime(path, (MTIME, MTIME))
    doc = load_file(path)
    assert doc.metadata == {"title": "Flood Plan", "author": "Jane Doe", "created": datetime.date(2025, 6, 1), "version": 3,
                            "draft": "true", "modified": datetime.date(2025, 3, 4)}  # a list is no filterable value
    assert doc.text.startswith("---\ntitle: Flood Plan")  # the text is never changed: offsets stay the file's


def test_titles_come_from_the_first_heading(tmp_path):
    (tmp_path / "a.md").write_text("Intro line without punctuation\n\n# Real Title\n\nBody text here.\n")
    (tmp_path / "b.txt").write_text("Annual Report 2025\n\nThe year went well.\n")
    (tmp_path / "c.txt").write_text("The year went well. Profits rose.\nMore text.\n")
    (tmp_path / "d.md").write_text("---\n: bad yaml [\n---\nText only.\n")
    assert load_file(tmp_path / "a.md").metadata["title"] == "Real Title"
    assert load_file(tmp_path / "b.txt").metadata["title"] == "Annual Report 2025"
    assert "title" not in load_file(tmp_path / "c.txt").metadata  # a first sentence is no title
    assert set(load_file(tmp_path / "d.md").metadata) == {"modified"}  # unreadable front matter: none, the file still loads


@pytest.mark.parametrize("placeholder", ["about:blank", "Untitled", "untitled document", "Microsoft Word - report.doc",
                                         "Microsoft Word - Flood Plan", "Document1", "scan_0042.pdf", "  ", "12345"])
def test_a_placeholder_title_from_the_properties_gives_way_to_the_first_heading(tmp_path, placeholder):
    path = tmp_path / "plan.md"
    path.write_text(f"---\ntitle: '{placeholder}'\n---\n# Flood Plan 2025\n\nRivers rise in spring.\n")
    assert load_file(path).metadata["title"] == "Flood Plan 2025"
    path.write_text(f"---\ntitle: '{placeholder}'\n---\nRivers rise in spring. Then they fall.\n")
    assert "title" not in load_file(path).metadata  # no heading either: no title at all, never the placeholder
    path.write_text("---\ntitle: 'Word Report: Q3 Results'\n---\n# Other\n\nText.\n")
    assert load_file(path).metadata["title"] == "Word Report: Q3 Results"  # a real title is kept


def test_pdf_properties(tmp_path):
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Treaties were signed in Geneva.")
    pdf.set_title("Treaty Review")
    pdf.set_author("Li Wei")
    pdf.set_creation_date(datetime.datetime(2025, 6, 1, 9, 30, tzinfo=datetime.UTC))
    path = tmp_path / "review.pdf"
    pdf.output(str(path))
    doc = load_file(path)
    assert doc.text == "Treaties were signed in Geneva."
    meta = {k: v for k, v in doc.metadata.items() if k != "modified"}
    assert meta == {"title": "Treaty Review", "author": "Li Wei", "created": datetime.date(2025, 6, 1)}


def test_docx_properties(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("Memo about the budget.")
    document.core_properties.title = "Budget Memo"
    document.core_properties.author = "Ana Silva"
    document.core_properties.created = datetime.datetime(2024, 11, 5, 8, 0)
    path = tmp_path / "memo.docx"
    document.save(path)
    meta = load_file(path).metadata
    assert (meta["title"], meta["author"], meta["created"]) == ("Budget Memo", "Ana Silva", datetime.date(2024, 11, 5))


def test_user_values_are_typed():
    assert parse_pairs(["team=legal", "year=2025", "score=0.5", "due=2025-06-01", "code=007x"]) == {
        "team": "legal", "year": 2025, "score": 0.5, "due": datetime.date(2025, 6, 1), "code": "007x"}
    assert parse_value(" 1e3 ") == 1000.0 and parse_value("nan") == "nan"
    for bad, message in (["team"], "takes key=value"), (["source=x"], "not 'source'"), (["bad key=1"], "must be a name"):
        with pytest.raises(ConfigError, match=message):
            parse_pairs(bad)
    for value in ("text", 3, -7, 2.5, datetime.date(2025, 1, 2), 10**12, 2**60 + 1):
        assert loaded(*stored(value)) == value and type(loaded(*stored(value))) is type(value)


def test_filter_syntax():
    spec = parse_filter(["source=seeds/00*", "created>=2025-06-01", "team in legal, 'ops'", "year==2025"])
    assert spec == Filter((Condition("source", "=", ("seeds/00*",)), Condition("created", ">=", ("2025-06-01",)),
                           Condition("team", "=", ("legal", "ops")), Condition("year", "=", ("2025",))))
    assert str(spec) == "source=seeds/00* and created>=2025-06-01 and team in legal, ops and year=2025"
    assert parse_filter({"year": {">=": 2020, "<": 2025}, "team": ["a", "b"], "day": datetime.date(2025, 1, 2)}) == Filter((
        Condition("year", ">=", ("2020",)), Condition("year", "<", ("2025",)), Condition("team", "=", ("a", "b")),
        Condition("day", "=", ("2025-01-02",))))
    assert parse_filter(None) is None and parse_filter([]) is None and parse_filter(["  "]) is None
    assert parse_filter(spec) is spec and hash(spec) == hash(parse_filter(str(spec).split(" and ")))
    for bad, message in [("year >= soon", "a range needs a number or a date"), ("x ~ 1", "cannot read the filter"),
                         ({"year": {"!=": 1}}, "unknown filter operator"), (3, "filters take text"),
                         ({"x": [float("inf")]}, "must be finite"), ("team in ,", "has no value")]:
        with pytest.raises(ConfigError, match=message):
            parse_filter(bad)
    with pytest.raises(ConfigError, match="^unknown filter key 'colour'; this index knows: source, team$"):
        parse_filter("colour=red").check(["team"])


# --- filtered search inside the FAISS structures and BM25 -----------------------------------------

DIM = 32


@pytest.fixture(scope="module")
def vectors():
    return synthetic(3000, DIM, clusters=30, spread=0.75, seed=1), synthetic(40, DIM, clusters=30, spread=0.75, seed=2)


def exact_among(vectors, ids, allowed, queries, k):
    keep = np.isin(ids, allowed)
    scores = queries @ vectors[keep].T
    return ids[keep][np.argsort(-scores, axis=1, kind="stable")[:, :k]]


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
@pytest.mark.parametrize("share", [0.01, 0.5])
def test_filtered_faiss_search_returns_k_of_the_allowed(vectors, kind, share, monkeypatch):
    data, queries = vectors
    ids = np.arange(len(data), dtype=np.int64) * 7 + 3
    store = FaissStore(DIM, kind)
    store.add(ids, data)
    store.delete(ids[::10])  # dead rows in the approximate structure must never come back
    live = np.setdiff1d(ids, ids[::10])
    allowed = np.sort(np.random.default_rng(0).choice(live, int(len(live) * share), replace=False))
    monkeypatch.setattr(store_module, "EXACT_ALLOWED", 100)  # 0.5 goes through the ID selector, 0.01 scores exactly
    k = 10
    scores, found = store.search(queries, k, allowed=allowed)
    assert (found >= 0).all() and np.isin(found, allowed).all()  # k of the allowed, every time
    truth = exact_among(data, ids, allowed, queries, k)
    hit = np.mean([len(set(f) & set(t)) / k for f, t in zip(found.tolist(), truth.tolist())])
    assert hit >= (1.0 if kind == "flat" or share == 0.01 else 0.9)
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    few = store.search(queries[:1], 50, allowed=allowed[:3])[1][0]
    assert sorted(few[:3].tolist()) == sorted(allowed[:3].tolist()) and (few[3:] == -1).all()
    assert (store.search(queries[:1], 5, allowed=np.zeros(0, np.int64))[1] == -1).all()


def test_bm25_scores_only_allowed_chunks():
    texts = ["bees make honey", "bees sting", "honey is sweet", "trains run fast"]
    index = BM25Index.build([10, 20, 30, 40], texts)
    assert set(index.search("bees honey", 10)[1].tolist()) == {10, 20, 30}
    _, vids = index.search("bees honey", 10, mask=index.mask(np.asarray([20, 30, 40])))
    assert vids.tolist() == [30, 20] or vids.tolist() == [20, 30]
    assert index.search("bees honey", 10, mask=index.mask(np.asarray([40])))[1].tolist() == []
    assert index.mask(np.asarray([20, 40])).tolist() == [0.0, 1.0, 0.0, 1.0]


# --- the command line ---------------------------------------------------------------------------

def test_cli_meta_filter_and_titles(tmp_path, capsys, monkeypatch):
    import json

    from rag.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "plan.md").write_text("---\ntitle: Flood Plan\ncreated: 2025-06-01\n---\nThe flood plan covers the lower valley.\n")
    (tmp_path / "docs" / "budget.txt").write_text("Budget Notes\n\nThe budget grew by ten percent in 2025.\n")
    base = ["--index", "idx", "--model", "test-hash"]
    assert main(["index", "docs", *base, "--meta", "team=ops", "--meta", "year=2025", "--json"]) == 0
    capsys.readouterr()
    assert main(["docs", *base, "--json"]) == 0
    listed = {d["source"]: d["metadata"] for d in json.loads(capsys.readouterr().out)}
    assert listed["docs/plan.md"] | {"modified": None} == {"title": "Flood Plan", "created": "2025-06-01", "team": "ops",
                                                           "year": 2025, "modified": None}
    assert main(["docs", *base]) == 0
    assert "docs/budget.txt (Budget Notes)" in capsys.readouterr().out

    assert main(["search", "flood budget", *base, "--filter", "created>=2025-05-01", "--filter", "team=ops", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [(h["source"], h["title"], h["metadata"]["created"]) for h in hits] == [("docs/plan.md", "Flood Plan", "2025-06-01")]
    assert main(["search", "flood budget", *base, "--filter", "source=docs/b*"]) == 0
    assert capsys.readouterr().out.startswith("[1] docs/budget.txt (Budget Notes) chars")
    assert main(["search", "flood", *base, "--filter", "year<2000"]) == 0
    assert capsys.readouterr().out.strip() == "no indexed document matches --filter 'year<2000' (`rag docs` lists each one's metadata)"
    assert main(["ask", "what grew by ten percent?", *base, "--filter", "year<2000"]) == 0
    assert capsys.readouterr().out.startswith("no indexed document matches --filter 'year<2000'")
    assert main(["ask", "what grew by ten percent?", *base, "--filter", "source=docs/budget.txt"]) == 0
    assert "[1] docs/budget.txt (Budget Notes) chars" in capsys.readouterr().out
    assert main(["search", "flood", *base, "--filter", "colour=red"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown filter key 'colour'; this index knows: created, modified, source, team, title, year"
    assert main(["index", "docs", *base, "--meta", "year"]) == 1
    assert capsys.readouterr().err.strip() == "error: --meta takes key=value, not 'year'"


# --- LangChain and MCP: the same filters, the metadata with every passage --------------------------

@pytest.fixture
def tagged_rag(tmp_path):
    from rag import Document, Rag, Settings

    rag = Rag(Settings(index_path=str(tmp_path / "index"), embedding_model="test-hash", chunk_tokens=24, chunk_overlap=4))
    rag.add_documents([
        Document.from_text("geo/volcanoes.txt", "Volcano Notes\nVolcanoes erupt when magma rises. Etna is active in Sicily.",
                           {"team": "geo", "created": datetime.date(2025, 5, 2)}),
        Document.from_text("bio/bees.txt", "Bee Notes\nWorker bees collect nectar and pollen from flowers.",
                           {"team": "bio", "created": datetime.date(2025, 6, 15)}),
    ])  # fmt: skip
    return rag


def test_langchain_retriever_filters_and_metadata(tagged_rag):
    import asyncio

    from rag.integrations.langchain import RagRetriever, document_to_hit

    retriever = RagRetriever(rag=tagged_rag, k=5, filters=["created>=2025-06-01"])
    documents = retriever.invoke("what do bees and volcanoes do")
    assert documents and {d.metadata["source"] for d in documents} == {"bio/bees.txt"}
    meta = documents[0].metadata
    assert (meta["title"], meta["team"], meta["created"]) == ("Bee Notes", "bio", "2025-06-15")
    assert document_to_hit(documents[0], 1) == tagged_rag.search("what do bees and volcanoes do", k=5, filters=retriever.filters)[0]
    assert [d.id for d in asyncio.run(retriever.ainvoke("what do bees and volcanoes do"))] == [d.id for d in documents]
    assert RagRetriever(rag=tagged_rag, filters={"team": "chemistry"}).invoke("bees") == []
    with pytest.raises(ConfigError, match="unknown filter key 'colour'"):
        RagRetriever(rag=tagged_rag, filters="colour=red").invoke("bees")
    with pytest.raises(ConfigError, match="a range needs a number or a date"):
        RagRetriever(rag=tagged_rag, filters="created>=soon")


def test_mcp_tools_take_filters_and_return_metadata(tagged_rag):
    import anyio
    from mcp import Client

    from rag.integrations.mcp import build_server

    async def session():
        async with Client(build_server(tagged_rag)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            calls = [("search", {"query": "bees volcanoes", "filters": ["team=geo"]}),
                     ("ask", {"question": "What do worker bees collect?", "filters": ["source=bio/*"]}),
                     ("ask", {"question": "What do worker bees collect?", "filters": ["team=chemistry"]}),
                     ("search", {"query": "bees", "filters": ["colour=red"]}),
                     ("list_documents", {})]
            return tools, [await client.call_tool(name, arguments) for name, arguments in calls]

    tools, (found, answer, nothing, unknown, listed) = anyio.run(session)
    assert "filters" in tools["search"].input_schema["properties"] and "filters" in tools["ask"].input_schema["properties"]
    passages = found.structured_content["result"]
    assert passages and {p["source"] for p in passages} == {"geo/volcanoes.txt"}
    assert passages[0]["metadata"] == {"team": "geo", "created": "2025-05-02", "title": "Volcano Notes"}
    assert passages[0]["title"] == "Volcano Notes"
    assert not answer.is_error and {c["source"] for c in answer.structured_content["citations"]} == {"bio/bees.txt"}
    assert nothing.structured_content["abstained"] and nothing.structured_content["passages"] == []
    assert unknown.is_error and unknown.content[0].text.endswith("unknown filter key 'colour'; this index knows: created, source, team, title")
    assert {d["source"]: d["title"] for d in listed.structured_content["result"]} == {"bio/bees.txt": "Bee Notes",
                                                                                       "geo/volcanoes.txt": "Volcano Notes"}


def test_ui_filter_box_document_picker_titles_and_api(tagged_rag):
    from ui.handlers import Handlers

    ui = Handlers(tagged_rag)
    fresh = {"turns": [], "messages": []}
    *_, (messages, *_) = ui.chat("What do worker bees collect?", fresh, "extractive", 5, "source=bio/*; created>=2025-06-01")
    html = messages[-1]["content"]
    assert "nectar" in html and "Bee Notes" in html and "volcanoes.txt" not in html
    *_, (messages, *_) = ui.chat("What do worker bees collect?", fresh, "extractive", 5, "source=volcanoes.txt")
    assert "Volcano Notes" in messages[-1]["content"] and "bees.txt" not in messages[-1]["content"]  # a bare file name
    assert ui.picker_choices() == [("Bee Notes · bees.txt", "bio/bees.txt"), ("Volcano Notes · volcanoes.txt", "geo/volcanoes.txt")]
    *_, (messages, *_) = ui.chat("What do worker bees collect?", fresh, "extractive", 5, "", ["geo/volcanoes.txt"])
    assert "Volcano Notes" in messages[-1]["content"] and "bees.txt" not in messages[-1]["content"]  # the picked one only
    *_, (messages, _, panel, kept, _, hint) = ui.chat("What do worker bees collect?", fresh, "extractive", 5, "team=chemistry")
    assert "No indexed document matches the chosen documents and filter" in hint and kept == "What do worker bees collect?"
    assert messages == [] and "Ask a question to see" in panel  # no stale passages, the question kept to correct
    *_, (messages, state, *_, hint) = ui.chat("What do worker bees collect?", fresh, "extractive", 5, "colour=red")
    assert "unknown filter key &#x27;colour&#x27;; this index knows: created, source, team, title" in hint
    assert state["turns"] == []  # a failed turn is no follow-up base
    assert ui.document_table() == [["Bee Notes", "bees.txt", 1], ["Volcano Notes", "volcanoes.txt", 1]]
    found = ui.search("bees volcanoes", 5, "team=geo")
    assert [(h["source"], h["title"], h["metadata"]["created"]) for h in found] == [("geo/volcanoes.txt", "Volcano Notes", "2025-05-02")]
    assert {h["source"] for h in ui.ask("What do bees collect?", filters="team=bio")["passages"]} == {"bio/bees.txt"}
    assert {h["source"] for h in ui.ask("What do bees collect?", filters="source=bees.txt")["passages"]} == {"bio/bees.txt"}


def test_bench_scale_prints_the_filtered_search(tmp_path, capsys):
    import json

    from rag.cli import main

    out = tmp_path / "scale"
    args = ["bench", "scale", "--sizes", "3000", "--kinds", "flat,ivfpq", "--dim", "32", "--queries", "20", "--clusters", "30",
            "--filter-share", "0.02", "--index-chunks", "2000", "--out", str(out)]
    assert main(args) == 0
    result = json.loads((out / "results.json").read_text())
    rows = [r for r in result["rows"] if "allowed" in r]
    assert [(r["kind"], r["allowed"], r["min_returned"]) for r in rows] == [("flat", 60, 10), ("ivfpq", 60, 10)]
    assert all(r["recall"] == 1.0 and r["p50_ms"] > 0 and r["unfiltered_p50_ms"] > 0 for r in rows)  # 60 allowed: exact
    table = capsys.readouterr().out
    assert "Filtered search (a fixed random 2.0% of the vectors allowed" in table and "| 3,000 | ivfpq | 60 |" in table
    index = result["index_filtered"]  # through Rag.search: 100 documents of 100 chunks, one group of them kept
    assert (index["chunks"], index["kept_chunks"]) == (10_000, 100) and [r["mode"] for r in index["rows"]] == ["dense", "bm25", "hybrid"]
    assert all(r["fewest_returned"] == 10 for r in index["rows"] if r["mode"] != "bm25")  # BM25: only chunks holding a query word
    assert "Filtered search through the folder backend (`Rag.search`, k=10): 10,000 chunks (flat)" in table
