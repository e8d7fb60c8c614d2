"""Calendar dates written in English prose, as day ranges: "June 23 to 27, 2025", "24 June 2025",
"30 June to 1 July", "Day One (24 June 2025)". English month names; tested table-driven
(tests/test_dates.py). Used to see that two documents give different dates for one event.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), start=1)}
MONTHS |= {m[:3]: i for m, i in list(MONTHS.items())} | {"sept": 9}
# a month as prose capitalizes it, the longest name first ("June" before "Jun")
_MONTH = "(?P<{}>(?:" + "|".join(m.capitalize() for m in sorted(MONTHS, key=len, reverse=True)) + r")\.?)"
_DAY = r"(?P<{}>[0-3]?\d)(?:st|nd|rd|th)?"
_TO = r"\s*(?:to|until|till|through|-|–|—)\s*"
_YEAR = r"(?:,?\s+(?P<year>(?:19|20)\d\d))?"
# the longest forms first: a range, then a single day
PATTERNS = [re.compile(p) for p in (  # months are capitalized in prose: "may" is no month
    rf"\b{_DAY.format('d1')}\s+{_MONTH.format('m1')}{_TO}{_DAY.format('d2')}\s+{_MONTH.format('m2')}{_YEAR}",  # 30 June to 1 July
    rf"\b{_MONTH.format('m1')}\s+{_DAY.format('d1')}{_TO}{_MONTH.format('m2')}\s+{_DAY.format('d2')}\b{_YEAR}",  # June 30 to July 1
    rf"\b{_DAY.format('d1')}{_TO}{_DAY.format('d2')}\s+{_MONTH.format('m1')}{_YEAR}",  # 23 to 27 June 2025
    rf"\b{_MONTH.format('m1')}\s+{_DAY.format('d1')}{_TO}{_DAY.format('d2')}\b{_YEAR}",  # June 23 to 27, 2025
    rf"\b{_DAY.format('d1')}\s+{_MONTH.format('m1')}{_YEAR}",  # 24 June 2025
    rf"\b{_MONTH.format('m1')}\s+{_DAY.format('d1')}\b{_YEAR}",  # June 25, 2025
)]
YEAR = re.compile(r"\b(?:19|20)\d\d\b")


@dataclass(frozen=True)
class Days:
    """A span of calendar days as written at [start, end) of a text."""

    first: datetime.date
    last: datetime.date
    start: int
    end: int

    def overlaps(self, other: Days) -> bool:
        return self.first <= other.last and other.first <= self.last

    @property
    def several(self) -> bool:
        return self.first != self.last


def days(text: str, year: int | None = None) -> list[Days]:
    """Every date with a day in `text`, in order; a date without a year takes the nearest year the
    text writes, else `year`, else none is given (it is left out)."""
    taken: list[tuple[int, int]] = []
    out = []
    for pattern in PATTERNS:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            groups = m.groupdict()
            y = int(groups["year"]) if groups.get("year") else _nearest_year(text, m.start()) or year
            if y is None:
                continue
            m1 = MONTHS[groups["m1"].lower().rstrip(".")]
            m2 = MONTHS[groups["m2"].lower().rstrip(".")] if groups.get("m2") else m1
            d2 = groups.get("d2") or groups["d1"]
            taken.append((m.start(), m.end()))  # a date that is no day ("June 31") is no shorter date either
            try:
                first, last = datetime.date(y, m1, int(groups["d1"])), datetime.date(y, m2, int(d2))
            except ValueError:
                continue
            if first <= last:
                out.append(Days(first, last, m.start(), m.end()))
    return sorted(out, key=lambda d: d.start)


def first_year(*texts: str) -> int | None:
    """The first year written in the first of `texts` that writes one."""
    for text in texts:
        if found := YEAR.search(text):
            return int(found.group())
    return None


def _nearest_year(text: str, at: int) -> int | None:
    years = [(abs(m.start() - at), int(m.group())) for m in YEAR.finditer(text)]
    return min(years)[1] if years else None


def written(d: Days) -> str:
    """The days as prose writes them: "24 June 2025", "24–26 June 2025", "30 June – 2 July 2025"."""
    a, b = d.first, d.last
    if a == b:
        return f"{a.day} {a:%B} {a.year}"
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.day}–{b.day} {a:%B} {a.year}"
    if a.year == b.year:
        return f"{a.day} {a:%B} – {b.day} {b:%B} {a.year}"
    return f"{a.day} {a:%B} {a.year} – {b.day} {b:%B} {b.year}"


def span(dates: list[Days]) -> Days | None:
    """The days from the first to the last of `dates` (offsets: the first's)."""
    if not dates:
        return None
    first = min(dates, key=lambda d: d.first)
    return Days(first.first, max(d.last for d in dates), first.start, first.end)
