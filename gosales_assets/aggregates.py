"""GoSales aggregates: customer × division sums of the lines dated <= a cutoff, as grids.

Input: transaction lines whose ``customer_id`` is already a population *code* (the row
of the customer in the sorted population, ``-1`` for customers outside it; see
:class:`Population`) and whose ``division`` is a code ``0..k-1`` (``k`` for divisions
not listed). Output: dense ``k × n`` numpy grids (one row per division code, one
column per population row), each a ``bincount`` — no per-division group-by or join.

Customer ids may be integers or strings (leading zeros kept): they are mapped to dense
codes once per scan (:meth:`Population.code`), every aggregate is computed on codes,
and :mod:`gosales_assets.features` puts the original ids back as the matrices' first
column. The mapping is a bijection onto the sorted population, so features of string
ids equal those of the same customers under integer ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from gosales_assets.labels import MICRO, is_purchase, micro, return_line
from shared.partitions import add_months

WINDOWS = (3, 6, 12, 24)
OFFSET_DAYS = 60

# Per customer × division sums of ``invoice_aggregates`` that become per-division columns.
DIVISION_SUMS = (
    *[f"{kind}_{w}m" for w in WINDOWS for kind in ("tx", "rev")],
    "gp_12m",
    "tx_12m_off60",
    "rev_12m_off60",
    *[f"q{q}_24m" for q in range(1, 5)],
    "tx_all",
    "n_dates",
)


EPOCH = date(1970, 1, 1)
NO_DAY = float("nan")  # "no such date" in the day-number arrays (becomes null)
# Money is summed in integer micro-units. Float addition is not associative, and the streaming
# engine hands the lines of an invoice and the invoices of a customer to the sums in an order
# that depends on thread timing: float sums then differ in the last bits from run to run, which
# moves LightGBM's bin edges and so the model (same seed, same data, different scores). Integer
# sums (and float sums of integer values below 2**53, i.e. 9e9 currency units per cell) are
# exact whatever the order. A micro-unit is far below any currency's smallest coin.
# (MICRO and micro live with the label definition, which nets returns with them too.)


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the physical value of a polars Date)."""
    return (d - EPOCH).days


def invoice_aggregates(tx: pl.LazyFrame, cutoff: date) -> pl.LazyFrame:
    """Invoices dated <= cutoff: one row per customer × division code × invoice.

    Input: transaction lines with ``customer_id, division`` (integer code), ``invoice_id,
    order_date, revenue, gross_profit, returned`` (:func:`~gosales_assets.labels.return_line`).
    Output: the same keys with the invoice's date (its first line's), net revenue and
    gross profit as Int64 micro-units (exact sums, see ``MICRO``, returns included) and
    ``purchase`` (:func:`~gosales_assets.labels.is_purchase`: not a credit note or a fully
    returned invoice), in no particular row order; only lines dated <= ``cutoff`` are read.
    """
    return (
        tx.filter(pl.col("order_date") <= cutoff)
        .group_by("customer_id", "division", "invoice_id")
        .agg(
            pl.col("order_date").min(),
            micro("revenue").sum(),
            micro("gross_profit").sum(),
            pl.col("returned").any(),
        )
        .with_columns(purchase=is_purchase())
    )


def monthly_lines(tx: pl.LazyFrame, cutoff: date) -> pl.LazyFrame:
    """Lines of the last 12 months with their month ``x`` (0 = oldest, 11 = newest) and
    ``revenue`` in Int64 micro-units (see ``MICRO``), in no particular row order."""
    start = add_months(cutoff, -12)
    k = ((pl.lit(cutoff) - pl.col("order_date")).dt.total_days() / 30.4375).floor().clip(0, 11)
    return tx.filter((pl.col("order_date") > start) & (pl.col("order_date") <= cutoff)).select(
        "customer_id", "division", (11 - k).cast(pl.Int64).alias("x"), micro("revenue")
    )


class Population:
    """The sorted population ``ids`` (integer or string) and their dense codes ``0..n-1``.

    A customer's code is its row in the matrices. :meth:`code` maps an id column to
    codes (``-1`` for ids outside the population) once per scan; every grid is then
    indexed by code, whatever the id type.
    """

    def __init__(self, ids: pl.Series) -> None:
        self.ids = ids
        self.n = len(ids)

    def code(self, col: str = "customer_id") -> pl.Expr:
        """``col`` as Int64 population codes (-1 outside the population), named ``col``."""
        return (
            pl.col(col)
            .replace_strict(
                self.ids,
                pl.Series(np.arange(self.n, dtype=np.int64)),
                default=-1,
                return_dtype=pl.Int64,
            )
            .alias(col)
        )

    def rows(self, customer: np.ndarray) -> np.ndarray:
        """Row of each code in ``customer`` (the code itself); -1 for codes outside."""
        return np.where((customer >= 0) & (customer < self.n), customer, -1)


@dataclass
class Cells:
    """Cell of each kept row in a division × customer grid (``k`` codes × ``n`` rows).

    ``cell`` is ``code * n + row`` for the rows whose customer is in the population
    (``keep``); grids are ``k × n`` arrays, one contiguous row per division code.
    """

    n: int
    k: int
    keep: np.ndarray
    cell: np.ndarray

    @classmethod
    def of(cls, pop: Population, k: int, customer: np.ndarray, code: np.ndarray) -> Cells:
        row = pop.rows(customer)
        keep = row >= 0
        return cls(n=pop.n, k=k, keep=keep, cell=code[keep] * pop.n + row[keep])

    def sum(self, weights: np.ndarray | None = None, where: np.ndarray | None = None) -> np.ndarray:
        """Per cell sum of the kept ``weights`` (row count when None), over the kept rows
        where ``where`` holds (all when None), as a ``k × n`` Float64 grid."""
        cell = self.cell if where is None else self.cell[where]
        if weights is not None and where is not None:
            weights = weights[where]
        out = np.bincount(cell, weights=weights, minlength=self.n * self.k)
        return out.astype(np.float64, copy=False).reshape(self.k, self.n)

    def extreme(self, values: np.ndarray, largest: bool) -> np.ndarray:
        """Per cell max (``largest``) or min of the kept ``values``; NaN for empty cells."""
        fill = np.iinfo(np.int64).min if largest else np.iinfo(np.int64).max
        out = np.full(self.n * self.k, fill, dtype=np.int64)
        (np.maximum if largest else np.minimum).at(out, self.cell, values)
        grid = out.astype(np.float64)
        grid[out == fill] = NO_DAY
        return grid.reshape(self.k, self.n)


def division_grids(
    inv: pl.DataFrame, pop: Population, k: int, cutoff: date
) -> dict[str, np.ndarray]:
    """Division × customer aggregates of the invoices as ``k × n`` grids.

    Input: ``invoice_aggregates`` rows (division as code ``0..k-1``). Output: name →
    grid for every name in ``DIVISION_SUMS`` plus ``last_date``/``first_date`` (day
    numbers, NaN when the customer never bought from the division). Revenue and gross
    profit are net of every invoice (returns included); counts, dates and quarter
    counts are of the purchases (``purchase``) only. Windows are
    ``(start, ...]`` on the invoice date; ``tx_12m_off60`` covers the 12 months
    ending 60 days before the cutoff.
    """
    cells = Cells.of(
        pop, k, inv.get_column("customer_id").to_numpy(), inv.get_column("division").to_numpy()
    )
    day = inv.get_column("order_date").cast(pl.Int64).to_numpy()[cells.keep]
    bought = inv.get_column("purchase").to_numpy()[cells.keep]
    # integer micro-units as floats: each cell's sum is exact, so independent of row order
    rev = inv.get_column("revenue").to_numpy()[cells.keep].astype(np.float64)
    gp = inv.get_column("gross_profit").to_numpy()[cells.keep].astype(np.float64)
    off_end = cutoff - timedelta(days=OFFSET_DAYS)
    off = (day > day_number(add_months(off_end, -12))) & (day <= day_number(off_end))
    out: dict[str, np.ndarray] = {}
    for w in WINDOWS:
        inside = day > day_number(add_months(cutoff, -w))
        out[f"tx_{w}m"] = cells.sum(where=inside & bought)
        out[f"rev_{w}m"] = cells.sum(rev, where=inside) / MICRO
        if w == 12:
            out["gp_12m"] = cells.sum(gp, where=inside) / MICRO
    out["tx_12m_off60"] = cells.sum(where=off & bought)
    out["rev_12m_off60"] = cells.sum(rev, where=off) / MICRO
    in24 = day > day_number(add_months(cutoff, -24))
    quarter = (day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12) // 3
    for q in range(4):
        out[f"q{q + 1}_24m"] = cells.sum(where=in24 & (quarter == q) & bought)
    out["tx_all"] = cells.sum(where=bought)
    # dates of purchases only: a credit note is not a last purchase
    cells = Cells(n=cells.n, k=k, keep=cells.keep, cell=cells.cell[bought])
    day = day[bought]
    out["last_date"] = cells.extreme(day, largest=True)
    out["first_date"] = cells.extreme(day, largest=False)
    # Distinct invoice dates per cell: sort (cell, day) pairs, count the first of each run.
    key = np.sort(cells.cell * (1 << 22) + (day - (day.min() if len(day) else 0)))
    first = np.ones(len(key), dtype=bool)
    np.not_equal(key[1:], key[:-1], out=first[1:])
    distinct = Cells(n=cells.n, k=k, keep=first, cell=key[first] >> 22)
    out["n_dates"] = distinct.sum()
    return out


def monthly_grids(lines: pl.DataFrame, pop: Population, k: int) -> dict[str, np.ndarray]:
    """12-month trend inputs per division × customer as ``k × n`` grids.

    Input: ``monthly_lines``. Output: ``sxy`` = Σ x·y, ``sy`` = Σ y, ``syy`` = Σ y² over
    the months ``x`` with revenue ``y`` (a month's revenue is the sum of its lines), and
    ``months`` = number of months with at least one line.
    """
    cells = Cells.of(
        pop, k, lines.get_column("customer_id").to_numpy(), lines.get_column("division").to_numpy()
    )
    month = cells.cell * 12 + lines.get_column("x").to_numpy()[cells.keep]
    size = cells.n * k * 12
    rev = lines.get_column("revenue").to_numpy()[cells.keep].astype(np.float64)
    used = np.flatnonzero(np.bincount(month, minlength=size))  # months with a line (sorted)
    # exact micro-unit month sums, then currency units; the sums below run over ``used`` in
    # its sorted order, so they too are the same on every run
    y = np.bincount(month, weights=rev, minlength=size)[used] / MICRO
    owner = Cells(n=cells.n, k=k, keep=np.ones(len(used), dtype=bool), cell=used // 12)
    return {
        "sxy": owner.sum(y * (used % 12)),
        "sy": owner.sum(y),
        "syy": owner.sum(y**2),
        "months": owner.sum(),
    }


def install_base(
    assets: pl.DataFrame | None, pop: Population, cutoff: date, divisions: Sequence[str]
) -> dict[str, np.ndarray] | None:
    """Install-base features per population row: active and expiring assets per division.

    Active at ``C``: purchased on or before ``C`` and expiring after it. Expiry bands
    are ``(C, C+3m]``, ``(C+3m, C+6m]`` and ``(C+6m, C+12m]``; ``ib_days_to_next_expiry``
    is NaN (null) for customers without an active asset. None without an install base.
    """
    if assets is None or "purchase_date" not in assets.columns:
        return None
    k = len(divisions)
    ab = assets.filter(
        (pl.col("purchase_date") <= cutoff) & (pl.col("expiration_date") > cutoff)
    ).select(
        pop.code(),
        pl.col("division").replace_strict(
            list(divisions), list(range(k)), default=k, return_dtype=pl.Int64
        ),
        pl.col("expiration_date").cast(pl.Int64),
    )
    customer = ab.get_column("customer_id").to_numpy()
    exp = ab.get_column("expiration_date").to_numpy()
    cells = Cells.of(pop, k + 1, customer, ab.get_column("division").to_numpy())
    exp = exp[cells.keep]
    ends = {m: day_number(add_months(cutoff, m)) for m in (0, 3, 6, 12)}
    ends[0] = day_number(cutoff)
    active = cells.sum()
    bands = {
        (lo, hi): cells.sum(where=(exp > ends[lo]) & (exp <= ends[hi]))
        for lo, hi in ((0, 3), (3, 6), (6, 12))
    }
    out: dict[str, np.ndarray] = {}
    for i, d in enumerate(divisions):
        out[f"ib_{d}_active"] = active[i]
        for (lo, hi), grid in bands.items():
            out[f"ib_{d}_exp_{lo}_{hi}m"] = grid[i]
    rows = Cells(n=cells.n, k=1, keep=cells.keep, cell=cells.cell % cells.n)
    out["ib_days_to_next_expiry"] = rows.extreme(exp, largest=False)[0] - ends[0]
    return out


def unlisted_divisions_24m(
    transactions: pl.DataFrame, pop: Population, cutoff: date, divisions: Sequence[str]
) -> np.ndarray:
    """Per population row: divisions not in ``divisions`` with an invoice in the 24 months
    to ``cutoff`` (each counted apart; only needed when the data has such divisions)."""
    start = add_months(cutoff, -24)
    tx = (
        transactions.lazy()
        .filter(~pl.col("division").is_in(list(divisions)))
        .with_columns(pop.code(), return_line(transactions.columns))
    )
    per = (
        invoice_aggregates(tx, cutoff)
        .filter((pl.col("order_date") > start) & pl.col("purchase"))
        .group_by("customer_id")
        .agg(pl.col("division").n_unique().cast(pl.Float64).alias("n"))
        .collect()
    )
    customer = per.get_column("customer_id").to_numpy()
    rows = Cells.of(pop, 1, customer, np.zeros(len(customer), dtype=np.int64))
    return rows.sum(per.get_column("n").to_numpy()[rows.keep])[0].astype(np.int64)
