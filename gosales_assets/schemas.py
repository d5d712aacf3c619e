"""The gosales input contract as pandera polars schemas, plus the relational rules.

Tables (docs/data_contracts.md):

- ``customers``: one row per ``customer_id``; ``created_date`` is when the
  customer came to exist (it enters populations at cutoffs on or after it).
- ``transactions``: one row per invoice line (``transaction_id`` unique);
  ``order_date`` is the time axis; ``revenue`` and ``gross_profit`` in the
  reporting currency. A sale line has ``quantity >= 0`` and ``revenue >= 0``; a
  return / credit line has ``quantity < 0`` with ``revenue <= 0`` or ``quantity
  == 0`` with ``revenue < 0`` (how they net: :mod:`gosales_assets.labels`). Mixed
  signs (negative quantity with positive revenue, negative revenue with positive
  quantity) are rejected with the offending rows.
- ``assets`` (optional install base): one row per asset; ``purchase_date`` is
  the time axis, ``expiration_date`` >= ``purchase_date``; ``quantity`` >= 0.

``customer_id`` may be an integer or a string (leading zeros kept), but must have
the same type in every table. ``division`` values are names as the data spells
them (``CAD Seats``): :func:`validate_inputs` maps each to its partition key
(:func:`shared.partitions.partition_key`, ``cad_seats``) in ``division`` and keeps
the data's name in ``division_name``; unusable names and different names sharing
a key are violations. :func:`validate_inputs` runs every rule on every table and raises
one :class:`~shared.validation.DataContractError` listing all violations, each
with the table, column, count and example rows; callers write nothing then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import pandera.polars as pa
import polars as pl

from shared.partitions import partition_key
from shared.validation import (
    DataContractError,
    Violation,
    contract_frame,
    foreign_key_violation,
    name_keys,
    not_after_violation,
    require_tables,
    row_violation,
    unique_violation,
)

_ID_TYPES = (pl.Int64, pl.Int32, pl.UInt32, pl.UInt64, pl.String)


def _col(dtype, nullable: bool = True, checks=None, unique: bool = False) -> pa.Column:
    return pa.Column(
        dtype, nullable=nullable, checks=checks, unique=unique, coerce=dtype is not None
    )


# ``customer_id`` and other ids: any integer or string type (checked by _id_type_violations).
CustomersSchema = pa.DataFrameSchema(
    {
        "customer_id": _col(None, nullable=False),
        "customer_name": _col(pl.String),
        "industry": _col(pl.String),
        "industry_sub": _col(pl.String),
        "region": _col(pl.String),
        "territory": _col(pl.String),
        "rep_id": _col(pl.String),
        "created_date": _col(pl.Date, nullable=False),
    },
    name="customers",
)

TransactionsSchema = pa.DataFrameSchema(
    {
        "transaction_id": _col(None, nullable=False),
        "invoice_id": _col(None, nullable=False),
        "customer_id": _col(None, nullable=False),
        "order_date": _col(pl.Date, nullable=False),
        "sku": _col(pl.String),
        "division": _col(pl.String, nullable=False),
        "quantity": _col(pl.Float64, nullable=False),  # < 0 on returns: _sign_violations
        "revenue": _col(pl.Float64, nullable=False),
        "gross_profit": _col(pl.Float64),
    },
    name="transactions",
)

AssetsSchema = pa.DataFrameSchema(
    {
        "customer_id": _col(None, nullable=False),
        "sku": _col(pl.String),
        "division": _col(pl.String, nullable=False),
        "purchase_date": _col(pl.Date, nullable=False),
        "expiration_date": _col(pl.Date),
        "quantity": _col(pl.Float64, nullable=False, checks=pa.Check.ge(0)),
    },
    name="assets",
)


class FeatureMatrixSchema(pa.DataFrameModel):
    """Output ``feature_matrix``: one row per customer; key features in range."""

    cust_tenure_days: float = pa.Field(ge=0)
    tgt_tx_count_24m: float = pa.Field(ge=0)
    tgt_recency_decay_90: float = pa.Field(ge=0, le=1)

    class Config:
        strict = False


class LabelsSchema(pa.DataFrameModel):
    """Output ``labels``: one 0/1 label per customer."""

    label: pl.Int8 = pa.Field(isin=[0, 1])

    class Config:
        strict = False


def _id_type_violations(tables: dict[str, pl.DataFrame]) -> list[Violation]:
    """``customer_id`` must be an integer or string type, the same in every table."""
    out = []
    types = {t: df.schema["customer_id"] for t, df in tables.items() if "customer_id" in df.columns}
    for t, dtype in types.items():
        if dtype not in _ID_TYPES:
            out.append(
                Violation(t, "customer_id", f"type {dtype} is not an integer or string", 0, [])
            )
    if len({str(d) for d in types.values()}) > 1:
        out.append(
            Violation(
                "customers",
                "customer_id",
                f"type differs between tables: { {t: str(d) for t, d in types.items()} }",
                0,
                [],
            )
        )
    return out


_TX_KEYS = ["transaction_id", "invoice_id", "customer_id", "order_date", "division"]


def _sign_violations(tx: pl.DataFrame) -> list[Violation]:
    """Returns and credits are accepted; lines whose signs contradict each other are not."""
    q, r = pl.col("quantity"), pl.col("revenue")
    rules = (
        ("quantity", q < 0, r > 0, "negative quantity with positive revenue"),
        ("revenue", r < 0, q > 0, "negative revenue with positive quantity"),
    )
    found = [
        row_violation(
            tx,
            neg & pos,
            "transactions",
            column,
            f"{what} (a return or credit line has quantity <= 0 and revenue <= 0)",
            [*_TX_KEYS, "quantity", "revenue"],
        )
        for column, neg, pos, what in rules
    ]
    return [v for v in found if v is not None]


def _division_keys(tables: dict[str, pl.DataFrame]) -> tuple[dict[str, str], list[Violation]]:
    """Partition key of every division name in ``tables``; a violation per table holding
    unusable names or different names with one key (:func:`shared.validation.name_keys`)."""
    return name_keys(tables, "division")


def division_display_names(transactions: pl.DataFrame, names: Iterable[str] = ()) -> dict[str, str]:
    """Division key -> the data's spelling (``cad_seats`` -> ``CAD Seats``), for outputs:
    from the validated transactions' ``division_name`` and then ``names`` (e.g. the
    scores' ``division_name``); a key the data never spells is absent (show the key)."""
    out: dict[str, str] = {}
    if "division_name" in transactions.columns:
        pairs = transactions.select("division", "division_name").unique().sort("division_name")
        out.update(dict(zip(pairs["division"], pairs["division_name"], strict=True)))
    for name in sorted(set(names)):
        out.setdefault(partition_key(name), name)
    return out


def with_division_keys(frame: pl.DataFrame, keys: dict[str, str]) -> pl.DataFrame:
    """``division`` as its partition key and the data's spelling in ``division_name``."""
    return frame.with_columns(
        pl.col("division").replace_strict(keys, return_dtype=pl.String),
        division_name=pl.col("division"),
    )


def validate_inputs(tables: dict[str, pl.DataFrame | None], as_of: date) -> dict[str, pl.DataFrame]:
    """Validate the gosales inputs; return the (coerced) tables or raise.

    Args:
        tables: ``customers``, ``transactions`` and optionally ``assets``.
        as_of: the data's as-of date (last order date); rows dated after it are errors.

    Raises:
        DataContractError: listing every violation (missing table/column, null or
            duplicate keys, future dates, negative asset quantities, transaction lines
            with contradicting signs, unusable or colliding division names, orphan
            customers, expirations before purchases, id type mismatches).
    """
    require_tables(tables, ("customers", "transactions"))
    present = {
        k: v
        for k, v in tables.items()
        if v is not None and k in ("customers", "transactions", "assets")
    }
    schemas = {
        "customers": CustomersSchema,
        "transactions": TransactionsSchema,
        "assets": AssetsSchema,
    }
    keys = {
        "customers": ["customer_id"],
        "transactions": ["transaction_id", "customer_id"],
        "assets": ["customer_id", "sku"],
    }
    violations: list[Violation | None] = []
    typed: dict[str, pl.DataFrame] = {}
    for name, df in present.items():
        frame, found = contract_frame(df, schemas[name], name, keys[name])
        violations += found
        if frame is not None:
            typed[name] = frame
    if violations:  # column-level problems first: relational rules need the columns
        raise DataContractError([v for v in violations if v is not None])
    present = typed

    cu, tx, ab = present["customers"], present["transactions"], present.get("assets")
    violations += _id_type_violations(present)
    violations += _sign_violations(tx)
    division_keys, bad_names = _division_keys(present)
    violations += bad_names
    violations.append(unique_violation(cu, ["customer_id"], "customers"))
    violations.append(unique_violation(tx, ["transaction_id"], "transactions"))
    violations.append(
        not_after_violation(tx, "order_date", as_of, "transactions", ["transaction_id"])
    )
    violations.append(not_after_violation(cu, "created_date", as_of, "customers", ["customer_id"]))
    if not violations or all(v is None for v in violations):
        violations.append(foreign_key_violation(tx, cu, "customer_id", "transactions", "customers"))
    if ab is not None:
        violations.append(
            not_after_violation(ab, "purchase_date", as_of, "assets", ["customer_id", "sku"])
        )
        violations.append(
            row_violation(
                ab,
                pl.col("expiration_date") < pl.col("purchase_date"),
                "assets",
                "expiration_date",
                "expiration before purchase_date",
                ["customer_id", "sku", "purchase_date"],
            )
        )
        if not any(v is not None for v in violations):
            violations.append(foreign_key_violation(ab, cu, "customer_id", "assets", "customers"))
    found = [v for v in violations if v is not None]
    if found:
        raise DataContractError(found)
    return {
        name: with_division_keys(df, division_keys) if "division" in df.columns else df
        for name, df in present.items()
    }


USER_FEATURE_PREFIX = "usr_"
"""Prefix of a declared extra customer column in the feature matrix (config
``extra_features``): ``employees`` becomes feature ``usr_employees``. No derived feature
has it, so a user column can never overwrite (or be overwritten by) a derived one."""


def extra_feature_violations(customers: pl.DataFrame, extra: Sequence[str]) -> list[Violation]:
    """The rules a declared extra feature column of ``customers`` must meet: present,
    numeric or boolean, no nulls; and no source column may already carry the reserved
    prefix :data:`USER_FEATURE_PREFIX` (it would be read as a declared feature)."""
    out: list[Violation] = []
    for col in extra:
        if col not in customers.columns:
            out.append(Violation("customers", col, "declared in extra_features but missing", 0, []))
            continue
        dtype = customers.schema[col]
        if not (dtype.is_numeric() or dtype == pl.Boolean):
            out.append(
                Violation(
                    "customers",
                    col,
                    f"extra feature must be numeric or boolean, got {dtype}",
                    customers.height,
                    customers.select("customer_id", col).head(3).to_dicts(),
                )
            )
            continue
        nulls = customers.filter(pl.col(col).is_null())
        if nulls.height:
            out.append(
                Violation(
                    "customers",
                    col,
                    "extra feature is null (fill it in the source)",
                    nulls.height,
                    nulls.select("customer_id", col).head(5).to_dicts(),
                )
            )
    for col in customers.columns:
        if col.startswith(USER_FEATURE_PREFIX):
            out.append(
                Violation(
                    "customers",
                    col,
                    f"reserved prefix {USER_FEATURE_PREFIX!r} (declared extra features get it); "
                    "rename the column",
                    0,
                    [],
                )
            )
    return out


def with_extra_features(customers: pl.DataFrame, extra: Sequence[str]) -> pl.DataFrame:
    """``customers`` with each declared column ``c`` copied to ``usr_<c>`` (Float64), after
    :func:`extra_feature_violations`; raises DataContractError naming every violation."""
    violations = extra_feature_violations(customers, extra)
    if violations:
        raise DataContractError(violations)
    return customers.with_columns(
        pl.col(c).cast(pl.Float64).alias(f"{USER_FEATURE_PREFIX}{c}") for c in extra
    )
