"""Pricing input and output contracts as pandera polars schemas.

Input tables (``docs/data_contracts/pricing.md``): ``order_lines`` (time axis
``order_date``) and ``quotes`` (time axis ``quote_date``; the outcome is known
at ``close_date``). :func:`validate_inputs` runs every rule and raises one
:class:`shared.validation.DataContractError` listing each broken rule with the
number of offending rows and examples: bad lines are never dropped or kept
silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Optional  # noqa: UP035 - pandera reads Optional[...] as "column may be absent"

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from shared.validation import (
    MAX_EXAMPLES,
    DataContractError,
    Violation,
    contract_frame,
    name_keys,
    not_after_violation,
    row_violation,
    unique_violation,
)

LINE_KEYS = ["bu_id", "order_line_id"]
QUOTE_KEYS = ["bu_id", "quote_id"]
ID_COLUMNS = ("order_line_id", "deal_id", "customer_id", "quote_id", "product_id")
"""Identifier columns: integers or strings in the data, text from validation on (``123`` →
``"123"``; ``"000123"`` keeps its zeros end to end, a CSV source reads them as text)."""


class OrderLinesSchema(pa.DataFrameModel):
    """One row per order line; ``discount = 1 - sell_price / list_price``."""

    bu_id: str  # as the data spells it; validate_inputs maps it to its key (bu_name keeps it)
    deal_id: str
    order_line_id: str
    customer_id: str
    product_id: str
    product_family: str
    region: str
    customer_tier: str
    order_date: date
    list_price: float = pa.Field(gt=0)
    sell_price: float = pa.Field(gt=0)
    quantity: float  # < 0: a return line (features.split_returns); 0 is rejected
    unit_cost: Optional[float] = pa.Field(nullable=True, ge=0)  # noqa: UP045
    floor_price: Optional[float] = pa.Field(nullable=True, ge=0)  # noqa: UP045

    class Config:
        coerce = True
        strict = False


class QuotesSchema(pa.DataFrameModel):
    """One row per closed quote (won or lost)."""

    bu_id: str  # as the data spells it; validate_inputs maps it to its key (bu_name keeps it)
    quote_id: str
    customer_id: str
    quote_date: date
    list_value: float = pa.Field(gt=0)
    discount_offered: float = pa.Field(ge=0, lt=1)
    region: str
    segment: str
    outcome: str = pa.Field(isin=["won", "lost"])
    close_date: date

    class Config:
        coerce = True
        strict = False


# --- outputs ------------------------------------------------------------------


class PriceRecsLineSchema(pa.DataFrameModel):
    """``pricing.price_recs_line``: one recommendation per order line."""

    bu_id: str
    cutoff_date: date
    deal_id: str
    order_line_id: str
    lower_discount: float = pa.Field(ge=0, le=1)
    median_discount: float
    upper_discount: float = pa.Field(ge=0, le=1)
    recommended_discount: float = pa.Field(ge=0, le=1)
    final_recommended_price: float = pa.Field(gt=0)
    floor_price: float = pa.Field(nullable=True)

    class Config:
        strict = False

    @pa.dataframe_check(error="final_recommended_price below floor_price")
    @classmethod
    def above_floor(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("final_recommended_price") >= pl.col("floor_price") - 1e-6).fill_null(True)
        )

    @pa.dataframe_check(error="range crosses (lower > median or median > upper)")
    @classmethod
    def ordered(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("lower_discount") <= pl.col("median_discount") + 1e-9)
            & (pl.col("median_discount") <= pl.col("upper_discount") + 1e-9)
        )


class PriceRecsDealSchema(pa.DataFrameModel):
    """``pricing.price_recs_deal``: one recommendation per deal."""

    bu_id: str
    cutoff_date: date
    deal_id: str
    deal_value: float = pa.Field(gt=0)
    lower_discount: float = pa.Field(ge=0, le=1)
    median_discount: float = pa.Field(ge=0, le=1)
    upper_discount: float = pa.Field(ge=0, le=1)
    optimal_discount: float = pa.Field(ge=0, le=1)
    expected_margin_impact: float

    class Config:
        strict = False


# --- input validation -----------------------------------------------------------


def unknown_value_violation(
    df: pl.DataFrame, column: str, allowed: Sequence[str], table: str, keys: Sequence[str]
) -> Violation | None:
    """Rows whose ``column`` is not one of ``allowed`` (e.g. an unconfigured bu_id)."""
    if column not in df.columns:
        return None
    rule = f"unknown {column} (configured: {', '.join(allowed)})"
    # a null value is unknown too; a row-level rule, so quarantinable like the others
    unknown = (~pl.col(column).is_in(list(allowed))).fill_null(True)
    return row_violation(df, unknown, table, column, rule, keys)


def id_type_violations(df: pl.DataFrame, table: str, keys: Sequence[str]) -> list[Violation]:
    """Id columns (:data:`ID_COLUMNS`) that are neither integers nor strings (e.g. floats:
    ``123.0`` is not the id ``123`` and a leading zero is already lost)."""
    out = []
    for col in ID_COLUMNS:
        dtype = df.schema.get(col)
        if dtype is None or dtype.is_integer() or dtype == pl.String:
            continue
        examples = df.select([c for c in dict.fromkeys([*keys, col]) if c in df.columns])
        out.append(
            Violation(
                table,
                col,
                f"id must be an integer or a string, not {dtype} (export ids as text)",
                df.height,
                examples.head(MAX_EXAMPLES).to_dicts(),
            )
        )
    return out


def ids_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every :data:`ID_COLUMNS` column it has cast to text (``123`` → ``"123"``)."""
    return frame.with_columns(pl.col(c).cast(pl.String) for c in ID_COLUMNS if c in frame.columns)


def bu_keys(tables: Mapping[str, pl.DataFrame]) -> tuple[dict[str, str], list[Violation]]:
    """Partition key of every business-unit name in the ``bu_id`` columns of ``tables``
    (``"North America"`` → ``north_america``, ``"APAC "`` → ``apac``); unusable or colliding
    names reported at once (:func:`shared.validation.name_keys`)."""
    return name_keys(tables, "bu_id")


def with_bu_keys(frame: pl.DataFrame, keys: Mapping[str, str]) -> pl.DataFrame:
    """``bu_id`` as its partition key and the data's spelling beside it in ``bu_name``."""
    name = pl.col("bu_id").cast(pl.String)
    return frame.with_columns(
        name.replace_strict(dict(keys), default=None, return_dtype=pl.String).alias("bu_id"),
        name.alias("bu_name"),
    )


def rule_violation(
    df: pl.DataFrame, bad: pl.Expr, table: str, column: str, rule: str, keys: Sequence[str]
) -> Violation | None:
    """Rows where ``bad`` is true (row-level rules across columns, named by ``column``)."""
    needed = bad.meta.root_names()
    if not set(needed) <= set(df.columns):
        return None  # the missing column is reported by the schema
    return row_violation(df, bad, table, column, rule, [*keys, *needed])


def user_column_violations(
    lines: pl.DataFrame, extra_numeric: Sequence[str] = (), extra_categorical: Sequence[str] = ()
) -> list[Violation]:
    """Input columns named like a column pricing derives (they would be overwritten), and
    declared extra feature columns that are missing or (numeric ones) not numeric."""
    from pricing_assets.features import DERIVED_COLUMNS

    out = [
        Violation(
            "order_lines",
            c,
            "a column of this name is derived by pricing and would be overwritten: rename or "
            "drop it (declare it in config features.extra_numeric/extra_categorical under "
            "another name to use it)",
            lines.height,
            [],
        )
        for c in lines.columns
        if c in DERIVED_COLUMNS
    ]
    for kind, cols in (("extra_numeric", extra_numeric), ("extra_categorical", extra_categorical)):
        for c in cols:
            if c not in lines.columns:
                out.append(
                    Violation(
                        "order_lines", c, f"missing column declared in features.{kind}", 0, []
                    )
                )
            elif kind == "extra_numeric" and not lines.schema[c].is_numeric():
                out.append(
                    Violation(
                        "order_lines",
                        c,
                        f"features.extra_numeric column is {lines.schema[c]}, not numeric",
                        lines.height,
                        lines.select(*LINE_KEYS, c).head(MAX_EXAMPLES).to_dicts(),
                    )
                )
    return out


def validate_inputs(
    tables: Mapping[str, pl.DataFrame],
    business_units: Sequence[str],
    as_of: date | None = None,
    extra_numeric: Sequence[str] = (),
    extra_categorical: Sequence[str] = (),
) -> dict[str, pl.DataFrame]:
    """Validate ``order_lines`` and ``quotes``; return them coerced to contract types.

    Rejects (with the count and examples of offending rows): missing or
    non-positive prices (return lines too: their sign is on ``quantity``), zero or
    missing quantity (``quantity < 0`` is a return, accepted), id columns that are
    neither integers nor strings, sell price above list price, unknown
    ``bu_id``, duplicate keys, unknown quote outcomes, close before quote,
    (when ``as_of`` is given) dates after the data's as-of date, input columns named
    like derived ones, and declared extra feature columns (config ``features``) that are
    missing or, numeric ones, not numeric.

    Raises:
        DataContractError: listing every violation found in both tables.
    """
    violations: list[Violation | None] = []
    # ids before the contract coerces them to text: a float id has already lost its zeros
    raw_lines, raw_quotes = tables["order_lines"], tables["quotes"]
    violations += id_type_violations(raw_lines, "order_lines", LINE_KEYS)
    violations += id_type_violations(raw_quotes, "quotes", QUOTE_KEYS)
    lines, line_found = contract_frame(
        ids_as_text(raw_lines), OrderLinesSchema, "order_lines", LINE_KEYS
    )
    quotes, quote_found = contract_frame(
        ids_as_text(raw_quotes), QuotesSchema, "quotes", QUOTE_KEYS
    )
    violations += [*line_found, *quote_found]
    if lines is None or quotes is None:  # missing columns: the rules below cannot run
        raise DataContractError([v for v in violations if v is not None])
    violations += user_column_violations(lines, extra_numeric, extra_categorical)
    keys, bad_names = bu_keys({"order_lines": lines, "quotes": quotes})
    violations += bad_names
    violations.append(
        rule_violation(
            lines,
            pl.col("sell_price") > pl.col("list_price") * (1 + 1e-9),
            "order_lines",
            "sell_price",
            "sell_price above list_price",
            LINE_KEYS,
        )
    )
    violations.append(
        rule_violation(
            lines,
            pl.col("quantity") == 0,
            "order_lines",
            "quantity",
            "quantity is 0 (neither a sale nor a return, quantity < 0)",
            LINE_KEYS,
        )
    )
    violations.append(
        rule_violation(
            lines,
            pl.col("floor_price") > pl.col("list_price"),
            "order_lines",
            "floor_price",
            "floor_price above list_price (no discount can respect it)",
            LINE_KEYS,
        )
    )
    violations.append(
        rule_violation(
            quotes,
            pl.col("close_date") < pl.col("quote_date"),
            "quotes",
            "close_date",
            "close_date before quote_date",
            QUOTE_KEYS,
        )
    )
    if not bad_names:  # names without a usable key are reported above, not as unknown
        for table, frame, frame_keys in (
            ("order_lines", lines, LINE_KEYS),
            ("quotes", quotes, QUOTE_KEYS),
        ):
            keyed = with_bu_keys(frame, keys).with_columns(
                pl.col("bu_id").fill_null(pl.col("bu_name"))
            )
            violations.append(
                unknown_value_violation(
                    keyed, "bu_id", business_units, table, [*frame_keys, "bu_name"]
                )
            )
    if "order_line_id" in lines.columns:
        violations.append(unique_violation(lines, ["order_line_id"], "order_lines"))
    if "quote_id" in quotes.columns:
        violations.append(unique_violation(quotes, ["quote_id"], "quotes"))
    if as_of is not None:
        violations.append(not_after_violation(lines, "order_date", as_of, "order_lines", LINE_KEYS))
        violations.append(not_after_violation(quotes, "quote_date", as_of, "quotes", QUOTE_KEYS))
    found = [v for v in violations if v is not None]
    if found:
        raise DataContractError(found)
    clean_lines = lines
    for optional in ("unit_cost", "floor_price"):
        if optional not in clean_lines.columns:
            clean_lines = clean_lines.with_columns(pl.lit(None, pl.Float64).alias(optional))
    return {
        "order_lines": with_bu_keys(
            clean_lines.with_columns(pl.col("quantity").cast(pl.Float64)), keys
        ),
        "quotes": with_bu_keys(quotes, keys),
    }


def line_features_schema() -> pa.DataFrameSchema:
    """Pandera schema of ``line_features`` (feature columns are numeric, context may be missing)."""
    from pricing_assets.features import FEATURES

    cols = {c: pa.Column(float, nullable=True) for c in FEATURES}
    cols.update(
        {
            "order_line_id": pa.Column(str, unique=True),
            "discount": pa.Column(float, pa.Check.in_range(0.0, 1.0, include_max=False)),
            "split": pa.Column(str, pa.Check.isin(["train", "calibration", "holdout"])),
        }
    )
    return pa.DataFrameSchema(cols)
