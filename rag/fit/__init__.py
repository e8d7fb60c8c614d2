"""Fit: training data in, the fitted parameter files the answerers ship out.

`reader` fits the span reader (torch needed), `relevance` the relevance floor; both write into
rag/answer/params.
"""
