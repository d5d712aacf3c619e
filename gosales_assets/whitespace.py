"""Whitespace (next-best-action) ranker: which cross-sell should each rep work next.

Pure logic, polars in and out. One row per (customer, division) the customer has
not bought in the last ``lookback_months`` before the as-of date, ranked by a
blend of three signals, each in [0, 1]:

- ``p_icp_pct``: percentile of the calibrated ``icp_score`` within its division
  (over every scored customer, so it is uniform per division);
- ``affinity_norm``: market-basket lift of the target division given the
  divisions the customer already buys, ``P(buys d | buys s) / P(buys d)`` over
  customers active in the lookback, best source ``s`` with at least
  ``min_support`` customers owning both, mapped to [0, 1] by
  ``(lift - 1) / (lift_cap - 1)`` clipped; null when the customer owns nothing
  with enough support;
- ``value_norm``: expected annual spend in the division for the customer's
  industry (median over the division's buyers in that industry, shrunk towards
  the division's median by ``value_shrinkage`` pseudo-buyers), as a percentile
  over the candidate rows; null for a division nobody bought in the lookback.

``score`` is the weighted sum of the signals with coverage-aware weights: each
configured weight is scaled by the share of rows that have the signal and the
weights are re-normalised to sum 1 (so a signal that is mostly missing counts
less, and a signal missing everywhere not at all); a row missing a signal takes
its neutral value (``NEUTRAL``), so no history never beats history.
Ties break on higher ``p_icp``, higher value, fresher activity, then
``customer_id`` and ``division`` ascending, so the order is deterministic.

Everything is computed from transactions dated on or before ``as_of``; nothing
looks past it. The seed's ALS similarity signal is not built (no embedding
model in the stack); its weight is simply absent from the blend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Literal

import polars as pl
from pydantic import Field, field_validator

from gosales_assets.labels import is_purchase, micro, return_line
from gosales_assets.schemas import division_display_names
from shared.config import StrictModel
from shared.partitions import add_months, partition_key

REASON_MAX_CHARS = 150
SIGNALS = ("p_icp_pct", "affinity_norm", "value_norm")
# What a missing signal counts as: lift <= 1 (no evidence of affinity) maps to 0; an
# unknown value or propensity sits at the middle of its percentile scale.
NEUTRAL = {"p_icp_pct": 0.5, "affinity_norm": 0.0, "value_norm": 0.5}


class WhitespaceConfig(StrictModel):
    """Ranker settings (``whitespace:`` section of the gosales config)."""

    weights: dict[str, float] = Field(
        default_factory=lambda: {"p_icp_pct": 0.6, "affinity_norm": 0.2, "value_norm": 0.2}
    )
    lookback_months: int = Field(24, gt=0)
    min_support: int = Field(30, gt=0)
    lift_cap: float = Field(3.0, gt=1.0)
    value_shrinkage: float = Field(20.0, ge=0.0)
    per_rep: int = Field(10, gt=0)
    # "pooled": percentile of the calibrated probability over every division, so a top
    # customer of a rare division does not outrank a likely buyer of a common one;
    # "per_division": uniform within each division (equal share of the list per division).
    normalization: Literal["pooled", "per_division"] = "pooled"

    @field_validator("weights")
    @classmethod
    def _known_signals(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(SIGNALS)
        if unknown:
            raise ValueError(
                f"whitespace.weights: unknown signals {sorted(unknown)}; use {SIGNALS}"
            )
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("whitespace.weights: weights must be >= 0 with a positive sum")
        return value


def _window(transactions: pl.DataFrame, as_of: date, months: int) -> pl.DataFrame:
    """Lines dated in (as_of - months, as_of]."""
    start = add_months(as_of, -months)
    return transactions.filter(
        (pl.col("order_date") > pl.lit(start)) & (pl.col("order_date") <= pl.lit(as_of))
    )


def ownership(transactions: pl.DataFrame, as_of: date, lookback_months: int) -> pl.DataFrame:
    """Who bought what in the lookback: one row per (customer_id, division).

    Out: customer_id, division, revenue (summed over the lookback, net of returns),
    last_date. A customer × division whose lookback lines include a return and net to
    revenue <= 0 owns nothing (the rule of :mod:`gosales_assets.labels`).
    """
    return (
        _window(transactions, as_of, lookback_months)
        .group_by("customer_id", "division")
        .agg(
            revenue=pl.col("revenue").sum(),
            last_date=pl.col("order_date").max(),
            net=micro("revenue").sum(),
            returned=return_line(transactions.columns).any(),
        )
        .filter(is_purchase(revenue="net"))  # everything returned: not owned (labels' rule)
        .drop("net", "returned")
    )


def affinity_lift(owned: pl.DataFrame, min_support: int) -> pl.DataFrame:
    """Market-basket lift between divisions over the customers in ``owned``.

    In: ``ownership()`` rows. Out: source, target, support (customers owning
    both), lift = P(target | source) / P(target); pairs below ``min_support``
    are left out (too few customers to trust the ratio).
    """
    pairs = owned.select("customer_id", "division")
    n_customers = pairs["customer_id"].n_unique()
    if n_customers == 0:
        return pl.DataFrame(
            schema={
                "source": pl.String,
                "target": pl.String,
                "support": pl.UInt32,
                "lift": pl.Float64,
            }
        )
    counts = pairs.group_by("division").agg(n=pl.len())
    both = (
        pairs.rename({"division": "source"})
        .join(pairs.rename({"division": "target"}), on="customer_id")
        .filter(pl.col("source") != pl.col("target"))
        .group_by("source", "target")
        .agg(support=pl.len())
    )
    return (
        both.join(counts.rename({"division": "source", "n": "n_source"}), on="source")
        .join(counts.rename({"division": "target", "n": "n_target"}), on="target")
        .with_columns(
            lift=(pl.col("support") / pl.col("n_source")) / (pl.col("n_target") / n_customers)
        )
        .filter(pl.col("support") >= min_support)
        .select("source", "target", pl.col("support").cast(pl.UInt32), "lift")
        .sort("source", "target")
    )


def expected_value(
    owned: pl.DataFrame, customers: pl.DataFrame, lookback_months: int, shrinkage: float
) -> pl.DataFrame:
    """Expected annual spend per (industry, division) of a customer who buys the division.

    Median of the buyers' annualised lookback revenue in the industry, shrunk
    towards the division-wide median with ``shrinkage`` pseudo-buyers. Out:
    industry, division, expected_value (currency per year), buyers.
    """
    years = lookback_months / 12
    spend = owned.join(customers.select("customer_id", "industry"), on="customer_id", how="left")
    spend = spend.with_columns(
        industry=pl.col("industry").fill_null("unknown"), annual=pl.col("revenue") / years
    )
    overall = spend.group_by("division").agg(overall=pl.col("annual").median())
    by_segment = spend.group_by("industry", "division").agg(
        segment=pl.col("annual").median(), buyers=pl.len()
    )
    industries = customers.select(pl.col("industry").fill_null("unknown")).unique()
    return (
        industries.join(overall, how="cross")
        .join(by_segment, on=["industry", "division"], how="left")
        .with_columns(buyers=pl.col("buyers").fill_null(0))
        .with_columns(
            expected_value=(
                pl.col("buyers") * pl.col("segment").fill_null(0.0) + shrinkage * pl.col("overall")
            )
            / (pl.col("buyers") + shrinkage)
            if shrinkage > 0
            else pl.col("segment").fill_null(pl.col("overall"))
        )
        .select("industry", "division", "expected_value", "buyers")
    )


def _percentile(col: str, over: str | None = None) -> pl.Expr:
    """Mid-rank percentile in (0, 1): uniform when values are distinct."""
    rank = pl.col(col).rank("average")
    n = pl.col(col).count()  # nulls keep a null percentile and do not count
    if over is not None:
        rank, n = rank.over(over), n.over(over)
    return (rank - 0.5) / n


def effective_weights(frame: pl.DataFrame, weights: Mapping[str, float]) -> dict[str, float]:
    """Configured weights scaled by each signal's coverage in ``frame``, re-normalised to sum 1.

    A signal present on 40% of the rows counts 40% of its weight. The scaling is the
    same for every row: a row missing a signal gets that signal's neutral value
    (``NEUTRAL``) rather than a re-weighted score, so having no purchase history is
    never better than having history that shows no affinity.
    """
    n = max(frame.height, 1)
    scaled = {s: float(weights.get(s, 0.0)) * frame[s].is_not_null().sum() / n for s in SIGNALS}
    total = sum(scaled.values())
    if total <= 0:
        raise ValueError("whitespace: no signal with a positive weight has any value")
    return {s: w / total for s, w in scaled.items()}


def _reason(row: Mapping[str, object]) -> str:
    """Plain-language reason from the one or two signals that add most to the score."""
    division = row["division"]
    pct = float(row["p_icp_pct"])
    propensity = f"{float(row['p_icp']):.0%} likely to buy {division}"
    if pct >= 0.5:
        propensity += f" (top {max(1, round(100 * (1 - pct)))}%)"
    parts: list[tuple[float, str]] = [(float(row["c_p_icp_pct"] or 0.0), propensity)]
    if row["affinity_norm"] is not None:
        parts.append(
            (
                float(row["c_affinity_norm"] or 0.0),
                f"buys {row['affinity_source']}, whose buyers are "
                f"{float(row['affinity_lift']):.1f}x likelier to buy {division}",
            )
        )
    if row["expected_value"] is not None:  # no buyer of the division anywhere: no value signal
        parts.append(
            (
                float(row["c_value_norm"] or 0.0),
                f"typical {division} spend in {row['industry']} about "
                f"{float(row['expected_value']):,.0f}/yr",
            )
        )
    parts.sort(key=lambda p: -p[0])
    text = "; ".join(p[1] for p in parts[:2])
    return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 1] + "…"


def rank_whitespace(
    icp_scores: pl.DataFrame,
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    as_of: date,
    cfg: WhitespaceConfig,
) -> pl.DataFrame:
    """The ranked whitespace list at ``as_of``.

    In: ``icp_scores`` rows of every division (customer_id, division_name,
    icp_score, model_version), the validated transactions and customers.
    Out: one row per (customer, division) not bought in the lookback, sorted by
    ``rank`` (1 = work first) with division_rank, rep_rank, in_capacity
    (within the rep's first ``per_rep``), the three signals, their weighted
    contributions folded into ``score`` in [0, 1], and ``nba_reason``
    (<= 150 characters, built only from division, industry and numbers).
    """
    owned = ownership(transactions, as_of, cfg.lookback_months)
    lifts = affinity_lift(owned, cfg.min_support)
    value = expected_value(owned, customers, cfg.lookback_months, cfg.value_shrinkage)
    last_activity = owned.group_by("customer_id").agg(last_date=pl.col("last_date").max())

    # Computed on division keys (as in the transactions), shown as the data spells them.
    display = division_display_names(transactions, icp_scores["division_name"])
    scored = icp_scores.select(
        "customer_id",
        division=pl.col("division_name").replace_strict(
            {n: partition_key(n) for n in icp_scores["division_name"].unique().to_list()},
            return_dtype=pl.String,
        ),
        p_icp=pl.col("icp_score"),
        model_version=pl.col("model_version"),
    ).with_columns(
        p_icp_pct=_percentile(
            "p_icp", over="division" if cfg.normalization == "per_division" else None
        )
    )
    candidates = scored.join(
        owned.select("customer_id", "division"), on=["customer_id", "division"], how="anti"
    )
    best_lift = (
        owned.select("customer_id", source=pl.col("division"))
        .join(lifts, on="source")
        .sort("lift", "source", descending=[True, False])
        .group_by("customer_id", "target", maintain_order=True)
        .first()
        .select(
            "customer_id",
            division=pl.col("target"),
            affinity_source=pl.col("source"),
            affinity_lift=pl.col("lift"),
        )
    )
    cust = customers.select(
        "customer_id", "customer_name", "rep_id", industry=pl.col("industry").fill_null("unknown")
    )
    frame = (
        candidates.join(best_lift, on=["customer_id", "division"], how="left")
        .join(cust, on="customer_id", how="left")
        .with_columns(industry=pl.col("industry").fill_null("unknown"))
        .join(value, on=["industry", "division"], how="left")
        .join(last_activity, on="customer_id", how="left")
        .with_columns(
            affinity_norm=((pl.col("affinity_lift") - 1) / (cfg.lift_cap - 1)).clip(0.0, 1.0),
            value_norm=_percentile("expected_value"),
        )
    )
    weights = effective_weights(frame, cfg.weights)
    frame = frame.with_columns(
        [(pl.col(s).fill_null(NEUTRAL[s]) * weights[s]).alias(f"c_{s}") for s in SIGNALS]
    ).with_columns(
        score=pl.sum_horizontal([pl.col(f"c_{s}") for s in SIGNALS]),
        days_since_purchase=(pl.lit(as_of) - pl.col("last_date")).dt.total_days(),
    )
    frame = frame.sort(
        ["score", "p_icp", "expected_value", "days_since_purchase", "customer_id", "division"],
        descending=[True, True, True, False, False, False],
        nulls_last=True,
    ).with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32))
    frame = frame.with_columns(
        division_rank=pl.col("rank").rank("ordinal").over("division").cast(pl.Int32),
        rep_rank=pl.col("rank").rank("ordinal").over("rep_id").cast(pl.Int32),
    ).with_columns(
        in_capacity=pl.col("rep_rank") <= cfg.per_rep,
        division=pl.col("division").replace(display),
        affinity_source=pl.col("affinity_source").replace(display),
    )
    reasons = [_reason(r) for r in frame.iter_rows(named=True)]
    return frame.with_columns(
        as_of_date=pl.lit(as_of), nba_reason=pl.Series(reasons, dtype=pl.String)
    ).select(
        "as_of_date",
        "rank",
        "customer_id",
        "customer_name",
        "rep_id",
        "division",
        "score",
        "p_icp",
        "p_icp_pct",
        "affinity_norm",
        "affinity_source",
        "affinity_lift",
        "value_norm",
        "expected_value",
        "industry",
        "days_since_purchase",
        "division_rank",
        "rep_rank",
        "in_capacity",
        "model_version",
        "nba_reason",
    )


def checksum(ranked: pl.DataFrame) -> str:
    """SHA-256 of the ranked list (same inputs and config give the same checksum)."""
    return hashlib.sha256(ranked.write_csv(float_precision=10).encode()).hexdigest()


def summary(ranked: pl.DataFrame) -> dict[str, object]:
    """Rows, customers, division shares of the capacity slots, signal coverage."""
    slots = ranked.filter(pl.col("in_capacity"))
    shares = (
        slots.group_by("division").len().with_columns(share=pl.col("len") / max(slots.height, 1))
    )
    return {
        "rows": ranked.height,
        "customers": ranked["customer_id"].n_unique(),
        "capacity_rows": slots.height,
        "affinity_coverage": float(ranked["affinity_norm"].is_not_null().mean() or 0.0),
        "division_share_in_capacity": {
            r["division"]: round(r["share"], 4) for r in shares.sort("division").to_dicts()
        },
        "checksum": checksum(ranked),
    }


def truth_capture(
    ranked: pl.DataFrame, truth: pl.DataFrame, fractions: Sequence[float] = (0.05, 0.1, 0.2)
) -> pl.DataFrame:
    """How well the ranking finds true buyers (synthetic worlds only).

    In: ``ranked`` rows and the world's truth at the same as-of date
    (customer_id, division, true_prob). Out per fraction K: the share of all
    expected purchases among whitespace rows that falls in the top K of the
    ranking, the same for the oracle ordering (by true_prob), and the truth lift
    (mean true_prob in the top K / mean over all rows).
    """
    joined = ranked.select("rank", "customer_id", "division").join(
        truth.select("customer_id", "division", "true_prob"),
        on=["customer_id", "division"],
        how="inner",
    )
    total = float(joined["true_prob"].sum())
    mean_all = float(joined["true_prob"].mean())
    by_rank = joined.sort("rank")["true_prob"]
    oracle = joined["true_prob"].sort(descending=True)
    rows = []
    for frac in fractions:
        k = max(1, int(round(frac * joined.height)))
        rows.append(
            {
                "fraction": frac,
                "k": k,
                "capture": float(by_rank.head(k).sum()) / total,
                "oracle_capture": float(oracle.head(k).sum()) / total,
                "truth_lift": float(by_rank.head(k).mean()) / mean_all,
            }
        )
    return pl.DataFrame(rows)
