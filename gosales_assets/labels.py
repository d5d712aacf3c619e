"""The one gosales label definition (training, holdout, gauntlet and monitoring all use it).

Label for customer ``i``, division ``d``, cutoff ``C`` and window ``W`` months::

    label = 1  if i's lines in division d with order_date in (C, C + W] net to
               revenue > 0 (returns and credit notes netted in)
            0  otherwise (no line, everything returned, or zero revenue)

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

An invoice that nets to revenue ``0`` without any return line is a zero-revenue
invoice (a free replacement, a zero-priced renewal, a correction): it is **not** a
purchase for the label either; only revenue ``> 0`` in the window makes a buyer
(``net revenue <= 0`` gives label 0 with or without a return). Features still
count such an invoice as an order (it is customer activity).

The window ``W`` is one definition for every division. A sparse division may get a
wider ``W`` (config ``sparse``, :func:`choose_window`): the same rule over a longer
window, recorded with the model, never a different rule.

The population is every customer created on or before ``C`` (customers created
later did not exist at the cutoff). A label is only defined when its window
has closed: ``C + W <= as_of`` (the data's last order date).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
        .filter(pl.col("revenue") > 0)  # net of returns; zero-revenue invoices buy nothing
        .select("customer_id", label=pl.lit(1, pl.Int8))
    )
    return (
        population(customers, cutoff)
        .join(buyers, on="customer_id", how="left")
        .with_columns(pl.col("label").fill_null(0).cast(pl.Int8))
    )


@dataclass(frozen=True)
class WindowChoice:
    """The label window a ``cutoff × division`` uses: ``months`` (what labels, holdout and
    the model card use), the configured ``base``, the ``positives`` the labels at the
    cutoff have with it (None: not counted, no ``sparse`` target) and ``reason`` (why)."""

    months: int
    base: int
    positives: int | None
    reason: str

    @property
    def widened(self) -> bool:
        return self.months > self.base


def choose_window(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    division: str,
    cutoff: date,
    window_months: int,
    min_positives: int | None = None,
    max_window_months: int | None = None,
) -> WindowChoice:
    """The label window for ``division`` at ``cutoff``: ``window_months``, or for a sparse
    division (``min_positives`` given) the smallest window from ``window_months`` up to
    ``max_window_months`` whose labels at ``cutoff`` have ``min_positives`` positives. Only
    windows whose out-of-time holdout window closes (``cutoff + 2 * W <= as_of``) are
    tried; when none reaches the target the widest of those is used (more evidence, still
    maybe too little: the evidence gates then say so). The label rule is unchanged."""

    def positives(w: int) -> int:
        return int(build_labels(transactions, customers, division, cutoff, w)["label"].sum())

    as_of = transactions["order_date"].max()
    if (
        min_positives is None
        or as_of is None
        or not window_closed(cutoff, 2 * window_months, as_of)
    ):
        # nothing to widen (or nothing the data can close): no labels are built to count
        return WindowChoice(window_months, window_months, None, "configured window")
    base_pos = pos = positives(window_months)
    months = window_months
    top = max(window_months, max_window_months or window_months)
    while pos < min_positives and months < top and window_closed(cutoff, 2 * (months + 1), as_of):
        months += 1
        pos = positives(months)
    if months == window_months:
        reason = (
            f"configured window: {pos} positives >= {min_positives}"
            if pos >= min_positives
            else f"configured window: {pos} positives < {min_positives} but no wider window "
            f"closes its holdout by {as_of} (or max_window_months {top})"
        )
    else:
        reason = (
            f"widened from {window_months} months ({base_pos} positives) to {months} months "
            f"({pos} positives; target {min_positives}, at most {top} months"
            + ("" if pos >= min_positives else ", or what the data can close: target not reached")
            + ")"
        )
    return WindowChoice(months, window_months, pos, reason)
