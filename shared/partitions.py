"""Partition helpers: the one partition-key parser and cutoff arithmetic.

Multi-partition keys order their dimensions alphabetically by name, so a
``cutoff × division`` key string is ``"<cutoff>|<division>"``. Real runs hand
assets a :class:`dagster.MultiPartitionKey`; ``build_asset_context`` with a
string key hands a plain ``str``. :func:`parse_partition_key` accepts both.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Annotated

import dagster as dg
from pydantic import BeforeValidator

NAME_RE = re.compile(r"^[a-z0-9_-]+$")
MAX_NAME_LEN = 64  # a partition value is also a path segment and part of MLflow model names
CUTOFF_DIM = "cutoff"


def validate_name(value: str, what: str = "name") -> str:
    """Return ``value`` if it is a valid partition dimension value, else raise.

    Valid: lowercase letters, digits, ``_`` and ``-`` (``|``, ``,``, ``[``, ``]``
    break multi-partition keys and Dagster does not check them for us), at most
    ``MAX_NAME_LEN`` characters.
    """
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(
            f"invalid {what} {value!r}: use lowercase letters, digits, '_' or '-' "
            f"(pattern {NAME_RE.pattern}); it becomes part of a Dagster partition key"
        )
    if len(value) > MAX_NAME_LEN:
        raise ValueError(
            f"invalid {what} {value[:20]!r}... ({len(value)} characters): at most {MAX_NAME_LEN}; "
            "it becomes a lake path segment and part of a registered model name"
        )
    return value


def partition_key(name: str) -> str:
    """The partition-safe key of a name as data or config spell it (``"CAD Seats"`` →
    ``"cad_seats"``, ``"Post_Processing"`` → ``"post_processing"``).

    The one stable mapping (a pure function of the text): surrounding blanks dropped,
    lower-cased, every run of characters other than ``a-z``, ``0-9``, ``_`` and ``-``
    (spaces, punctuation, non-ASCII letters) replaced by one ``_``. A valid partition
    name is its own key. The key may still be unusable (empty, no letter or digit,
    too long): :func:`partition_keys` checks that and collisions.
    """
    return re.sub(r"[^a-z0-9_-]+", "_", str(name).strip().lower())


def _key_problem(name: object, key: str) -> str | None:
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not a string"
    if not re.search(r"[a-z0-9]", key):
        return "has no letter or digit"
    if len(key) > MAX_NAME_LEN:
        return f"is {len(key)} characters (at most {MAX_NAME_LEN})"
    return None


def partition_keys(
    names: Iterable[str], what: str, labels: Sequence[str] | None = None
) -> dict[str, str]:
    """``{name: partition_key(name)}`` for every distinct name, or one ``ValueError``.

    The error is one line listing every name whose key is unusable (empty, no letter
    or digit, longer than ``MAX_NAME_LEN``) and every group of distinct names sharing
    one key (``'Hardware', 'hardware' -> 'hardware'``), each named by its label when
    ``labels`` (one per name, e.g. ``divisions.3``) is given.
    """
    names = list(names)
    tags = list(labels) if labels is not None else [""] * len(names)
    out: dict[str, str] = {}
    bad: list[str] = []
    owners: dict[str, list[str]] = {}
    for name, tag in zip(names, tags, strict=True):
        key = partition_key(name) if isinstance(name, str) else ""
        shown = f"{tag} {str(name)[:40]!r}".strip()
        problem = _key_problem(name, key)
        if problem:
            bad.append(f"{shown} {problem}")
            continue
        if name not in out:
            out[name] = key
            owners.setdefault(key, []).append(repr(name))
    clashes = [f"{', '.join(n)} -> {k!r}" for k, n in owners.items() if len(n) > 1]
    if bad or clashes:
        parts = ([f"unusable: {'; '.join(bad)}"] if bad else []) + (
            [f"different names with one key: {'; '.join(clashes)}"] if clashes else []
        )
        raise ValueError(
            f"invalid {what} names ({' | '.join(parts)}); a name becomes a partition key by "
            "lower-casing it and replacing other characters than a-z, 0-9, '_' and '-' with '_'"
        )
    return out


def to_date(value: date | datetime | str) -> date:
    """Parse an ISO date string (or pass a date through)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _cutoff_list(values: Sequence[date | datetime | str]) -> list[date]:
    if not values:
        raise ValueError("cutoffs is empty: list at least one month-end date")
    return [to_date(v) for v in values]


CutoffList = Annotated[list[date], BeforeValidator(_cutoff_list)]
"""Pydantic field type of a config's ``cutoffs``: ISO strings or dates, at least one."""


def month_end(d: date) -> date:
    """Last day of the month of ``d``."""
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def add_months(d: date, months: int) -> date:
    """Month arithmetic that keeps month ends as month ends.

    ``add_months(2024-02-29, 6) == 2024-08-31`` when the input is a month end;
    otherwise the day is clipped to the target month's length.
    """
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    last = calendar.monthrange(year, month)[1]
    if d == month_end(d):
        return date(year, month, last)
    return date(year, month, min(d.day, last))


def month_ends(start: date, end: date) -> list[date]:
    """Every month end in ``[start, end]``, ascending."""
    out: list[date] = []
    d = month_end(start)
    while d <= end:
        out.append(d)
        d = add_months(d, 1)
    return out


def cutoff_multi_partitions(
    dim: str, values: Sequence[str], cutoffs: Sequence[date | str]
) -> dg.MultiPartitionsDefinition:
    """``cutoff × <dim>`` multi-partitions with validated names.

    Args:
        dim: name of the second dimension (``division``, ``bu_id``, ``target``).
        values: its static values (validated with :func:`validate_name`).
        cutoffs: month-end cutoff dates (ISO strings or dates).
    """
    validate_name(dim, "dimension name")
    for v in values:
        validate_name(v, dim)
    keys = [to_date(c).isoformat() for c in cutoffs]
    return dg.MultiPartitionsDefinition(
        {
            CUTOFF_DIM: dg.StaticPartitionsDefinition(keys),
            dim: dg.StaticPartitionsDefinition(list(values)),
        }
    )


def parse_partition_key(
    key: str | dg.MultiPartitionKey, dims: Sequence[str] = (CUTOFF_DIM, "division")
) -> dict[str, str]:
    """Split a partition key into ``{dimension: value}``.

    Args:
        key: a :class:`dagster.MultiPartitionKey` (real runs) or its string form
            ``"a|b"`` with values ordered alphabetically by dimension name
            (``build_asset_context``), or a single-dimension key when
            ``len(dims) == 1``.
        dims: dimension names of the partitions definition.

    Raises:
        ValueError: the key does not have one value per dimension.
    """
    if isinstance(key, dg.MultiPartitionKey):
        by_dim = dict(key.keys_by_dimension)
        missing = set(dims) - set(by_dim)
        if missing:
            raise ValueError(f"partition key {key!r} lacks dimensions {sorted(missing)}")
        return {d: by_dim[d] for d in dims}
    if len(dims) == 1:
        return {dims[0]: str(key)}
    parts = str(key).split("|")
    ordered = sorted(dims)
    if len(parts) != len(ordered):
        raise ValueError(
            f"partition key {key!r} does not have one value per dimension {ordered} "
            "(multi-partition key strings order dimensions alphabetically, joined by '|')"
        )
    return dict(zip(ordered, parts, strict=True))


def multi_key(**values: str) -> dg.MultiPartitionKey:
    """Build a :class:`dagster.MultiPartitionKey` from keyword values (tests, scripts)."""
    return dg.MultiPartitionKey(values)


def context_partition_keys(
    context: dg.AssetExecutionContext, dims: Sequence[str] = (CUTOFF_DIM, "division")
) -> list[dict[str, str]]:
    """All partitions of this run as parsed dicts.

    A single-run backfill over a multi-partition becomes one run per key range,
    so assets that accept ranges loop over this list instead of reading
    ``context.partition_key``.
    """
    return [parse_partition_key(k, dims) for k in context.partition_keys]
