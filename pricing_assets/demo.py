"""`make demo` plan and summary for pricing."""

from __future__ import annotations

import dagster as dg
import polars as pl

from pricing_assets.config import load_config
from pricing_assets.inputs import OUTPUTS
from shared.dagster_helpers import md_table
from shared.storage import read_lake

INPUTS = [f"pricing/{name}" for name in OUTPUTS]
TRAIN = [
    "pricing/line_features",
    "pricing/point_model",
    "pricing/range_model",
    "pricing/win_probability",
    "pricing/model_metrics",
    "pricing/justify",
    "pricing/promoted_model",
    "pricing/price_recs_line",
    "pricing/price_recs_deal",
]


def demo_plan() -> list[tuple[list[str], list[str] | None]]:
    """Inputs; then every business unit at the latest cutoff (the monthly retrain).

    Earlier cutoffs are a backfill away in the UI; the demo keeps to one so that
    `make demo` of all three locations stays near five minutes on two cores.
    """
    cfg = load_config()
    latest = max(cfg.cutoffs).isoformat()
    keys = [str(dg.MultiPartitionKey({"bu_id": b, "cutoff": latest})) for b in cfg.business_units]
    return [(INPUTS, None), (TRAIN, keys)]


def summarize() -> str:
    """Per partition: coverage, point MAE vs rule, win AUC vs oracle, promotion, recommendations."""
    metrics = read_lake(["pricing", "model_metrics"])
    if metrics.height == 0:
        return "no pricing metrics yet"
    pick = {
        ("range", "cqr_lightgbm", "n"): "holdout_lines",
        ("range", "cqr_lightgbm", "coverage"): "coverage",
        ("point", "candidate", "mae"): "mae",
        ("point", "segment_median", "mae"): "rule_mae",
        ("point", "random_forest", "mae"): "rf_mae",
        ("win", "lightgbm", "roc_auc"): "win_auc",
        ("win", "oracle", "roc_auc"): "oracle_auc",
        ("truth", "cqr_lightgbm", "median_mae_vs_true_q50"): "median_err_vs_q50",
    }
    rows = metrics.with_columns(
        name=pl.struct("component", "learner", "metric").map_elements(
            lambda s: pick.get((s["component"], s["learner"], s["metric"])), return_dtype=pl.Utf8
        )
    ).filter(pl.col("name").is_not_null())
    table = rows.pivot(on="name", index=["bu_id", "cutoff_date"], values="value")
    promoted = read_lake(["pricing", "promoted_model"])
    if promoted.height:
        table = table.join(
            promoted.select("bu_id", "cutoff_date", "promoted", "version"),
            on=["bu_id", "cutoff_date"],
            how="left",
        )
    deals = read_lake(["pricing", "price_recs_deal"])
    if deals.height:
        table = table.join(
            deals.group_by("bu_id", "cutoff_date").agg(
                deals=pl.len(), margin_impact=pl.col("expected_margin_impact").sum()
            ),
            on=["bu_id", "cutoff_date"],
            how="left",
        )
    return md_table(table.sort("bu_id", "cutoff_date"), max_rows=60)
