"""Evaluation: QA sets in, scores and reports out.

`evaluate` runs a QA set through the public API; `metrics` holds the ranking metrics; `report`
writes JSON, Markdown and a chart; `feedback` keeps users' 👍/👎 and exports them as QA items.
"""
