"""Benchmarks behind `rag bench NAME`: one module per benchmark, each with `add_parser(subparsers)`.

They measure the public API (`Rag`, `Settings`, `Document`) and never reach into the index.
"""
