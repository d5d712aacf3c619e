"""`make demo` plan and summary for gosales."""

from __future__ import annotations

import dagster as dg
import polars as pl

from gosales_assets.config import load_config
from gosales_assets.inputs import OUTPUTS
from shared.dagster_helpers import md_table
from shared.partitions import partition_key
from shared.storage import read_lake

INPUTS = [f"gosales/{name}" for name in OUTPUTS]
TRAIN = [
    "gosales/feature_matrix",
    "gosales/labels",
    "gosales/candidate_model",
    "gosales/holdout_metrics",
    "gosales/candidate_report",
    "gosales/promoted_model",
    "gosales/model_card",
]


def demo_plan() -> list[tuple[list[str], list[str] | None]]:
    """Inputs; then every division × cutoff, oldest cutoff first (so later
    candidates are compared with the champion an earlier one set); then scoring
    of every division; then the whitespace list over all of them. The per-division
    trends across cutoffs follow training."""
    cfg = load_config()
    keys = [
        str(dg.MultiPartitionKey({"cutoff": c.isoformat(), "division": d}))
        for c in sorted(cfg.cutoffs)
        for d in cfg.divisions
    ]
    return [
        (INPUTS, None),
        (TRAIN, keys),
        (["gosales/holdout_trends"], None),
        (["gosales/icp_scores"], list(cfg.divisions)),
        (["gosales/whitespace"], None),
    ]


def summarize() -> str:
    """Per division: holdout AUC vs oracle, calibration, gate result, champion, scored rows."""
    metrics = read_lake(["gosales", "holdout_metrics"])
    if metrics.height == 0:
        return "no gosales holdout metrics yet"
    wide = (
        metrics.filter(pl.col("model").is_in(["candidate", "oracle", "rule"]))
        .pivot(on="model", index=["division", "cutoff_date"], values="auc")
        .rename({"candidate": "auc", "oracle": "oracle_auc", "rule": "rule_auc"}, strict=False)
    )
    cand = metrics.filter(pl.col("model") == "candidate").select(
        "division", "cutoff_date", "positives", "lift_at_10", "calibration_mae"
    )
    table = cand.join(wide, on=["division", "cutoff_date"])
    if "oracle_auc" in table.columns:
        table = table.with_columns(oracle_gap=pl.col("oracle_auc") - pl.col("auc"))
    promoted = read_lake(["gosales", "promoted_model"])
    if promoted.height:
        table = table.join(
            promoted.select(
                "division", "cutoff_date", "promoted", "version", pl.col("reason").alias("gates")
            ),
            on=["division", "cutoff_date"],
            how="left",
        )
    scores = read_lake(["gosales", "icp_scores"])
    scored = (
        scores.with_columns(  # the data's spelling (CAD Seats) back to its key (cad_seats)
            division=pl.col("division_name").map_elements(partition_key, return_dtype=pl.Utf8)
        )
        .group_by("division")
        .len()
        .rename({"len": "scored"})
        if scores.height
        else pl.DataFrame(
            {"division": [], "scored": []}, schema={"division": pl.Utf8, "scored": pl.UInt32}
        )
    )
    table = table.join(scored, on="division", how="left").sort("division", "cutoff_date")
    out = md_table(table, max_rows=60)
    ranked = read_lake(["gosales", "whitespace"])
    if ranked.height:
        out += (
            f"\nwhitespace: {ranked.height} open (customer, division) pairs over "
            f"{ranked['customer_id'].n_unique()} customers; first five:\n"
            + md_table(
                ranked.head(5).select("rank", "customer_name", "division", "score", "nba_reason")
            )
        )
    return out
