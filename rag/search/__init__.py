"""Search: a query in, ranked `Hit`s out.

Metadata filters (`filters`), reciprocal rank fusion (`fusion`), the optional cross-encoder second
stage and the `Reranker` protocol (`rerank`), and the `Retriever` that runs a backend's first stage
and then the reranker (`retrieve`).
"""
