"""Ingest: files and folders in, `Document`s and `Chunk`s out.

Loaders for .txt/.md/.html/.pdf/.docx and images (`documents`, with `pdf`, `ocr`, `layout`, `docx`,
`htmltext`), the metadata a file carries (`metadata`), headings (`sections`), token-bounded chunking
(`chunks`) and the per-file time budget (`budget`). Nothing here embeds or stores.
"""
