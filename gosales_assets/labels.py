"""The one gosales label definition (training, holdout, gauntlet and monitoring all use it).

Label for customer ``i``, division ``d``, cutoff ``C`` and window ``W`` months::

    label = 1  if i has a transaction in division d with order_date in (C, C + W]
            0  otherwise

The population is every customer created on or before ``C`` (customers created
later did not exist at the cutoff). A label is only defined when its window
has closed: ``C + W <= as_of`` (the data's last order date).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from shared.partitions import add_months


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
        .select("customer_id")
        .unique()
        .with_columns(label=pl.lit(1, pl.Int8))
    )
    return (
        population(customers, cutoff)
        .join(buyers, on="customer_id", how="left")
        .with_columns(pl.col("label").fill_null(0).cast(pl.Int8))
    )
