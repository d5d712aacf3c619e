"""The content of a gosales model card (no Dagster here; rendering and writing live in
``shared.modelcard``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from shared import plots
from shared.gates import GateReport, metric_of
from shared.modelcard import importance_rows

CARD_METRICS = (
    "auc",
    "pr_auc",
    "lift_at_5",
    "lift_at_10",
    "lift_at_20",
    "capture_at_10",
    "brier",
    "brier_skill",
    "calibration_mae",
)


def card_content(
    *,
    model_name: str,
    cutoff: date,
    division: str,
    holdout_metrics: pl.DataFrame,
    report: dict[str, Any],
    gates: GateReport,
    calibration_markdown: str,
) -> dict[str, Any]:
    """The model card of one candidate: data, metrics per model with the oracle gap,
    calibration, gates, features and the MLflow link."""
    by_model = {r["model"]: r for r in holdout_metrics.to_dicts()}
    metrics = {m: {name: row[m] for name, row in by_model.items()} for m in CARD_METRICS}
    cand = by_model["candidate"]
    # NaN when not measured (no oracle, or a one-class holdout whose AUCs are null)
    oracle_gap = metric_of(holdout_metrics, "oracle", "auc") - metric_of(
        holdout_metrics, "candidate", "auc"
    )
    return {
        "title": f"{model_name} — cutoff {cutoff}",
        "summary": f"Propensity to buy into **{division}** within {report['window_months']} months "
        f"of the cutoff. Gates: {gates.summary()}.",
        "intended_use": "Rank customers for cross-sell outreach in this division; probabilities are calibrated.",
        "limitations": "Trained on pooled snapshots up to the cutoff; judged out of time on held-out customers. "
        "Scores are associations, not causal effects of outreach.",
        "data": {
            "cutoff": cutoff.isoformat(),
            "holdout_cutoff": str(report["holdout_cutoff"]),
            "holdout_rows": cand["n"],
            "holdout_positives": cand["positives"],
            "window_months": report["window_months"],
            "window_reason": report.get("window_reason", "configured window"),
            **report["train_stats"],
        },
        "metrics": metrics,
        "oracle_auc_gap": oracle_gap,
        "oracle_gates": report.get("oracle_gates") or "not measured (no ground truth)",
        "calibration_method": report["calibration_method"],
        "learner": report.get("learner", "lightgbm"),
        "best_iteration": report["best_iteration"],
        "champion_comparison": report["champion_note"],
        "gates_markdown": gates.to_markdown(),
        "gates_passed": gates.passed,
        "calibration_markdown": calibration_markdown,
        "features": report["features"],
        "top_features": report["importance"].head(15)["feature"].to_list(),
        "importance": importance_rows(
            report["importance"]["feature"].to_list(), report["importance"]["gain"].to_list()
        ),
        "plots": card_plots(report),
        "links": {"mlflow_run": report["mlflow_link"]},
    }


def card_plots(report: dict[str, Any]) -> dict[str, bytes]:
    """The card's charts: calibration, gains (candidate, rule, oracle) and the learner's
    importance (gain, or |coefficient| for the logistic)."""
    weight = "gain" if report.get("learner", "lightgbm") == "lightgbm" else "|coefficient|"
    return plots.model_card_plots(
        report["calibration_bins"], report["importance"], weight, report.get("gains")
    )


TREND_METRICS = ("auc", "pr_auc", "lift_at_10", "calibration_mae")


def metric_trends(holdout_metrics: pl.DataFrame) -> pl.DataFrame:
    """Per division and cutoff, the candidate's holdout metrics beside the rule's AUC and the
    oracle's (the gap where ground truth exists): ``division, cutoff_date, positives,
    auc, pr_auc, lift_at_10, calibration_mae, rule_auc, oracle_auc, oracle_gap``, sorted by
    division then cutoff. In: every partition of ``holdout_metrics``."""
    key = ["division", "cutoff_date"]
    cand = holdout_metrics.filter(pl.col("model") == "candidate").select(
        *key, "positives", *TREND_METRICS
    )
    others = holdout_metrics.filter(pl.col("model").is_in(["rule", "oracle"])).select(
        *key, pl.col("model") + "_auc", "auc"
    )
    wide = (
        others.pivot(on="model", index=key, values="auc")
        if others.height
        else pl.DataFrame(schema={k: holdout_metrics.schema[k] for k in key})
    )
    out = cand.join(wide, on=key, how="left")
    for col in ("rule_auc", "oracle_auc"):
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(col))
    return out.with_columns(oracle_gap=pl.col("oracle_auc") - pl.col("auc")).sort(key)


def trend_plots(trends: pl.DataFrame) -> dict[str, bytes]:
    """One line per division across cutoffs: candidate AUC, and the gap to the oracle when
    ground truth exists."""
    frame = trends.with_columns(pl.col("cutoff_date").cast(pl.Utf8))
    out = {
        "Holdout AUC per division": plots.trend_png(
            frame, "cutoff_date", "auc", "division", "Candidate holdout AUC per division"
        )
    }
    if frame["oracle_gap"].drop_nulls().len():
        out["Gap to the oracle per division"] = plots.trend_png(
            frame.drop_nulls("oracle_gap"),
            "cutoff_date",
            "oracle_gap",
            "division",
            "Oracle AUC minus candidate AUC",
        )
    return out
