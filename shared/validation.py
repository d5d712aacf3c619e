"""Input contracts: validate a table and fail with an error a person can act on.

Every error names the table, the column, how many rows break the rule and a
few example rows (with their key columns), and is raised *before* anything
downstream is written. Schemas are pandera polars models kept per code
location in ``<location>/schemas.py``; the relational rules pandera does not
express (foreign keys, dates after the data's as-of date) live here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandera.errors as pa_errors
import polars as pl

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``n_rows`` rows of ``table`` break ``rule`` on ``column``."""

    table: str
    column: str
    rule: str
    n_rows: int
    examples: list[dict[str, Any]]

    def sentence(self) -> str:
        ex = "; ".join(str(e) for e in self.examples[:MAX_EXAMPLES])
        rows = f"{self.n_rows} offending row(s)" if self.n_rows else "table-level"
        return f"table '{self.table}', column '{self.column}': {self.rule} — {rows}" + (
            f"; e.g. {ex}" if ex else ""
        )


DEFAULT_PAGE = "docs/data_contracts.md"
"""The gosales contract page; pricing and leadconv have their own (:func:`contract_page`)."""


class DataContractError(ValueError):
    """Raised when an input table breaks its contract; lists every violation found."""

    def __init__(self, violations: Sequence[Violation], page: str = DEFAULT_PAGE):
        self.violations = list(violations)
        self.page = page
        lines = [v.sentence() for v in self.violations]
        hint = (
            f"Fix the source data (or the mapping to the contract in {page}) "
            "and re-run; nothing downstream was written."
        )
        super().__init__(
            "input data breaks its contract:\n  - " + "\n  - ".join(lines) + f"\n{hint}"
        )

    @property
    def tables(self) -> list[str]:
        return sorted({v.table for v in self.violations})

    @property
    def columns(self) -> list[str]:
        return sorted({v.column for v in self.violations})

    def to_frame(self) -> pl.DataFrame:
        """One row per violation (for asset-check metadata)."""
        return pl.DataFrame(
            [
                {
                    "table": v.table,
                    "column": v.column,
                    "rule": v.rule,
                    "n_rows": v.n_rows,
                    "examples": "; ".join(str(e) for e in v.examples[:MAX_EXAMPLES]),
                }
                for v in self.violations
            ],
            schema={
                "table": pl.Utf8,
                "column": pl.Utf8,
                "rule": pl.Utf8,
                "n_rows": pl.Int64,
                "examples": pl.Utf8,
            },
        )


def _examples(df: pl.DataFrame, mask: pl.Series | None, cols: Sequence[str]) -> list[dict]:
    sub = df if mask is None else df.filter(mask)
    keep = [c for c in dict.fromkeys(cols) if c in sub.columns]
    return sub.select(keep).head(MAX_EXAMPLES).to_dicts() if keep else []


@contextmanager
def contract_page(page: str) -> Iterator[None]:
    """Inside this block a :class:`DataContractError` points to ``page`` (the contract page
    of the location reading its inputs), wherever in shared code it was raised."""
    try:
        yield
    except DataContractError as err:
        if err.page == page:
            raise
        raise DataContractError(err.violations, page) from None


def pandera_violations(
    df: pl.DataFrame, schema: Any, table: str, key_columns: Sequence[str] = ()
) -> list[Violation]:
    """Run a pandera polars schema lazily and turn its failure cases into violations,
    plus :func:`nonfinite_violations` (pandera's range checks let ±inf through)."""
    return _schema_violations(df, schema, table, key_columns) + nonfinite_violations(
        df, table, key_columns
    )


def nonfinite_violations(
    df: pl.DataFrame, table: str, key_columns: Sequence[str] = ()
) -> list[Violation]:
    """Rows of every float column holding +inf or -inf, one violation per column.

    An infinite amount or price passes ``ge`` / ``le`` checks on one side, and later
    shows up as a feature no model can use (or a leak-like perfect split); no real
    source means it, so it is rejected with the rows named.
    """
    out: list[Violation] = []
    for name, dtype in df.schema.items():
        if not dtype.is_float():
            continue
        bad = df[name].is_infinite().fill_null(False)
        n = int(bad.sum())
        if n:
            out.append(
                Violation(
                    table,
                    name,
                    "must be finite (found ±inf)",
                    n,
                    _examples(df, bad, [*key_columns, name]),
                )
            )
    return out


def _schema_violations(
    df: pl.DataFrame, schema: Any, table: str, key_columns: Sequence[str]
) -> list[Violation]:
    try:
        schema.validate(df, lazy=True)
    except pa_errors.SchemaErrors as err:
        fc = err.failure_cases
        if not isinstance(fc, pl.DataFrame):  # pandera returns polars for polars input
            fc = pl.from_pandas(fc)
        out: list[Violation] = []
        for (col_name, check), grp in fc.group_by(["column", "check"], maintain_order=True):
            schema_level = grp["schema_context"][0] == "DataFrameSchema"
            if schema_level and check == "column_in_dataframe":
                for missing in grp["failure_case"].to_list():
                    out.append(Violation(table, str(missing), "missing column", 0, []))
                continue
            idx = [i for i in grp["index"].to_list() if i is not None]
            examples: list[dict] = []
            if idx:
                rows = df.with_row_index("_row").filter(pl.col("_row").is_in(idx[:MAX_EXAMPLES]))
                cols = dict.fromkeys(["_row", *key_columns, str(col_name)])
                examples = rows.select([c for c in cols if c in rows.columns]).to_dicts()
            else:
                examples = [{"value": v} for v in grp["failure_case"].head(MAX_EXAMPLES).to_list()]
            column = str(col_name) if not schema_level else str(grp["failure_case"][0])
            out.append(Violation(table, column, str(check), len(idx) or grp.height, examples))
        return out
    except pa_errors.SchemaError as err:  # non-lazy path (should not happen with lazy=True)
        return [Violation(table, str(getattr(err, "column_name", "?")), str(err), 0, [])]
    return []


def validate_frame(
    df: pl.DataFrame, schema: Any, table: str, key_columns: Sequence[str] = ()
) -> pl.DataFrame:
    """Validate ``df`` against a pandera polars schema; raise :class:`DataContractError`.

    Returns the validated frame (with pandera's coercions applied) when clean.
    """
    violations = pandera_violations(df, schema, table, key_columns)
    if violations:
        raise DataContractError(violations)
    return schema.validate(df)


def unique_violation(df: pl.DataFrame, keys: Sequence[str], table: str) -> Violation | None:
    """Rows whose ``keys`` occur more than once (nulls are reported by the schema)."""
    dup = df.select(keys).is_duplicated()
    n = int(dup.sum())
    if n == 0:
        return None
    return Violation(table, ",".join(keys), "duplicate key", n, _examples(df, dup, keys))


def not_after_violation(
    df: pl.DataFrame,
    column: str,
    as_of: date | datetime,
    table: str,
    key_columns: Sequence[str] = (),
) -> Violation | None:
    """Rows dated after the data's as-of date (a future date means a broken extract)."""
    if column not in df.columns:
        return None
    mask = (df[column] > as_of).fill_null(False)
    n = int(mask.sum())
    if n == 0:
        return None
    return Violation(
        table,
        column,
        f"date after the data's as-of date {as_of}",
        n,
        _examples(df, mask, [*key_columns, column]),
    )


def foreign_key_violation(
    child: pl.DataFrame,
    parent: pl.DataFrame,
    key: str | Sequence[str],
    table: str,
    parent_table: str,
) -> Violation | None:
    """Rows of ``child`` whose ``key`` has no match in ``parent``."""
    keys = [key] if isinstance(key, str) else list(key)
    orphans = child.join(parent.select(keys).unique(), on=keys, how="anti", nulls_equal=False)
    if orphans.height == 0:
        return None
    return Violation(
        table,
        ",".join(keys),
        f"no matching row in '{parent_table}'",
        orphans.height,
        orphans.select(keys).head(MAX_EXAMPLES).to_dicts(),
    )


def raise_if(violations: Sequence[Violation | None]) -> None:
    """Raise :class:`DataContractError` if any of ``violations`` is not None."""
    found = [v for v in violations if v is not None]
    if found:
        raise DataContractError(found)


# Convenience single-rule checks (raise immediately).
def check_unique(df: pl.DataFrame, keys: Sequence[str], table: str) -> None:
    raise_if([unique_violation(df, keys, table)])


def check_not_after(
    df: pl.DataFrame,
    column: str,
    as_of: date | datetime,
    table: str,
    key_columns: Sequence[str] = (),
) -> None:
    raise_if([not_after_violation(df, column, as_of, table, key_columns)])


def check_foreign_key(
    child: pl.DataFrame,
    parent: pl.DataFrame,
    key: str | Sequence[str],
    table: str,
    parent_table: str,
) -> None:
    raise_if([foreign_key_violation(child, parent, key, table, parent_table)])


def require_tables(tables: dict[str, pl.DataFrame | None], required: Sequence[str]) -> None:
    """Raise if a required table is missing (None or absent)."""
    missing = [t for t in required if tables.get(t) is None]
    if missing:
        raise DataContractError([Violation(t, "*", "missing table", 0, []) for t in missing])
