"""Verify: claims and their sources in, verified `Citation`s out.

Every quote is cut from the source text and must support the claim it ends (`claims`, with `roles`
for who said or did what); `align` and `locate` find a quote in an OCR'd or re-laid-out text, and
`pageview` finds its boxes on the PDF page.
"""
