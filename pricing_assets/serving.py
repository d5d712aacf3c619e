"""The one servable pricing artifact of a business unit × cutoff (no Dagster here).

A :class:`PricingBundle` holds everything a recommendation needs: the encoders fitted on
the partition's training lines, the point models, the conformal range model, the
win-probability model and the within-deal correlation. It is logged to MLflow as one
model and registered as one version of ``pricing_recs_<bu_id>``; the ``champion`` alias
points at it. Because the encoders travel with the models, a champion can score lines of
any later partition with the codes it was trained on: that is how it is judged on a
newer candidate's holdout (:func:`champion_point_comparison`) and how it serves
(:func:`recommend_partition`: line and deal recommendations for a partition's latest deals).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from pricing_assets import models as pm
from pricing_assets import recommend as rec
from pricing_assets import win as pwin
from pricing_assets.config import BUConfig
from pricing_assets.features import LineEncoders
from shared.metrics import mae, paired_loss_difference, rmse


@dataclass
class PricingBundle:
    """Encoders + point, range and win models of one partition (see the module docstring)."""

    bu_id: str
    cutoff: date
    encoders: LineEncoders
    point: pm.PointModels
    range: pm.RangeModel
    win: pwin.WinModel
    rho: float

    def prepare(self, lines: pl.DataFrame) -> pl.DataFrame:
        """``line_features`` rows (any partition) re-encoded with this bundle's encoders."""
        return self.encoders.apply(lines)

    def predict_discount(self, lines: pl.DataFrame) -> np.ndarray:
        """Point discount per line (fraction of list price) by the LightGBM point model."""
        return self.point.predict(self.prepare(lines))

    def predict_range(self, lines: pl.DataFrame) -> pl.DataFrame:
        """``lower/median/upper_discount, calibration_group`` per line (conformal range)."""
        return self.range.predict(self.prepare(lines))


def champion_point_comparison(
    holdout: pl.DataFrame, candidate: np.ndarray, champion: PricingBundle
) -> dict[str, Any]:
    """The serving champion's point model on a candidate's own holdout lines.

    In: holdout ``line_features`` rows (with ``discount`` and ``deal_id``), the
    candidate's point predictions on them. Out: ``champion`` (its ``mae``, ``mse`` there)
    and ``mse_diff_se``, the cluster-robust (by deal) standard error of the paired
    difference of squared errors (the loss the point model is trained for) — the noise
    of this holdout for the beat-the-champion gate.
    """
    y = holdout["discount"].to_numpy()
    champ = champion.predict_discount(holdout)
    _, se = paired_loss_difference(
        (candidate - y) ** 2, (champ - y) ** 2, holdout["deal_id"].to_numpy()
    )
    return {
        "champion": {"mae": mae(y, champ), "mse": rmse(y, champ) ** 2},
        "mse_diff_se": se,
    }


def deal_frame(
    lines: pl.DataFrame, quotes: pl.DataFrame, bu_id: str, cutoff: date, regions: list[str]
) -> pl.DataFrame:
    """One row per deal (sorted by ``deal_id``) with the win model's features."""
    deals = (
        lines.sort("deal_id", "order_line_id")
        .group_by("deal_id", maintain_order=True)
        .agg(
            pl.col("customer_id").first(),
            pl.col("order_date").first(),
            pl.col("customer_tier").first(),
            pl.col("region").first(),
            deal_list_value=pl.col("line_value").sum(),
        )
    )
    closed = quotes.filter((pl.col("bu_id") == bu_id) & (pl.col("close_date") <= cutoff))
    deals = pwin.win_history(deals, closed, "order_date")
    return deals.with_columns(
        discount=pl.lit(0.0),
        log_list_value=pl.col("deal_list_value").log(),
        segment_code=pwin.segment_codes(deals["customer_tier"]),
        region_code=pwin.region_codes(deals["region"], regions),
    )


LINE_CONTEXT = [
    "bu_id",
    "bu_name",
    "deal_id",
    "order_line_id",
    "customer_id",
    "product_id",
    "product_family",
    "customer_tier",
    "region",
    "order_date",
    "list_price",
    "quantity",
    "unit_cost",
    "floor_price",
    "discount",
    "calibration_group",
]

RULE_BASELINE = "rule-baseline"
"""``model_version`` of recommendations served by :func:`recommend_rule_baseline`."""


def _published(
    features: pl.DataFrame, line_recs: pl.DataFrame, deal_recs: pl.DataFrame, cutoff: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    extra = [c for c in line_recs.columns if c not in LINE_CONTEXT and c not in features.columns]
    context = [c for c in LINE_CONTEXT if c in line_recs.columns]  # bu_name: validated data
    line_recs = line_recs.select([*context, *extra]).with_columns(cutoff_date=pl.lit(cutoff))
    return line_recs, deal_recs.with_columns(cutoff_date=pl.lit(cutoff))


def recommend_partition(
    features: pl.DataFrame,
    quotes: pl.DataFrame,
    bundle: PricingBundle,
    cfg: BUConfig,
    cutoff: date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Line and deal recommendations for the partition's latest deals (the holdout window),
    by the serving ``bundle`` (its own encoders applied to these lines)."""
    hold = features.filter(pl.col("split") == "holdout")
    ranges = bundle.predict_range(hold)
    lines = pl.concat([hold, ranges], how="horizontal")
    deals = deal_frame(lines, quotes, cfg.bu_id, cutoff, bundle.win.regions)
    line_recs, deal_recs = rec.recommend(
        lines, cfg.guardrails, bundle.rho, bundle.win.at_row_discounts, deals, cfg.deal_target
    )
    return _published(features, line_recs, deal_recs, cutoff)


def recommend_rule_baseline(
    features: pl.DataFrame, cfg: BUConfig, cutoff: date
) -> tuple[pl.DataFrame, pl.DataFrame, float]:
    """Recommendations for the partition's latest deals when no model champion serves.

    In: the partition's ``line_features``. The range is :class:`pricing_assets.models.
    SegmentRangeRule` fitted on every line before the holdout window (train and
    calibration); the within-deal correlation is estimated on the calibration lines; the
    guardrails apply as for a model. There is no win model, so the deal target is the
    median whatever ``deal_target`` says: ``optimal_discount`` is the median,
    ``expected_margin_impact`` is 0 and the win probabilities / expected margins are null.
    Out: ``(line_recs, deal_recs, rho)`` with the columns of :func:`recommend_partition`.
    """
    hold = features.filter(pl.col("split") == "holdout")
    before = features.filter(pl.col("split") != "holdout")
    if before.height == 0:
        raise ValueError(
            f"bu_id {cfg.bu_id!r}, cutoff {cutoff}: no line before the holdout window to fit "
            "the rule baseline on"
        )
    rule = pm.SegmentRangeRule.fit(before, cfg.coverage.target)
    cal = features.filter(pl.col("split") == "calibration")
    rho = rec.estimate_within_deal_correlation(
        pl.concat([cal, rule.predict(cal)], how="horizontal")
    )
    lines = pl.concat([hold, rule.predict(hold)], how="horizontal")
    line_recs, deal_recs = rec.recommend(lines, cfg.guardrails, rho, deal_target="median")
    no_win = ("p_win_median", "p_win_optimal", "expected_margin_median", "expected_margin_optimal")
    deal_recs = deal_recs.with_columns(
        optimal_discount=pl.col("median_discount"),
        expected_margin_impact=pl.lit(0.0),
        **{c: pl.lit(None, pl.Float64) for c in no_win},
    )
    return (*_published(features, line_recs, deal_recs, cutoff), rho)
