"""Adapters for other frameworks: `rag.integrations.langchain` (a retriever and a verifier for LCEL
chains). Each module imports its framework, an optional extra; importing this package imports none."""
