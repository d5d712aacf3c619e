"""Judge the pricing models against a synthetic world's ground truth (tests and bench).

:func:`evaluate_world` trains every business unit at one cutoff with the pure
pipeline (no Dagster) and pools the holdouts: coverage of the 90 % range overall
and per product family (with the 99 % binomial acceptance interval around the
target for each size), median error against the true median, endpoint error
against the true quantiles the range targets (5/95 %) and against 10/90 %,
point MAE against the segment-median rule, and the win model's AUC against
the oracle AUC (the true probabilities on the same quotes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from pricing_assets import models as pm
from pricing_assets import training
from pricing_assets import win as pwin
from pricing_assets.config import PricingConfig, load_config
from pricing_assets.features import build_line_features
from shared import metrics as M


@dataclass
class WorldQuality:
    summary: dict[str, float]
    coverage: pl.DataFrame  # pooled over business units, per family
    per_bu: pl.DataFrame  # one row per business unit
    results: list[training.PartitionResult]


def evaluate_world(
    size: str = "demo",
    seed: int = 42,
    cutoff: date = date(2024, 6, 30),
    cfg: PricingConfig | None = None,
) -> WorldQuality:
    from pricing_assets.world import generate_world

    cfg = cfg or load_config()
    world = generate_world(size, seed)
    results, per_bu, holds, quotes = [], [], [], []
    for bu in world.business_units:
        t0 = time.perf_counter()
        bcfg = (
            cfg.bu(bu)
            if bu in cfg.business_units
            else cfg.bu(cfg.business_units[0]).model_copy(update={"bu_id": bu})
        )
        feats = build_line_features(
            world.order_lines,
            bu,
            cutoff,
            bcfg.horizons.holdout_days,
            bcfg.horizons.calibration_days,
        )
        res = training.fit_partition(
            feats, world.quotes, bcfg, cutoff, world.line_truth, world.quote_truth
        )
        results.append(res)
        holds.append(res.holdout)
        qf = pwin.build_quote_features(
            world.quotes, bu, cutoff, bcfg.horizons.win_holdout_days, res.regions
        )
        qh = qf.filter(pl.col("split") == "holdout").join(world.quote_truth, on="quote_id")
        quotes.append(
            qh.select("label", "true_win_prob").with_columns(
                p_lgbm=pl.Series(res.win.predict_proba(qh)),
                p_logistic=pl.Series(res.win.predict_proba(qh, "logistic")),
            )
        )
        per_bu.append(
            {
                "bu_id": bu,
                "seconds": time.perf_counter() - t0,
                "holdout_lines": res.holdout.height,
                "coverage": res.metric("range", "cqr_lightgbm", "coverage"),
                "mae": res.metric("point", "lightgbm", "mae"),
                "rf_mae": res.metric("point", "random_forest", "mae"),
                "rule_mae": res.metric("point", "segment_median", "mae"),
                "win_auc": res.metric("win", "lightgbm", "roc_auc"),
                "logistic_auc": res.metric("win", "logistic", "roc_auc"),
                "oracle_auc": res.metric("win", "oracle", "roc_auc"),
                "rho": res.rho,
                "gates_passed": float(training.promotion_gates(res.metrics, bcfg).passed),
            }
        )
    hold = pl.concat(holds, how="diagonal_relaxed")
    q = pl.concat(quotes)
    coverage = pm.coverage_table(hold, target=0.90)
    y = q["label"].to_numpy()
    overall = coverage.filter(pl.col("group") == "ALL").row(0, named=True)
    summary = {
        "holdout_lines": float(hold.height),
        "coverage": overall["coverage"],
        "median_mae_vs_true_q50": float((hold["median_discount"] - hold["q50"]).abs().mean()),
        "lower_mae_vs_true_q05": float((hold["lower_discount"] - hold["q05"]).abs().mean()),
        "upper_mae_vs_true_q95": float((hold["upper_discount"] - hold["q95"]).abs().mean()),
        "lower_mae_vs_true_q10": float((hold["lower_discount"] - hold["q10"]).abs().mean()),
        "upper_mae_vs_true_q90": float((hold["upper_discount"] - hold["q90"]).abs().mean()),
        "mean_width": float((hold["upper_discount"] - hold["lower_discount"]).mean()),
        "true_width_05_95": float((hold["q95"] - hold["q05"]).mean()),
        "mae": float(np.mean([r["mae"] for r in per_bu])),
        "rule_mae": float(np.mean([r["rule_mae"] for r in per_bu])),
        "rf_mae": float(np.mean([r["rf_mae"] for r in per_bu])),
        "win_quotes": float(len(y)),
        "win_auc": M.roc_auc(y, q["p_lgbm"].to_numpy()),
        "logistic_auc": M.roc_auc(y, q["p_logistic"].to_numpy()),
        "oracle_auc": M.roc_auc(y, q["true_win_prob"].to_numpy()),
        "win_brier_skill": M.brier_skill(y, q["p_lgbm"].to_numpy()),
        "oracle_brier_skill": M.brier_skill(y, q["true_win_prob"].to_numpy()),
    }
    return WorldQuality(summary, coverage, pl.DataFrame(per_bu), results)
