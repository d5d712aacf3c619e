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
from shared.gates import Gate, paired_gate


@dataclass
class WorldQuality:
    summary: dict[str, float]
    coverage: pl.DataFrame  # pooled over business units, per family
    per_bu: pl.DataFrame  # one row per business unit
    results: list[training.PartitionResult]


def truth_vs_rule_gate(res: training.PartitionResult) -> Gate:
    """``point_vs_rule`` judged for the truth-like model (the true median ``q50`` of each
    holdout line) instead of the candidate: the gate must let the truth pass."""
    hold = res.holdout
    y = hold["discount"].to_numpy()
    truth, rule = hold["q50"].to_numpy(), res.point.rule.predict(hold)
    diff, se = M.paired_loss_difference(
        (truth - y) ** 2, (rule - y) ** 2, hold["deal_id"].to_numpy()
    )
    return paired_gate("point_vs_rule", diff, se, "the segment-median rule", higher_is_better=False)


def evaluate_world(
    size: str = "demo",
    seed: int = 42,
    cutoff: date = date(2024, 6, 30),
    cfg: PricingConfig | None = None,
    variant: str = "shipped",
) -> WorldQuality:
    """Train every business unit of the world (``size``, ``seed``, ``variant``) at
    ``cutoff`` and judge it against the truth (see the module docstring). ``per_bu`` also
    has each unit's gate verdicts (``gates_passed``, ``point_vs_rule_passed``,
    ``coverage_passed``, the point-vs-rule MSE difference and its SE) and the verdict of
    ``point_vs_rule`` for the truth-like model (``truth_vs_rule_passed``)."""
    from pricing_assets.world import generate_world

    cfg = cfg or load_config()
    world = generate_world(size, seed, variant)
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
                "learner": res.point.learner,  # the point learner chosen on validation
                "mae": res.metric("point", "candidate", "mae"),
                "lightgbm_mae": res.metric("point", "lightgbm", "mae"),
                "ridge_mae": res.metric("point", "ridge", "mae"),
                "rf_mae": res.metric("point", "random_forest", "mae"),
                "rule_mae": res.metric("point", "segment_median", "mae"),
                "win_auc": res.metric("win", "lightgbm", "roc_auc"),
                "logistic_auc": res.metric("win", "logistic", "roc_auc"),
                "oracle_auc": res.metric("win", "oracle", "roc_auc"),
                "rho": res.rho,
                "rule_baseline_coverage": rule_baseline_coverage(feats, bcfg.coverage.target),
                **_verdicts(res, bcfg),
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
        "lightgbm_mae": float(np.mean([r["lightgbm_mae"] for r in per_bu])),
        "ridge_mae": float(np.mean([r["ridge_mae"] for r in per_bu])),
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


def rule_baseline_coverage(features: pl.DataFrame, target: float = 0.90) -> float:
    """Holdout coverage of the rule baseline's range (:class:`pricing_assets.models.
    SegmentRangeRule` fitted on the lines before the holdout, as it serves)."""
    rule = pm.SegmentRangeRule.fit(features.filter(pl.col("split") != "holdout"), target)
    hold = features.filter(pl.col("split") == "holdout")
    r = rule.predict(hold)
    return M.interval_coverage(
        hold["discount"].to_numpy(), r["lower_discount"].to_numpy(), r["upper_discount"].to_numpy()
    )


def _verdicts(res: training.PartitionResult, bcfg) -> dict[str, float]:
    gates = training.promotion_gates(res.metrics, bcfg)
    by_name = {g.name: g for g in gates.gates}
    truth = truth_vs_rule_gate(res)
    return {
        "gates_passed": float(gates.passed),
        "point_vs_rule_passed": float(by_name["point_vs_rule"].passed),
        "coverage_passed": float(by_name["holdout_coverage"].passed),
        "mse_vs_rule_diff": res.metric("point", "candidate", "mse_vs_rule_diff"),
        "mse_vs_rule_se": res.metric("point", "candidate", "mse_vs_rule_se"),
        "point_vs_rule_z": res.metric("point", "candidate", "mse_vs_rule_diff")
        / res.metric("point", "candidate", "mse_vs_rule_se"),
        "truth_vs_rule_passed": float(truth.passed),
        "truth_mse_vs_rule_diff": float(truth.value),
        "truth_vs_rule_z": float(truth.value / truth.threshold),
    }


def main(argv: list[str]) -> None:
    """``python -m pricing_assets.quality [size] [seed] [variant]``: print the summary and
    the per-business-unit coverage, MAE and gate verdicts (default ``demo 42 shipped``)."""
    size = argv[0] if argv else "demo"
    seed = int(argv[1]) if len(argv) > 1 else 42
    variant = argv[2] if len(argv) > 2 else "shipped"
    t0 = time.perf_counter()
    q = evaluate_world(size, seed, variant=variant)
    print(f"world {size}/{seed}/{variant}: {time.perf_counter() - t0:.1f} s")
    for k, v in q.summary.items():
        print(f"{k:28s} {v:.4f}")
    with pl.Config(tbl_cols=30, tbl_width_chars=250, float_precision=5):
        print(
            q.per_bu.drop(
                "seconds",
                "win_auc",
                "logistic_auc",
                "oracle_auc",
                "rho",
                "rf_mae",
                "mse_vs_rule_diff",
                "mse_vs_rule_se",
                "truth_mse_vs_rule_diff",
            )
        )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
