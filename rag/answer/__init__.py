"""Answer: a question and its passages in, a `Draft` of claims with `[n]` citations out.

The flow and the `Answerer` protocol (`flow`), answerer specs and dotted paths (`answerers`), the
default extractive answerers (`extractive`, `reading`) with the span reader (`reader`,
`reader_torch`) and English rules (`english`, `dates`, `places`), LLM answerers (`llm`, `prompt`),
and the check that a claim answers the question (`relevance`). Every draft is verified by rag.verify
before it is shown.
"""
