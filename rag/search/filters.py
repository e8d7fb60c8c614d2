"""Metadata filters: which documents a search may return, parsed once into a frozen `Filter`.

    source=seeds/00*            the document's source, a glob (* any characters, ? one)
    source=report.pdf           a bare file name: the document of that name in any folder
    author=Jane Doe             equality (a number or a date compares as one: year=2025, created=2025-06-01)
    author in Jane Doe, Li Wei  any of these
    created>=2025-06-01         a range, on dates (YYYY-MM-DD) or numbers: > >= < <=

Several conditions must all hold. Each backend turns a `Filter` into SQL over its metadata table
(`Filter.sql`): the folder's SQLite and PostgreSQL read the same rows the same way, so both
backends keep the same documents. A key the index does not know is a one-line error naming the
known ones; a filter that keeps nothing is an empty result, not an error.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from ..errors import ConfigError
from ..ingest.metadata import KEY, parse_value
from ..types import MetaValue

RANGES = (">=", "<=", ">", "<")
CONDITION = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(>=|<=|==|=|>|<|\s+in\s+)\s*(.*?)\s*", re.DOTALL)
SYNTAX = "key=value, key in a, b, key>=2025-06-01 (or > < <=), source=folder/*"
MAX_CONDITIONS = 32
MAX_VALUES = 100
GLOB = re.compile(r"[*?]")

# How a stored value is kept, in either backend's metadata table (source, key, kind, text, number):
# text values in `text`; numbers in `number` (and their digits in `text`); dates as ISO text in
# `text` and their day number in `number`, so ranges on dates compare numbers.
KINDS = ("text", "number", "date")


def stored(value: MetaValue) -> tuple[str, str, float | None]:
    """(kind, text, number) of a metadata value, as both backends store it."""
    if isinstance(value, datetime.date):
        return "date", value.isoformat(), float(value.toordinal())
    if isinstance(value, int | float):
        return "number", repr(value), float(value)
    return "text", value, None


def loaded(kind: str, text: str, number: float | None) -> MetaValue:
    """The metadata value a stored row holds."""
    if kind == "date":
        return datetime.date.fromisoformat(text)
    if kind == "number" and number is not None:
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else number  # an int keeps every digit
    return text


@dataclass(frozen=True)
class Condition:
    key: str
    op: str  # "=" (each of `values`, any matching), or a range: >= <= > <
    values: tuple[str, ...]  # as typed; "=" compares each as text, number and date alike

    def __str__(self) -> str:
        if self.op == "=" and len(self.values) > 1:
            return f"{self.key} in {', '.join(self.values)}"
        return f"{self.key}{self.op}{self.values[0]}"


@dataclass(frozen=True)
class Filter:
    """Conditions that must all hold for a document's passages to be searched."""

    conditions: tuple[Condition, ...]

    def __str__(self) -> str:
        return " and ".join(map(str, self.conditions))

    @property
    def keys(self) -> set[str]:
        return {c.key for c in self.conditions}

    def check(self, known: Collection[str]) -> Filter:
        """This filter, when the index knows each of its keys; else a one-line ConfigError."""
        unknown = sorted(self.keys - set(known) - {"source"})
        if unknown:
            names = ", ".join(sorted(set(known) | {"source"}))
            raise ConfigError(f"unknown filter key '{unknown[0]}'; this index knows: {names}")
        return self

    def sql(self, *, documents: str, metadata: str, dialect: str) -> tuple[str, dict]:
        """A WHERE condition on `documents`.source (a column reference such as "d.source") that
        holds for the documents this filter keeps, and its named parameters. `dialect`: sqlite or postgres."""
        params: dict = {}

        def mark(value: object) -> str:
            name = f"filter_{len(params)}"
            params[name] = value
            return f":{name}" if dialect == "sqlite" else f"%({name})s"

        parts = []
        for cond in self.conditions:
            if cond.key == "source":
                parts.append(_source_sql(cond, documents, mark, dialect))
            else:
                value = _value_sql(cond, mark, dialect)
                parts.append(f"EXISTS (SELECT 1 FROM {metadata} m WHERE m.source = {documents} AND m.key = {mark(cond.key)} AND ({value}))")
        return " AND ".join(parts) or "TRUE", params


def _bound(cond: Condition) -> tuple[str, float]:
    """(kind, number) a range compares with: a date's day number, or a number."""
    value = parse_value(cond.values[0])
    if isinstance(value, datetime.date):
        return "date", float(value.toordinal())
    if isinstance(value, int | float):
        return "number", float(value)
    raise ConfigError(f"filter {cond}: a range needs a number or a date (YYYY-MM-DD), not {cond.values[0]!r}")


def _glob_sql(column: str, mark, dialect: str, pattern: str) -> str:
    """`column` matching a glob where only * and ? are wildcards: SQLite's GLOB, PostgreSQL's LIKE."""
    if dialect == "sqlite":
        literal = re.sub(r"[\[\]]", lambda m: f"[{m.group()}]", pattern)  # [ and ] match themselves
        return f"{column} GLOB {mark(literal)}"
    like = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%").replace("?", "_")
    return f"{column} LIKE {mark(like)} ESCAPE '\\'"


def _source_sql(cond: Condition, column: str, mark, dialect: str) -> str:
    if cond.op != "=":
        raise ConfigError(f"filter {cond}: source takes = or in (with * and ? as wildcards), not a range")
    parts = []
    for v in cond.values:
        if GLOB.search(v):
            parts.append(_glob_sql(column, mark, dialect, v))
        elif "/" in v or "\\" in v:
            parts.append(f"{column} = {mark(v)}")
        else:  # a bare file name: the document of that name, in whatever folder it was indexed from
            parts.append(f"({column} = {mark(v)} OR {_glob_sql(column, mark, dialect, '*/' + v)})")
    return "(" + " OR ".join(parts) + ")"


def _value_sql(cond: Condition, mark, dialect: str) -> str:
    if cond.op in RANGES:
        kind, number = _bound(cond)
        return f"m.kind = '{kind}' AND m.number {cond.op} {mark(number)}"
    parts = []
    for value in cond.values:
        if GLOB.search(value):
            parts.append(f"(m.kind = 'text' AND {_glob_sql('m.text', mark, dialect, value)})")
            continue
        parts.append(f"(m.kind = 'text' AND m.text = {mark(value)})")
        typed = parse_value(value)
        if isinstance(typed, datetime.date):
            parts.append(f"(m.kind = 'date' AND m.text = {mark(typed.isoformat())})")
        elif isinstance(typed, int | float):
            parts.append(f"(m.kind = 'number' AND m.number = {mark(float(typed))})")
    return " OR ".join(parts)


def split_conditions(text: str) -> list[str]:
    """One text box's conditions (the UI's): separated by semicolons or new lines."""
    return [part.strip() for part in re.split(r"[;\n]", text or "") if part.strip()]


def parse_filter(spec: object) -> Filter | None:
    """A `Filter` from what a caller gives: None or empty (no filter), a `Filter`, one condition as
    text ("created>=2025-06-01"), a list of them, or a mapping {"source": "seeds/*", "year":
    {">=": 2020}, "author": ["Jane", "Li"]}. A malformed one is a one-line ConfigError."""
    if spec is None or isinstance(spec, Filter):
        return spec
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Mapping):
        conditions = [c for key, value in spec.items() for c in _from_mapping(key, value)]
    elif isinstance(spec, Iterable):
        conditions = []
        for item in spec:
            if not isinstance(item, str):
                raise ConfigError(f"a filter is text such as {SYNTAX}; not {type(item).__name__}")
            if item.strip():
                conditions.append(_from_text(item))
    else:
        raise ConfigError(f"filters take text such as {SYNTAX}, a list of them, or a mapping; not {type(spec).__name__}")
    if len(conditions) > MAX_CONDITIONS:
        raise ConfigError(f"at most {MAX_CONDITIONS} filter conditions, not {len(conditions)}")
    return Filter(tuple(conditions)) if conditions else None


def _from_text(text: str) -> Condition:
    match = CONDITION.fullmatch(text)
    if not match or not match.group(3):
        raise ConfigError(f"cannot read the filter {text.strip()!r}; write {SYNTAX}")
    key, op, value = match.group(1), match.group(2).strip(), match.group(3)
    if op == "in":
        return _condition(key, "=", [v.strip().strip("\"'") for v in value.split(",")])
    return _condition(key, "=" if op == "==" else op, [value.strip("\"'")])


def _from_mapping(key: object, value: object) -> list[Condition]:
    if isinstance(value, Mapping):
        return [_condition(key, op, [_text(v)]) for op, v in value.items()]
    if isinstance(value, list | tuple | set | frozenset):
        return [_condition(key, "=", [_text(v) for v in value])]
    return [_condition(key, "=", [_text(value)])]


def _text(value: object) -> str:
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"a filter value must be finite, not {value!r}")
    if isinstance(value, str | int | float):
        return str(value)
    raise ConfigError(f"a filter value is text, a number or a date, not {type(value).__name__}")


def _condition(key: object, op: object, values: list[str]) -> Condition:
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise ConfigError(f"a filter key is a name of letters, digits, _ . - ; not {key!r}")
    if op not in ("=", *RANGES):
        raise ConfigError(f"unknown filter operator {op!r} for {key}; known: = in >= <= > <")
    values = [v for v in values if v != ""]
    if not values:
        raise ConfigError(f"the filter on {key} has no value; write {SYNTAX}")
    if len(values) > MAX_VALUES:
        raise ConfigError(f"the filter on {key} lists {len(values)} values; at most {MAX_VALUES}")
    cond = Condition(key, str(op), tuple(values))
    if cond.op in RANGES:
        if key == "source":
            raise ConfigError(f"filter {cond}: source takes = or in (with * and ? as wildcards), not a range")
        _bound(cond)  # a number or a date, or the error now
    return cond
