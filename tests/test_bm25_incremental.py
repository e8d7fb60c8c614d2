"""BM25 follows incremental index updates: new, changed and removed documents."""

from rag import Document, Rag, Settings


def bm25_sources(rag: Rag, query: str) -> list[str]:
    return [hit.chunk.source for hit in rag.search(query, k=10, mode="bm25")]


def make_rag(tmp_path) -> Rag:
    return Rag(Settings(index_path=str(tmp_path / "index"), embedding_model="test-hash"))


DOCS = [
    Document.from_text("zebra.txt", "The zebra grazes on the savanna grass near the river."),
    Document.from_text("walrus.txt", "A walrus rests on the arctic ice floe in winter."),
    Document.from_text("heron.txt", "The grey heron waits motionless in shallow water."),
]


def test_new_document_is_found_after_adding(tmp_path):
    rag = make_rag(tmp_path)
    rag.add_documents(DOCS)
    assert bm25_sources(rag, "platypus") == []
    platypus = Document.from_text("platypus.txt", "The platypus lays eggs and hunts by electroreception.")
    report = rag.add_documents([platypus])
    assert report.new == ("platypus.txt",) and report.embedded == 1
    assert bm25_sources(rag, "platypus eggs") == ["platypus.txt"]
    # earlier documents are still searchable after the lexical index was rebuilt
    assert bm25_sources(rag, "walrus") == ["walrus.txt"]
    # and a fresh process sees the same saved BM25 index
    assert bm25_sources(make_rag(tmp_path), "platypus") == ["platypus.txt"]


def test_changed_document_loses_its_old_text(tmp_path):
    rag = make_rag(tmp_path)
    rag.add_documents(DOCS)
    assert bm25_sources(rag, "savanna") == ["zebra.txt"]
    report = rag.add_documents([Document.from_text("zebra.txt", "Zebras were moved to a wildlife park in the hills.")])
    assert report.changed == ("zebra.txt",) and report.embedded == 1
    assert bm25_sources(rag, "savanna") == []
    assert bm25_sources(rag, "wildlife park") == ["zebra.txt"]
    hits = rag.search("wildlife park", k=10, mode="bm25")
    assert hits[0].chunk.text == "Zebras were moved to a wildlife park in the hills."


def test_removed_document_is_no_longer_found(tmp_path):
    rag = make_rag(tmp_path)
    rag.add_documents(DOCS)
    assert bm25_sources(rag, "heron") == ["heron.txt"]
    report = rag.remove(["heron.txt"])
    assert report.removed == ("heron.txt",)
    assert bm25_sources(rag, "heron") == []
    assert bm25_sources(rag, "shallow water motionless") == []
    assert sorted(source for source, _ in rag.documents()) == ["walrus.txt", "zebra.txt"]


def test_indexing_twice_embeds_nothing(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for doc in DOCS:
        (folder / doc.source).write_text(doc.text)
    rag = Rag(Settings(index_path=str(tmp_path / "files-index"), embedding_model="test-hash"))
    first = rag.index([folder])
    assert first.embedded == 3 and len(first.new) == 3
    second = rag.index([folder])
    assert (second.embedded, second.new, second.changed, second.removed, second.unchanged) == (0, (), (), (), 3)
    assert [s.rsplit("/", 1)[-1] for s in bm25_sources(rag, "walrus arctic")] == ["walrus.txt"]

    memory = make_rag(tmp_path)
    assert memory.add_documents(DOCS).embedded == 3
    again = memory.add_documents(DOCS)
    assert (again.embedded, again.new, again.unchanged) == (0, (), 3)
    assert bm25_sources(memory, "walrus arctic") == ["walrus.txt"]
