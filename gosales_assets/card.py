"""The content of a gosales model card (no Dagster here; rendering and writing live in
``shared.modelcard``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from shared.gates import GateReport

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
    oracle_gap = by_model["oracle"]["auc"] - cand["auc"] if "oracle" in by_model else float("nan")
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
        "links": {"mlflow_run": report["mlflow_link"]},
    }
