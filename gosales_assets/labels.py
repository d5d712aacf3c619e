"""The one gosales label definition (training, holdout, gauntlet and monitoring all use it).

Label for customer ``i``, division ``d``, cutoff ``C`` and window ``W`` months::

    label = 1  if i has a transaction in division d with order_date in (C, C + W],
               unless those lines include a return and net to revenue <= 0
            0  otherwise

Returns and credit notes (``quantity < 0`` or ``revenue < 0``; the contract
rejects lines whose signs contradict each other) net against the purchases:

- a purchase fully returned in the window is not a purchase: the customer ×
  division lines of the window that include a return line and sum to revenue
  ``<= 0`` give label 0 (a return alone, of something bought before ``C``, too);
- features sum revenue and gross profit including the negative lines, and count
  an invoice (and its date, for recency, tenure and cadence) unless it includes a
  return line and nets to revenue ``<= 0`` (:func:`is_purchase`); zero-revenue
  invoices without a return line still count, as before returns were accepted.

Money is compared in exact integer micro-units (:data:`MICRO`), so a return that
cancels its purchase nets to exactly 0 whatever the order of the lines.

The population is every customer created on or before ``C`` (customers created
later did not exist at the cutoff). A label is only defined when its window
has closed: ``C + W <= as_of`` (the data's last order date).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from shared.partitions import add_months

MICRO = 1_000_000  # money is summed in integer micro-units (exact in any order)


def micro(col: str) -> pl.Expr:
    """``col`` (currency units, Float64) as Int64 micro-units, rounded to the nearest."""
    return (pl.col(col) * MICRO).round().cast(pl.Int64).alias(col)


def return_line(columns: Sequence[str]) -> pl.Expr:
    """True on a return / credit line: negative quantity (when there is a ``quantity``
    column) or negative revenue. Named ``returned``."""
    neg = pl.col("revenue") < 0
    if "quantity" in columns:
        neg = neg | (pl.col("quantity") < 0)
    return neg.alias("returned")


def is_purchase(returned: str = "returned", revenue: str = "revenue") -> pl.Expr:
    """Whether a group of lines (an invoice, a label window) is a purchase: it has no
    return line (``returned`` = any line returned) or its net ``revenue`` is > 0."""
    return ~pl.col(returned) | (pl.col(revenue) > 0)


def window_end(cutoff: date, window_months: int) -> date:
    """Last day of the label window ``(cutoff, cutoff + window]`` (month ends stay month ends)."""
    return add_months(cutoff, window_months)


def window_closed(cutoff: date, window_months: int, as_of: date) -> bool:
    """True when the label window after ``cutoff`` has fully happened by ``as_of``."""
    return window_end(cutoff, window_months) <= as_of


def population(customers: pl.DataFrame, cutoff: date) -> pl.DataFrame:
    """Customers that exist at the cutoff: ``customer_id`` (sorted), created_date <= cutoff."""
    return (
        customers.filter(pl.col("created_date") <= cutoff)
        .select("customer_id")
        .unique()
        .sort("customer_id")
    )


def build_labels(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    division: str,
    cutoff: date,
    window_months: int,
) -> pl.DataFrame:
    """Labels at ``cutoff``: ``customer_id``, ``label`` (Int8 0/1), one row per customer.

    Raises:
        ValueError: the window has not closed by the last order date in ``transactions``
            (an open window would turn future buyers into negatives).
    """
    as_of = transactions["order_date"].max()
    end = window_end(cutoff, window_months)
    if as_of is None or end > as_of:
        raise ValueError(
            f"labels for division {division!r} at cutoff {cutoff}: the {window_months}-month "
            f"window ends {end}, after the data's last order date {as_of}; open windows are "
            "never labelled (a customer who has not bought *yet* is not a negative)"
        )
    buyers = (
        transactions.filter(
            (pl.col("division") == division)
            & (pl.col("order_date") > cutoff)
            & (pl.col("order_date") <= end)
        )
        .group_by("customer_id")
        .agg(micro("revenue").sum(), return_line(transactions.columns).any())
        .filter(is_purchase())
        .select("customer_id", label=pl.lit(1, pl.Int8))
    )
    return (
        population(customers, cutoff)
        .join(buyers, on="customer_id", how="left")
        .with_columns(pl.col("label").fill_null(0).cast(pl.Int8))
    )
