"""From line ranges to deal and line recommendations (pure numpy/polars).

Math, per deal with lines ``i`` of weight ``w_i = list_price_i × quantity_i``:

* **Deal discount** = value-weighted average ``D = Σ w_i d_i / Σ w_i`` (the
  discount on the deal's list value).
* **Rescaling**: line discounts are scaled by one factor so that their
  value-weighted average equals the deal target ``T``: ``d_i = m_i × T / D(m)``
  (relative differences between lines are kept). If every ``m_i`` is 0 the
  lines get ``T`` each.
* **Guardrails**: each line is clipped to ``[min_discount, cap_i]`` with
  ``cap_i = min(max_discount, 1 - floor_price_i / list_price_i)`` (floor policy
  ``enforce``), so ``final_recommended_price = list × (1 - d) >= floor``. If
  clipping moved the deal average away from ``T``, the gap is spread over the
  lines still inside their bounds (by value, repeated until it closes or no
  line can move); ``T`` itself is first clipped to what the bounds allow.
* **Deal range**: the lines' errors are neither independent nor perfectly
  correlated (lines of one deal share the negotiation). With half-widths
  ``h_i`` and one within-deal error correlation ``rho``,
  ``var(Σ w_i e_i) ∝ (1 - rho) Σ (w_i h_i)^2 + rho (Σ w_i h_i)^2``; the deal
  half-width is its square root over ``Σ w_i`` — computed separately below and
  above the median. ``rho = 1`` gives the value-weighted average of the line
  bounds (too wide if errors partly cancel), ``rho = 0`` the independent case
  (too narrow if they do not). ``rho`` is estimated on the calibration slice
  as the within-deal correlation of standardized residuals
  (:func:`estimate_within_deal_correlation`).
* **Expected margin**: over a grid inside the (guardrailed) deal range, the
  discount maximizing ``P(win | d) × margin(d)`` with ``margin(d) = V (1 - d) -
  cost`` (cost = Σ unit_cost × quantity, 0 when unknown); the impact is the
  expected margin at that discount minus the one at the median.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from pricing_assets.config import Guardrails

Z90 = 1.6448536269514722


def weighted_discount(d: np.ndarray, w: np.ndarray) -> float:
    """Value-weighted average discount."""
    return float(np.sum(w * d) / np.sum(w))


def rescale_to_target(m: np.ndarray, w: np.ndarray, target: float) -> np.ndarray:
    """Scale line discounts ``m`` by one factor so their value-weighted average is ``target``."""
    current = weighted_discount(m, w)
    if current <= 0:
        return np.full_like(m, target, dtype=float)
    return m * (target / current)


def line_bounds(
    list_price: np.ndarray, floor_price: np.ndarray, g: Guardrails
) -> tuple[np.ndarray, np.ndarray]:
    """Per-line ``(lo, cap)`` allowed discounts under the guardrails and price floors.

    The floor wins over ``min_discount`` if both cannot hold (a floor above the
    list price gives ``lo = cap = 0``).
    """
    cap = np.full(len(list_price), g.max_discount, dtype=float)
    if g.floor_policy == "enforce":
        floor = np.asarray(floor_price, dtype=float)
        floor_cap = np.where(np.isfinite(floor), 1.0 - floor / list_price, np.inf)
        cap = np.minimum(cap, np.maximum(floor_cap, 0.0))
    lo = np.minimum(g.min_discount, cap)
    return lo, cap


def allocate(
    m: np.ndarray,
    w: np.ndarray,
    target: float,
    lo: np.ndarray,
    cap: np.ndarray,
    max_iter: int = 50,
) -> np.ndarray:
    """Line discounts whose value-weighted average hits ``target`` within the bounds.

    Rescale ``m`` to ``target`` (:func:`rescale_to_target`), clip to ``[lo, cap]``,
    then spread any remaining gap over the lines that can still move.
    """
    W = float(np.sum(w))
    target = float(np.clip(target, np.sum(w * lo) / W, np.sum(w * cap) / W))
    d = np.clip(rescale_to_target(m, w, target), lo, cap)
    for _ in range(max_iter):
        gap = target - float(np.sum(w * d) / W)
        if abs(gap) < 1e-12:
            break
        free = (d < cap - 1e-15) if gap > 0 else (d > lo + 1e-15)
        if not free.any():
            break
        d = np.where(free, d + gap * W / float(np.sum(w[free])), d)
        d = np.clip(d, lo, cap)
    return d


def deal_half_width(h: np.ndarray, w: np.ndarray, rho: float) -> float:
    """Half-width of the deal range from line half-widths ``h`` under correlation ``rho``."""
    wh = w * np.maximum(h, 0.0)
    var = (1.0 - rho) * float(np.sum(wh**2)) + rho * float(np.sum(wh)) ** 2
    return float(np.sqrt(max(var, 0.0)) / np.sum(w))


def estimate_within_deal_correlation(frame: pl.DataFrame) -> float:
    """Within-deal correlation of standardized residuals, clipped to ``[0, 1]``.

    ``frame`` has ``deal_id, discount, median_discount, lower_discount,
    upper_discount`` (calibration rows). Residuals are standardized by each
    line's range (``(upper - lower) / (2 × 1.645)``); the estimate is
    ``Σ_deals Σ_{i≠j} z_i z_j / (Σ_deals n(n - 1) × mean(z^2))``.
    """
    z = frame.select(
        "deal_id",
        z=(pl.col("discount") - pl.col("median_discount"))
        / ((pl.col("upper_discount") - pl.col("lower_discount")).clip(1e-6) / (2 * Z90)),
    )
    per = z.group_by("deal_id").agg(s=pl.col("z").sum(), ss=(pl.col("z") ** 2).sum(), n=pl.len())
    pairs = float((per["n"] * (per["n"] - 1)).sum())
    if pairs == 0:
        return 0.5  # no multi-line deals: half-way between the two extremes
    cross = float((per["s"] ** 2 - per["ss"]).sum())
    mean_sq = float((z["z"] ** 2).mean())
    return float(np.clip(cross / pairs / max(mean_sq, 1e-12), 0.0, 1.0))


WinCurve = Callable[[pl.DataFrame, np.ndarray], np.ndarray]


def recommend(
    lines: pl.DataFrame,
    guardrails: Guardrails,
    rho: float,
    win_curve: WinCurve | None = None,
    deal_features: pl.DataFrame | None = None,
    deal_target: str = "median",
    grid_points: int = 41,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Line and deal recommendations.

    Args:
        lines: one row per line with ``deal_id, order_line_id, list_price,
            quantity, floor_price, unit_cost, lower_discount, median_discount,
            upper_discount`` (model range, before guardrails) and optionally the
            actual ``discount``.
        guardrails: bounds and floor policy.
        rho: within-deal error correlation for the deal range.
        win_curve: ``f(deal_features, grid) -> (n_deals, k)`` P(win) of each
            deal at each of its own grid discounts; None skips the optimization.
        deal_features: one row per ``deal_id`` (same order as the deals'
            first appearance in ``lines``) with the win model's features.
        deal_target: ``median`` (lines follow the median recommendation) or
            ``expected_margin`` (lines follow the margin-optimal discount).

    Returns:
        ``(line_recs, deal_recs)`` (see docs/data_contracts/pricing.md).
    """
    lines = lines.with_columns(_w=pl.col("list_price") * pl.col("quantity")).sort(
        "deal_id", "order_line_id"
    )
    has_actual = "discount" in lines.columns
    lp = lines["list_price"].to_numpy()
    lo_b, cap_b = line_bounds(
        lp, lines["floor_price"].fill_null(float("nan")).to_numpy(), guardrails
    )
    lower, med, upper = (
        lines[c].to_numpy() for c in ("lower_discount", "median_discount", "upper_discount")
    )
    w = lines["_w"].to_numpy()
    cost = (lines["unit_cost"].fill_null(0.0) * lines["quantity"]).to_numpy()
    deal_ids = lines["deal_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, deal_ids[1:] != deal_ids[:-1]])
    ends = np.r_[starts[1:], len(deal_ids)]
    n_deals = len(starts)

    lower_g = np.clip(lower, lo_b, cap_b)
    upper_g = np.clip(upper, lo_b, cap_b)
    med_g = np.clip(med, lo_b, cap_b)
    rec = np.empty(len(w))
    deal = {
        k: np.empty(n_deals)
        for k in (
            "deal_value",
            "deal_cost",
            "model_lower_discount",
            "model_median_discount",
            "model_upper_discount",
            "lower_discount",
            "median_discount",
            "upper_discount",
            "min_allowed",
            "max_allowed",
        )
    }
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        ww = w[a:b]
        W = ww.sum()
        dm = weighted_discount(med[a:b], ww)
        lo_half = deal_half_width(med[a:b] - lower[a:b], ww, rho)
        hi_half = deal_half_width(upper[a:b] - med[a:b], ww, rho)
        min_allowed = float(np.sum(ww * lo_b[a:b]) / W)
        max_allowed = float(np.sum(ww * cap_b[a:b]) / W)
        deal["deal_value"][k] = W
        deal["deal_cost"][k] = cost[a:b].sum()
        deal["model_lower_discount"][k] = dm - lo_half
        deal["model_median_discount"][k] = dm
        deal["model_upper_discount"][k] = dm + hi_half
        deal["lower_discount"][k] = np.clip(dm - lo_half, min_allowed, max_allowed)
        deal["median_discount"][k] = np.clip(dm, min_allowed, max_allowed)
        deal["upper_discount"][k] = np.clip(dm + hi_half, min_allowed, max_allowed)
        deal["min_allowed"][k], deal["max_allowed"][k] = min_allowed, max_allowed

    # expected-margin optimum inside the guardrailed deal range
    V, C = deal["deal_value"], deal["deal_cost"]
    grid = (
        deal["lower_discount"][:, None]
        + (deal["upper_discount"] - deal["lower_discount"])[:, None]
        * np.linspace(0.0, 1.0, grid_points)[None, :]
    )
    grid = np.column_stack([grid, deal["median_discount"]])  # last column: the median
    if win_curve is not None and deal_features is not None:
        p = win_curve(deal_features, grid)
    else:
        p = np.ones_like(grid)
    margin = V[:, None] * (1.0 - grid) - C[:, None]
    em = p * margin
    best = np.argmax(em, axis=1)  # the median is a candidate too: impact >= 0
    rows = np.arange(n_deals)
    optimal = grid[rows, best]
    target = optimal if deal_target == "expected_margin" else deal["median_discount"]
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        rec[a:b] = allocate(med[a:b], w[a:b], float(target[k]), lo_b[a:b], cap_b[a:b])

    final_price = np.maximum(lp * (1.0 - rec), np.where(cap_b < 1, lp * (1.0 - cap_b), 0.0))
    line_cols = {
        "model_lower_discount": lower,
        "model_median_discount": med,
        "model_upper_discount": upper,
        "lower_discount": lower_g,
        "median_discount": med_g,
        "upper_discount": upper_g,
        "min_allowed_discount": lo_b,
        "max_allowed_discount": cap_b,
        "recommended_discount": rec,
        "final_recommended_price": final_price,
        "guardrail_binding": (rec <= lo_b + 1e-12) & (lo_b > 0) | (rec >= cap_b - 1e-12),
    }
    line_recs = lines.drop(
        "_w", "lower_discount", "median_discount", "upper_discount"
    ).with_columns(**{k: pl.Series(k, v) for k, v in line_cols.items()})
    if has_actual:
        actual = lines["discount"].to_numpy()
        line_recs = line_recs.with_columns(
            covered_before_guardrails=pl.Series((actual >= lower) & (actual <= upper)),
            covered_after_guardrails=pl.Series((actual >= lower_g) & (actual <= upper_g)),
        )
    first = lines[starts.tolist()]
    deal_recs = (
        first.select(
            [
                c
                for c in (
                    "bu_id",
                    "bu_name",
                    "deal_id",
                    "customer_id",
                    "order_date",
                    "customer_tier",
                    "region",
                )
                if c in first.columns
            ]
        )
        .with_columns(
            n_lines=pl.Series((ends - starts).astype(np.int64)),
            **{k: pl.Series(k, v) for k, v in deal.items()},
            within_deal_correlation=pl.lit(float(rho)),
            optimal_discount=pl.Series(optimal),
            recommended_discount=pl.Series(np.asarray(target, dtype=float)),
            p_win_median=pl.Series(p[:, -1]),
            p_win_optimal=pl.Series(p[rows, best]),
            expected_margin_median=pl.Series(em[:, -1]),
            expected_margin_optimal=pl.Series(em[rows, best]),
        )
        .with_columns(
            expected_margin_impact=pl.col("expected_margin_optimal")
            - pl.col("expected_margin_median")
        )
    )
    if has_actual:
        actual_deal = np.array(
            [weighted_discount(actual[a:b], w[a:b]) for a, b in zip(starts, ends, strict=True)]
        )
        deal_recs = deal_recs.with_columns(
            actual_discount=pl.Series(actual_deal),
            covered_before_guardrails=pl.Series(
                (actual_deal >= deal["model_lower_discount"])
                & (actual_deal <= deal["model_upper_discount"])
            ),
            covered_after_guardrails=pl.Series(
                (actual_deal >= deal["lower_discount"]) & (actual_deal <= deal["upper_discount"])
            ),
        )
    return line_recs, deal_recs


def coverage_summary(line_recs: pl.DataFrame, deal_recs: pl.DataFrame) -> dict[str, float]:
    """Coverage of the actual discounts before and after guardrails (lines and deals)."""
    out: dict[str, float] = {}
    for name, frame in (("line", line_recs), ("deal", deal_recs)):
        if "covered_before_guardrails" in frame.columns and frame.height:
            out[f"{name}_coverage_before_guardrails"] = float(
                frame["covered_before_guardrails"].mean()
            )
            out[f"{name}_coverage_after_guardrails"] = float(
                frame["covered_after_guardrails"].mean()
            )
    return out


def deal_summary(deal_recs: pl.DataFrame, rho: float) -> dict[str, float]:
    """Headline numbers of the deal recommendations of one partition."""
    return {
        "rows": deal_recs.height,
        "within_deal_correlation": float(rho),
        "total_expected_margin_impact": float(deal_recs["expected_margin_impact"].sum()),
        "mean_optimal_minus_median": float(
            (deal_recs["optimal_discount"] - deal_recs["median_discount"]).mean()
        ),
    }
