"""Store: documents, chunks and vectors in; an index that answers first-stage searches out.

The backend contract and its registry (`backend`), the folder backend (`folder`, whose format is
`index`: FAISS vectors in `vectors`, SQLite chunks in `chunkstore`, BM25 in `bm25`), the PostgreSQL
+ pgvector backend (`pgindex`, `pgstore`), and the one incremental update path every backend applies
(`incremental`). A store never embeds; it takes vectors plus ids.
"""
