"""Input contracts: validate a table and fail with an error a person can act on.

Every error names the table, the column, how many rows break the rule and a
few example rows (with their key columns), and is raised *before* anything
downstream is written. Schemas are pandera polars models kept per code
location in ``<location>/schemas.py``; the relational rules pandera does not
express (foreign keys, dates after the data's as-of date) live here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

import pandera.errors as pa_errors
import polars as pl

MAX_EXAMPLES = 5
T = TypeVar("T")


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``n_rows`` rows of ``table`` break ``rule`` on ``column``."""

    table: str
    column: str
    rule: str
    n_rows: int
    examples: list[dict[str, Any]]
    rows: tuple[int, ...] = field(default=(), compare=False, repr=False)
    """Every offending row, by its :data:`ROW_ID` (its position in the table as read) when
    the rule is row-level; empty for table-level rules (missing column, missing table),
    which :func:`quarantine_rows` never quarantines."""

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


ROW_ID = "_source_row"
"""Hidden column :func:`validate_with_quarantine` adds to every table: the row's position in
the table as read, so a row-level rule checked on a filtered or joined frame still names the
row of the source table."""


def _row_ids(df: pl.DataFrame, mask: pl.Series | None = None) -> tuple[int, ...]:
    sub = df if mask is None else df.filter(mask)
    if ROW_ID in sub.columns:
        return tuple(sub[ROW_ID].to_list())
    if mask is None:
        return tuple(range(df.height))
    return tuple(int(i) for i in mask.arg_true().to_list())


def row_violation(
    df: pl.DataFrame,
    mask: pl.Series | pl.Expr,
    table: str,
    column: str,
    rule: str,
    key_columns: Sequence[str] = (),
) -> Violation | None:
    """The rows of ``df`` where ``mask`` is true break ``rule`` on ``column`` (None when no
    row does). A null mask value counts as not offending. The violation lists every row, so
    it can be quarantined."""
    if isinstance(mask, pl.Expr):
        mask = df.select(mask.alias("_m"))["_m"]
    mask = mask.fill_null(False)
    n = int(mask.sum())
    if n == 0:
        return None
    return Violation(
        table, column, rule, n, _examples(df, mask, [*key_columns, column]), _row_ids(df, mask)
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
        found = row_violation(
            df, df[name].is_infinite(), table, name, "must be finite (found ±inf)", key_columns
        )
        if found is not None:
            out.append(found)
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
            idx = sorted({int(i) for i in grp["index"].to_list() if i is not None})
            examples: list[dict] = []
            row_ids: tuple[int, ...] = ()
            if idx:
                rows = df.with_row_index("_row").filter(pl.col("_row").is_in(idx))
                cols = dict.fromkeys(["_row", *key_columns, str(col_name)])
                examples = (
                    rows.select([c for c in cols if c in rows.columns])
                    .head(MAX_EXAMPLES)
                    .to_dicts()
                )
                row_ids = tuple(rows[ROW_ID].to_list()) if ROW_ID in rows.columns else tuple(idx)
            else:
                examples = [{"value": v} for v in grp["failure_case"].head(MAX_EXAMPLES).to_list()]
            column = str(col_name) if not schema_level else str(grp["failure_case"][0])
            out.append(
                Violation(table, column, str(check), len(idx) or grp.height, examples, row_ids)
            )
        return out
    except pa_errors.SchemaError as err:  # non-lazy path (should not happen with lazy=True)
        return [Violation(table, str(getattr(err, "column_name", "?")), str(err), 0, [])]
    return []


# ISO 8601 spellings accepted for a date or timestamp stored as text, tried in order; the
# ones with an offset are converted to UTC. (polars' format inference picks one format from
# the first value, so a column mixing "2024-01-05" and "2024-01-05T10:00:00" needs a list.)
_NAIVE_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
_OFFSET_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")


def parse_iso(text: pl.Series) -> pl.Series:
    """Text → naive ``Datetime('us')`` (UTC for values with an offset); null where no
    ISO 8601 format fits."""
    s = text.str.strip_chars().str.replace(r"Z$", "+00:00")
    parsed = [s.str.to_datetime(f, strict=False, time_unit="us") for f in _NAIVE_FORMATS]
    parsed += [
        s.str.to_datetime(f, strict=False, time_unit="us")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
        for f in _OFFSET_FORMATS
    ]
    return pl.select(pl.coalesce(parsed)).to_series().alias(text.name)


def _target_dtypes(schema: Any) -> dict[str, pl.DataType]:
    """``{column: polars dtype}`` of a pandera polars schema (model or DataFrameSchema),
    for the columns that declare one."""
    out: dict[str, pl.DataType] = {}
    for name, col in _columns(schema).items():
        dtype = getattr(col.dtype, "type", None) if col.dtype is not None else None
        if dtype is not None:
            out[name] = dtype
    return out


def parse_text_columns(
    df: pl.DataFrame, schema: Any, table: str, key_columns: Sequence[str] = ()
) -> tuple[pl.DataFrame, list[Violation]]:
    """Columns stored as text whose contract type is a number, date or timestamp, parsed.

    Returns ``(frame, violations)``: the frame with each such column converted (blank text
    is null; dates and timestamps in ISO 8601, with ``T`` or a blank, optional fraction and
    offset; numbers with surrounding blanks), and one violation per column naming every row
    whose text is not such a value, with the offending text in the examples (pandera's own
    coercion error names the column, not the value). Columns already typed pass untouched.
    """
    out = df
    violations: list[Violation] = []
    for name, dtype in _target_dtypes(schema).items():
        if name not in df.columns or df.schema[name] != pl.String:
            continue
        text = df[name]
        blank = text.str.strip_chars().str.len_chars() == 0
        if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
            parsed = parse_iso(text)
            parsed = parsed.dt.date() if dtype == pl.Date else parsed.cast(dtype)
            kind = "an ISO 8601 date" if dtype == pl.Date else "an ISO 8601 timestamp"
        elif dtype.is_numeric():
            parsed = text.str.strip_chars().cast(dtype, strict=False)
            kind = f"a number ({dtype})"
        else:
            continue
        parsed = pl.select(pl.when(blank).then(None).otherwise(parsed)).to_series().alias(name)
        bad = text.is_not_null() & ~blank.fill_null(True) & parsed.is_null()
        found = row_violation(df, bad, table, name, f"text that is not {kind}", key_columns)
        if found is not None:
            violations.append(found)
        out = out.with_columns(parsed)
    return out, violations


def contract_frame(
    df: pl.DataFrame, schema: Any, table: str, key_columns: Sequence[str] = ()
) -> tuple[pl.DataFrame | None, list[Violation]]:
    """The one column-level contract pass of an input table: ``(typed frame, violations)``.

    In order: missing columns (reported alone: nothing else can be checked without them),
    text parsed to the contract's numbers, dates and timestamps (:func:`parse_text_columns`),
    the pandera schema and ±inf (:func:`pandera_violations`). The frame is the schema's
    coerced output when there are no violations; with violations it is the frame with the
    text columns parsed as far as they parse (for relational rules that should be reported
    in the same error), and None when columns are missing. A column whose text failed to
    parse is not reported a second time by the schema (its nulls are the parse failures).
    """
    columns = _schema_columns(schema)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        return None, [Violation(table, c, "missing column", 0, []) for c in missing]
    parsed, violations = parse_text_columns(df, schema, table, key_columns)
    unparsed = {v.column for v in violations}
    violations += [
        v
        for v in pandera_violations(parsed, schema, table, key_columns)
        if v.column not in unparsed
    ]
    if violations:
        return parsed, violations
    return schema.validate(parsed), []


def _schema_columns(schema: Any) -> list[str]:
    """The required columns of a pandera polars schema (optional ones may be absent)."""
    return [name for name, col in _columns(schema).items() if getattr(col, "required", True)]


def _columns(schema: Any) -> dict[str, Any]:
    """The column specs of a pandera polars schema, a ``DataFrameModel`` or a ``DataFrameSchema``."""
    return schema.to_schema().columns if hasattr(schema, "to_schema") else schema.columns


def column_dtypes(schema: Any) -> dict[str, Any]:
    """``{column: polars dtype or None}`` of every column a pandera polars schema declares,
    in its order (None: the schema checks the column without fixing its type)."""
    return {
        name: getattr(col.dtype, "type", None) if col.dtype is not None else None
        for name, col in _columns(schema).items()
    }


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
    return Violation(
        table, ",".join(keys), "duplicate key", n, _examples(df, dup, keys), _row_ids(df, dup)
    )


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
    return row_violation(
        df,
        df[column] > as_of,
        table,
        column,
        f"date after the data's as-of date {as_of}",
        key_columns,
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
        _row_ids(orphans) if ROW_ID in orphans.columns else (),
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


def _without_row_id(value: Any) -> Any:
    if isinstance(value, pl.DataFrame) and ROW_ID in value.columns:
        return value.drop(ROW_ID)
    if isinstance(value, dict):
        return {k: _without_row_id(v) for k, v in value.items()}
    return value


QUARANTINE_SCHEMA = {
    "table": pl.Utf8,
    "column": pl.Utf8,
    "rule": pl.Utf8,
    "source_row": pl.Int64,
    "row": pl.Utf8,
}
"""The quarantine table: one row per (rule broken, source row); ``row`` is the source row's
values as JSON text (every contract table fits one schema that way)."""

QUARANTINE_COLUMNS = {
    "table": "contract table the row came from",
    "column": "column the broken rule is about",
    "rule": "the contract rule the row broke",
    "source_row": "row position in the source table (0-based, header not counted)",
    "row": "the source row's values as JSON text",
}
"""One line per :data:`QUARANTINE_SCHEMA` column, shown with the table in the Dagster UI."""


def validate_with_quarantine(
    tables: Mapping[str, pl.DataFrame | None],
    validate: Callable[[dict[str, pl.DataFrame | None]], T],
    quarantine: bool = False,
    max_passes: int = 5,
) -> tuple[T, pl.DataFrame]:
    """Run a location's input validation, rejecting (default) or quarantining bad rows.

    ``validate(tables)`` returns the clean tables or raises :class:`DataContractError`.
    With ``quarantine=False`` that error propagates and the quarantine table is empty.
    With ``quarantine=True`` every row named by a row-level violation is moved to the
    quarantine table with the rule it broke, and validation re-runs on the rest — again,
    because removing a row can orphan others (a quarantined customer's transactions fail
    the foreign key on the next pass and follow it), up to ``max_passes`` passes.
    Table-level problems (a missing table or column, a rule without row ids) are never
    quarantined: they still raise, as does a table left with no rows.

    Returns ``(validate's result without the hidden row ids, quarantine frame)`` (columns
    :data:`QUARANTINE_SCHEMA`).
    """
    if not quarantine:
        return validate(dict(tables)), pl.DataFrame(schema=QUARANTINE_SCHEMA)
    current: dict[str, pl.DataFrame | None] = {
        name: (
            None
            if df is None
            else df.with_row_index(ROW_ID).with_columns(pl.col(ROW_ID).cast(pl.Int64))
        )
        for name, df in tables.items()
    }
    held: list[dict[str, Any]] = []
    for _ in range(max_passes):
        try:
            result = validate(dict(current))
        except DataContractError as err:
            if any(not v.rows for v in err.violations):
                raise
            for v in err.violations:
                frame = current[v.table]
                assert frame is not None
                for row in frame.filter(pl.col(ROW_ID).is_in(list(v.rows))).iter_rows(named=True):
                    rid = row.pop(ROW_ID)
                    held.append(
                        {
                            "table": v.table,
                            "column": v.column,
                            "rule": v.rule,
                            "source_row": rid,
                            "row": row,
                        }
                    )
            dropped = {(v.table, r) for v in err.violations for r in v.rows}
            for name, frame in current.items():
                ids = [r for t, r in dropped if t == name]
                if frame is not None and ids:
                    current[name] = frame.filter(~pl.col(ROW_ID).is_in(ids))
                    if current[name].height == 0:  # type: ignore[union-attr]
                        raise DataContractError(
                            [Violation(name, "*", "every row quarantined: nothing left", 0, [])]
                        ) from err
            continue
        return _without_row_id(result), _quarantine_frame(held)
    raise DataContractError(
        [Violation("*", "*", f"still invalid after {max_passes} quarantine passes", 0, [])]
    )


def _quarantine_frame(held: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    rows = [
        {
            "table": h["table"],
            "column": h["column"],
            "rule": h["rule"],
            "source_row": int(h["source_row"]),
            "row": json.dumps(h["row"], default=str, sort_keys=True),
        }
        for h in held
    ]
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)


def name_keys(
    tables: Mapping[str, pl.DataFrame], column: str
) -> tuple[dict[str, str], list[Violation]]:
    """Partition key of every name in ``column`` of ``tables`` (division, business unit…),
    by :func:`shared.partitions.partition_keys` (``"CAD Seats"`` → ``cad_seats``).

    Out: ``({name: key}, [])``, or ``({}, violations)`` when some names have no usable key
    or different names share one: a violation per table holding such names, each with the
    one-line message that lists every such name at once, and the offending rows."""
    from shared.partitions import partition_key, partition_keys

    values = {
        t: set(df.get_column(column).drop_nulls().cast(pl.String).unique().to_list())
        for t, df in tables.items()
        if column in df.columns
    }
    names = sorted(set().union(*values.values()))
    try:
        return partition_keys(names, column), []
    except ValueError as err:
        keys = [partition_key(n) for n in names]

        def unusable(name: str) -> bool:
            try:
                partition_keys([name], column)
            except ValueError:
                return True
            return False

        bad = {n for n, k in zip(names, keys, strict=True) if keys.count(k) > 1 or unusable(n)}
        out = []
        for t, df in tables.items():
            mine = sorted(values.get(t, set()) & bad)
            if mine:
                hit = pl.col(column).cast(pl.String).is_in(mine)
                rows = df.filter(hit)
                out.append(
                    Violation(t, column, str(err), rows.height, rows.head(MAX_EXAMPLES).to_dicts())
                )
        return {}, out
