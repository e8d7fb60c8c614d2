"""Kept for one release: `rag.pageview` moved to `rag.verify.pageview` (docs/CHANGELOG.md)."""

from .verify.pageview import PageView, page_view, quote_boxes, render_page, with_boxes

__all__ = ["PageView", "page_view", "quote_boxes", "render_page", "with_boxes"]
