"""GoSales feature matrix: one row per customer, every feature strictly as of the cutoff.

Input: the validated contract tables (``transactions``, ``customers``, optional
install base ``assets``), a cutoff date ``C`` and the target division.
Output: ``customer_id`` plus Float64 feature columns, one row per customer
created on or before ``C``, sorted by ``customer_id``. Ids may be integers or
strings (leading zeros kept): they are mapped to dense codes once and the grids
of :mod:`gosales_assets.aggregates` are computed on codes, so string ids give the
same rows and values as integer ids. Returns net into revenue and margin and are
not counted as invoices (the rule is in :mod:`gosales_assets.labels`).

Only rows dated ``<= C`` are read: transactions by ``order_date``, customers by
``created_date``, assets by ``purchase_date`` (an asset's ``expiration_date`` is
its contract end, known on the purchase day). So the features computed from the
full data equal those computed from the data cut at ``C``
(:func:`assert_truncation_invariant`, run as a blocking asset check).

Feature families (prefix → meaning; windows are calendar months back from ``C``):

- ``tgt_*``: the target division — invoice counts and revenue over 3/6/12/24
  months, the 12-month window offset 60 days before the cutoff, 12m vs prior-12m
  deltas, recency in days with log and exponential decay (30/90/180 days),
  tenure in the division, inter-purchase cadence and how overdue the next
  purchase is, 12-month monthly revenue slope and volatility, share of past
  purchases falling in the coming quarter, smoothed target share of the
  customer's purchases.
- ``d_<division>_*``: every other division — counts over 3/6/12/24 months,
  revenue over 12/24 months, log recency, ever bought.
- ``all_*``: all divisions together — counts and revenue per window, gross
  profit, recency, tenure, 12m delta, divisions bought, quarter-of-year shares.
- ``mix_<division>_share_24m``: division mix of the last 24 months' revenue.
- ``ib_<division>_*``: install base — active assets and assets expiring within
  0-3, 3-6 and 6-12 months; ``ib_days_to_next_expiry``.
- ``cal_window_start_month``: month the label window starts in (seasonality
  across pooled snapshots).
- ``cust_tenure_days``; ``cat_industry_<v>`` and ``cat_region_<v>`` one-hot.

Implementation: polars reads the lines dated <= ``C`` once (one ``collect_all``:
the invoice group-by and the last 12 months' lines); every customer × division
aggregate of every division is then a numpy ``bincount`` over one dense
division × customer grid (no per-division group-by or join); one polars select
derives all divisions' columns into a wide frame, and each division's matrix is
a column selection of it (see bench/RESULTS.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from gosales_assets import aggregates as agg
from gosales_assets import labels as gs_labels
from gosales_assets.aggregates import OFFSET_DAYS as OFFSET_DAYS  # re-exported (bench)
from gosales_assets.aggregates import WINDOWS
from gosales_assets.labels import population
from gosales_assets.schemas import USER_FEATURE_PREFIX

# Module attribute (not ``agg.invoice_aggregates`` at the call) so tests can swap it for a
# leaky version and see the truncation check fail.
_invoice_aggregates = agg.invoice_aggregates

NEVER_DAYS = 3650.0  # recency / expiry horizon used when there is no event
SHARE_PRIOR = 5.0  # pseudo-invoices of the population share in the smoothed target share
ID_COLUMNS = ("customer_id", "label", "snapshot", "group", "true_prob")
_SXX = sum((x - 5.5) ** 2 for x in range(12))  # for the 12-month slope


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_") or "blank"


CATEGORICAL = ("industry", "region")  # customer attributes one-hot encoded as cat_<col>_<slug>


def unseen_categories(
    customers: pl.DataFrame, as_of: date, model_features: list[str]
) -> pl.DataFrame:
    """Per categorical column (:data:`CATEGORICAL`): customers existing at ``as_of`` whose
    value has no one-hot column among the model's ``model_features`` (a category training
    never saw: the model scores it as "none of the known categories"). Out: ``column,
    rows, unseen, share, examples`` (:func:`shared.categories.unseen_categories`)."""
    from shared.categories import unseen_categories as count_unseen

    pop = customers.filter(pl.col("created_date") <= as_of)
    cols = [c for c in CATEGORICAL if c in pop.columns]
    known = {}
    for c in cols:  # a value is known when its one-hot slug is a model column; null sets none
        slugs = {f.removeprefix(f"cat_{c}_") for f in model_features if f.startswith(f"cat_{c}_")}
        known[c] = [v for v in pop[c].unique().to_list() if v is None or _slug(v) in slugs]
    return count_unseen(known, pop.select(cols))


def feature_columns(frame: pl.DataFrame) -> list[str]:
    """The feature columns of a feature matrix (everything but ids, label and bookkeeping)."""
    return [c for c in frame.columns if c not in ID_COLUMNS]


def truncate_inputs(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    assets: pl.DataFrame | None,
    cutoff: date,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """The tables with every row after ``cutoff`` deleted (the leakage test's "cut" data)."""
    tx = transactions.filter(pl.col("order_date") <= cutoff)
    cu = customers.filter(pl.col("created_date") <= cutoff)
    ab = (
        assets
        if assets is None or "purchase_date" not in assets.columns
        else assets.filter(pl.col("purchase_date") <= cutoff)
    )
    return tx, cu, ab


_HEAD = ("customer_id", "cal_window_start_month", "cust_tenure_days")


def _days_before(cutoff: date, col: str) -> pl.Expr:
    """Days from the day number in ``col`` to ``cutoff`` (Float64; null when ``col`` is null)."""
    return pl.lit(float(agg.day_number(cutoff))) - pl.col(col)


def _target_columns(d: str, cutoff: date) -> list[pl.Expr]:
    """The ``tgt_*`` block of division ``d`` from the wide columns, named ``d|tgt_*``.

    Null (filled later) where the customer never bought from ``d``, as in a left join.
    """

    def c(name: str) -> pl.Expr:
        return pl.col(f"{d}|{name}")

    rec = _days_before(cutoff, f"{d}|last_date")  # null: never bought from d
    n_dates = c("n_dates")
    span = c("last_date") - c("first_date")
    cadence = pl.when(n_dates > 1).then(span / (n_dates - 1)).otherwise(0.0)
    months, sy = c("months"), c("sy")
    cols = [
        *[c(f"tx_{w}m").alias(f"tgt_tx_count_{w}m") for w in WINDOWS],
        *[c(f"rev_{w}m").alias(f"tgt_revenue_{w}m") for w in WINDOWS],
        c("gp_12m").alias("tgt_gp_12m"),
        c("tx_12m_off60").alias("tgt_tx_count_12m_off60"),
        c("rev_12m_off60").alias("tgt_revenue_12m_off60"),
        (c("tx_12m") - (c("tx_24m") - c("tx_12m"))).alias("tgt_delta_tx_12m"),
        (c("rev_12m").log1p() - (c("rev_24m") - c("rev_12m")).clip(0, None).log1p()).alias(
            "tgt_delta_rev_log_12m"
        ),
        c("tx_all").alias("tgt_tx_count_all"),
        pl.when(c("last_date").is_not_null()).then(1.0).alias("tgt_ever"),
        rec.alias("tgt_recency_days"),
        rec.log1p().alias("tgt_recency_log"),
        *[(-rec / h).exp().alias(f"tgt_recency_decay_{h}") for h in (30, 90, 180)],
        _days_before(cutoff, f"{d}|first_date").alias("tgt_tenure_days"),
        cadence.alias("tgt_cadence_days"),
        pl.when(cadence > 0).then(rec / cadence).otherwise(0.0).alias("tgt_overdue_ratio"),
        *[c(f"q{q}_24m").alias(f"tgt_q{q}_24m") for q in range(1, 5)],
        ((c("sxy") - 5.5 * sy) / _SXX).alias("tgt_month_slope_12m"),
        ((c("syy") / 12 - (sy / 12).pow(2)).clip(0, None).sqrt()).alias("tgt_month_vol_12m"),
        months.alias("tgt_active_months_12m"),
    ]
    return [e.alias(f"{d}|{e.meta.output_name()}") for e in cols]


def _other_division_columns(d: str, cutoff: date) -> list[pl.Expr]:
    """The ``d_<d>_*`` block (division ``d`` seen from another target) from the wide columns."""
    p = f"d_{d}_"
    return [
        *[pl.col(f"{d}|tx_{w}m").alias(f"{p}tx_{w}m") for w in WINDOWS],
        pl.col(f"{d}|rev_12m").alias(f"{p}rev_12m"),
        pl.col(f"{d}|rev_24m").alias(f"{p}rev_24m"),
        _days_before(cutoff, f"{d}|last_date").log1p().alias(f"{p}recency_log"),
        pl.when(pl.col(f"{d}|last_date").is_not_null()).then(1.0).alias(f"{p}ever"),
    ]


def _all_columns(cutoff: date, divisions: Sequence[str]) -> list[pl.Expr]:
    """``all_*`` totals and ``mix_<d>_share_24m`` from the wide columns."""
    total24, n24, tx12 = pl.col("all|rev_24m"), pl.col("all|tx_24m"), pl.col("all|tx_12m")
    return [
        *[pl.col(f"all|tx_{w}m").alias(f"all_tx_{w}m") for w in WINDOWS],
        *[pl.col(f"all|rev_{w}m").alias(f"all_rev_{w}m") for w in WINDOWS],
        pl.col("all|gp_12m").alias("all_gp_12m"),
        pl.col("all|n_divisions_24m").alias("all_n_divisions_24m"),
        (tx12 - (n24 - tx12)).alias("all_delta_tx_12m"),
        _days_before(cutoff, "all|last_date").log1p().alias("all_recency_log"),
        _days_before(cutoff, "all|first_date").alias("all_tenure_days"),
        *[
            pl.when(n24 > 0)
            .then(pl.col(f"all|q{q}_24m") / n24)
            .otherwise(0.0)
            .alias(f"all_q{q}_share_24m")
            for q in range(1, 5)
        ],
        *[
            pl.when(total24 > 0)
            .then(pl.col(f"{d}|rev_24m") / total24)
            .otherwise(0.0)
            .alias(f"mix_{d}_share_24m")
            for d in divisions
        ],
    ]


@dataclass
class SharedParts:
    """What every target division's matrix at one cutoff has in common (computed once).

    ``wide`` has one row per customer created by the cutoff (sorted by ``customer_id``)
    and every column any division's matrix needs, already filled: the head columns,
    the shared columns named as in the matrices (``base_columns``, in matrix order)
    and per division ``d`` its target block as ``d|tgt_*``.
    """

    cutoff: date
    divisions: tuple[str, ...]
    wide: pl.DataFrame
    base_columns: tuple[str, ...]  # shared feature columns in matrix order (after the head)
    target_columns: tuple[str, ...]  # target block names in matrix order (without d| prefix)


def _fill(frame: pl.LazyFrame) -> pl.LazyFrame:
    """What "no event" (null) means for each family, then every feature as Float64."""
    return frame.with_columns(
        pl.col(r"^(.*_recency_days|ib_days_to_next_expiry)$").fill_null(NEVER_DAYS),
        pl.col(r"^.*_recency_log$").fill_null(math.log1p(NEVER_DAYS)),
    ).with_columns(pl.exclude("customer_id").cast(pl.Float64).fill_null(0.0))


def shared_parts(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    assets: pl.DataFrame | None,
    cutoff: date,
    divisions: Sequence[str],
) -> SharedParts:
    """One scan of the data at ``cutoff``: everything the per-division matrices are made of.

    Polars reads the lines dated <= ``cutoff`` once (invoices and the last 12 months'
    lines, one ``collect_all``); every customer × division aggregate of every division
    is then one ``bincount`` over a dense customer × division grid (numpy); and every
    derived feature of every division is computed in one select over the resulting
    wide frame (one row per customer created by the cutoff, sorted).
    """
    divisions = tuple(divisions)
    k = len(divisions)
    # declared extra customer columns (config extra_features), already usr_-prefixed by the
    # inputs stage (schemas.with_extra_features): they never collide with a derived name
    user = [c for c in customers.columns if c.startswith(USER_FEATURE_PREFIX)]
    pop = population(customers, cutoff).join(
        customers.select("customer_id", "created_date", "industry", "region", *user).unique(
            "customer_id"
        ),
        on="customer_id",
        how="left",
    )
    # Customer ids (integer or string) become dense codes once; the grids are indexed by
    # code and ``pop`` (sorted, original ids) is the matrices' first column.
    rows = agg.Population(pop.get_column("customer_id"))
    # Division as a code: 0..k-1 in ``divisions`` order, k for any division not listed.
    code = pl.col("division").replace_strict(
        list(divisions), list(range(k)), default=k, return_dtype=pl.Int64
    )
    tx = transactions.lazy().select(
        rows.code(),
        code,
        "invoice_id",
        "order_date",
        "revenue",
        "gross_profit",
        gs_labels.return_line(transactions.columns),
    )
    inv, lines = pl.collect_all(
        [_invoice_aggregates(tx, cutoff), agg.monthly_lines(tx, cutoff)], engine="streaming"
    )
    grids = agg.division_grids(inv, rows, k + 1, cutoff)
    columns: dict[str, np.ndarray] = {}
    for c in (
        *[f"tx_{w}m" for w in WINDOWS],
        *[f"rev_{w}m" for w in WINDOWS],
        *[f"q{q}_24m" for q in range(1, 5)],
        "gp_12m",
    ):
        columns[f"all|{c}"] = grids[c].sum(axis=0)
    columns["all|last_date"] = np.fmax.reduce(grids["last_date"], axis=0)
    columns["all|first_date"] = np.fmin.reduce(grids["first_date"], axis=0)
    n_divisions = (grids["tx_24m"][:k] > 0).sum(axis=0)
    if (grids["tx_24m"][k] > 0).any():  # unlisted divisions: count each one apart
        n_divisions = n_divisions + agg.unlisted_divisions_24m(
            transactions, rows, cutoff, divisions
        )
    columns["all|n_divisions_24m"] = n_divisions.astype(np.float64)
    monthly = agg.monthly_grids(lines, rows, k + 1)
    for i, d in enumerate(divisions):
        for c in (*agg.DIVISION_SUMS, "last_date", "first_date"):
            columns[f"{d}|{c}"] = grids[c][i]
        for c, grid in monthly.items():
            columns[f"{d}|{c}"] = grid[i]
    ib = agg.install_base(assets, rows, cutoff, divisions)
    ib_columns = list(ib) if ib is not None else []
    columns.update(ib or {})
    # Day numbers and the expiry horizon are NaN where there is no such date: null.
    dates = [c for c in columns if c.endswith("_date") or c == "ib_days_to_next_expiry"]
    frame = pl.concat(
        [pop, pl.DataFrame(columns).with_columns(pl.col(dates).fill_nan(None))], how="horizontal"
    ).lazy()
    # One-hot industry and region over the customers that exist at the cutoff.
    cats = [
        (pl.col(col) == value).cast(pl.Float64).fill_null(0.0).alias(f"cat_{col}_{_slug(value)}")
        for col in ("industry", "region")
        for value in sorted(pop[col].drop_nulls().unique().to_list())
    ]
    shared = [
        # Calendar position of the label window: lets pooled snapshots learn seasonality.
        pl.lit(float((cutoff + timedelta(days=1)).month)).alias("cal_window_start_month"),
        (pl.lit(cutoff) - pl.col("created_date"))
        .dt.total_days()
        .cast(pl.Float64)
        .alias("cust_tenure_days"),
        *_all_columns(cutoff, divisions),
        *[e for d in divisions for e in _other_division_columns(d, cutoff)],
        *[pl.col(c) for c in ib_columns],
        *cats,
        *[pl.col(c).cast(pl.Float64) for c in user],
    ]
    targets = [e for d in divisions for e in _target_columns(d, cutoff)]
    # Smoothed target share and seasonality aimed at the label window's first quarter.
    next_q = ((cutoff + timedelta(days=1)).month - 1) // 3 + 1
    all24 = pl.col("all_tx_24m")
    shares: list[pl.Expr] = []
    for d in divisions:
        tgt24 = pl.col(f"{d}|tgt_tx_count_24m")
        total_all = all24.sum()
        p_pop = pl.when(total_all > 0).then(tgt24.sum() / total_all).otherwise(0.0)
        shares += [
            ((tgt24 + SHARE_PRIOR * p_pop) / (all24 + SHARE_PRIOR)).alias(
                f"{d}|tgt_share_smoothed_24m"
            ),
            pl.when(tgt24 > 0)
            .then(pl.col(f"{d}|tgt_q{next_q}_24m") / tgt24)
            .otherwise(0.0)
            .alias(f"{d}|tgt_next_quarter_share_24m"),
        ]
    wide = (
        _fill(frame.select("customer_id", *shared, *targets))
        .with_columns(shares)
        .collect(engine="in-memory")
    )
    names = [e.meta.output_name() for e in shared[2:]]
    tgt_names = [e.meta.output_name().split("|", 1)[1] for e in _target_columns("x", cutoff)]
    tgt_names = [n for n in tgt_names if not re.fullmatch(r"tgt_q\d_24m", n)]
    return SharedParts(
        cutoff=cutoff,
        divisions=divisions,
        wide=wide,
        base_columns=tuple(names),
        target_columns=tuple(tgt_names),
    )


def assemble(parts: SharedParts, target_division: str) -> pl.DataFrame:
    """The feature matrix of ``target_division`` from the shared parts (see build_features).

    Column order: customer, calendar and tenure, the target block, then the shared
    blocks without the target's own ``d_<target>_*`` columns (the target block has them),
    then the smoothed target share and the next-quarter share. Only selects columns.
    """
    if target_division not in parts.divisions:
        raise ValueError(
            f"target division {target_division!r} is not one of {list(parts.divisions)}"
        )
    own = f"d_{target_division}_"
    tail = ("tgt_share_smoothed_24m", "tgt_next_quarter_share_24m")
    return parts.wide.select(
        *_HEAD,
        *[pl.col(f"{target_division}|{n}").alias(n) for n in parts.target_columns],
        *[c for c in parts.base_columns if not c.startswith(own)],
        *[pl.col(f"{target_division}|{n}").alias(n) for n in tail],
    )


def build_features(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    assets: pl.DataFrame | None,
    cutoff: date,
    divisions: Sequence[str],
    target_division: str,
) -> pl.DataFrame:
    """The feature matrix at ``cutoff`` for ``target_division`` (see the module docstring).

    Args:
        transactions: ``customer_id, invoice_id, order_date, division, revenue, gross_profit``.
        customers: ``customer_id, created_date, industry, region``.
        assets: install base (``customer_id, division, purchase_date, expiration_date``) or None.
        cutoff: as-of date; nothing dated after it is read.
        divisions: every division (fixes the column set); must contain ``target_division``.

    Returns:
        ``customer_id`` + Float64 features; one row per customer created by ``cutoff``.
    """
    if target_division not in divisions:
        raise ValueError(f"target division {target_division!r} is not one of {list(divisions)}")
    return assemble(
        shared_parts(transactions, customers, assets, cutoff, divisions), target_division
    )


def build_features_all(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    assets: pl.DataFrame | None,
    cutoff: date,
    divisions: Sequence[str],
) -> dict[str, pl.DataFrame]:
    """Feature matrices of every division at one cutoff, sharing the one scan of the data."""
    parts = shared_parts(transactions, customers, assets, cutoff, divisions)
    return {d: assemble(parts, d) for d in divisions}


def assert_truncation_invariant(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    assets: pl.DataFrame | None,
    cutoff: date,
    divisions: Sequence[str],
    target_division: str,
    tol: float = 1e-9,
) -> None:
    """Raise AssertionError naming each feature whose values differ between full and cut data."""
    full = build_features(transactions, customers, assets, cutoff, divisions, target_division)
    cut = build_features(
        *truncate_inputs(transactions, customers, assets, cutoff),
        cutoff,
        divisions,
        target_division,
    )
    problems: list[str] = []
    if full.columns != cut.columns:
        problems.append(
            f"column sets differ: only full {sorted(set(full.columns) - set(cut.columns))}, "
            f"only cut {sorted(set(cut.columns) - set(full.columns))}"
        )
    if full["customer_id"].to_list() != cut["customer_id"].to_list():
        problems.append("customer populations differ")
    if not problems:
        for c in feature_columns(full):
            a, b = full[c].to_numpy(), cut[c].to_numpy()
            bad = ~((abs(a - b) <= tol * (1 + abs(a))) | ((a != a) & (b != b)))
            if bad.any():
                i = int(bad.argmax())
                problems.append(
                    f"{c}: {int(bad.sum())} rows differ, e.g. customer "
                    f"{full['customer_id'][i]}: full={a[i]} cut={b[i]}"
                )
    if problems:
        raise AssertionError(
            f"truncation invariance violated at cutoff {cutoff} (division {target_division}): "
            + "; ".join(problems)
        )
