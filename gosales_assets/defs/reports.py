"""Stage ``reports``: the model card of each ``cutoff × division`` candidate (markdown +
JSON), built from the holdout metrics and the candidate report — not downstream of the
candidate's gates, so a failed gate still shows why."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from gosales_assets import training
from gosales_assets.card import card_content, metric_trends, trend_plots
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, bind, ins
from gosales_assets.location import LOCATION
from gosales_assets.output_schemas import HoldoutTrendsSchema
from shared.dagster_helpers import (
    md_table,
    numeric_metadata,
    publish_model_card,
    schema_check_result,
    warehouse_metadata,
)
from shared.plots import md_image
from shared.storage import read_lake


def model_card(cfg: GosalesConfig, context, holdout_metrics, candidate_report) -> dict:
    cutoff, division = LOCATION.partition(context)
    name = LOCATION.model_name(division)
    gates = training.promotion_gates(holdout_metrics, cfg.gates, division)
    card = card_content(
        model_name=name,
        cutoff=cutoff,
        division=division,
        holdout_metrics=holdout_metrics,
        report=candidate_report,
        gates=gates,
        calibration_markdown=md_table(candidate_report["calibration_bins"]),
    )
    return publish_model_card(
        context,
        LOCATION.name,
        name,
        card,
        gates.passed,
        {"oracle_auc_gap": card["oracle_auc_gap"]},
    )


def holdout_trends(context) -> pl.DataFrame:
    """Every division's holdout metrics across cutoffs, one line per division (the
    per-partition plots of ``holdout_metrics`` join divisions into one line)."""
    trends = metric_trends(read_lake(LOCATION.key("holdout_metrics").path))
    latest = trends.group_by("division").agg(pl.all().sort_by("cutoff_date").last())
    pictures = "\n\n".join(md_image(png, title) for title, png in trend_plots(trends).items())
    context.add_output_metadata(
        {
            "trends": dg.MetadataValue.md(pictures + "\n\n" + md_table(trends, max_rows=200)),
            **numeric_metadata(
                {f"auc_{r['division']}": r["auc"] for r in latest.to_dicts()}
            ),  # one UI plot line per division, across materializations
        }
    )
    return trends


def holdout_trends_schema(holdout_trends: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(
        holdout_trends,
        HoldoutTrendsSchema,
        LOCATION.table("holdout_trends"),
        ["division", "cutoff_date"],
    )


def build(cfg: GosalesConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    return [
        dg.asset(
            key=LOCATION.key("model_card"),
            partitions_def=parts,
            ins=ins("holdout_metrics", "candidate_report"),
            kinds={"markdown"},
            description="Model card (markdown + JSON): data, features, metrics with the oracle gap, calibration curve, gates, MLflow link.",
            **COMMON,
        )(bind(model_card, cfg)),
        dg.asset(
            key=LOCATION.key("holdout_trends"),
            deps=[LOCATION.key("holdout_metrics")],
            kinds={"polars", "duckdb"},
            metadata=warehouse_metadata(LOCATION.table("holdout_trends")),
            description="Holdout metrics of every division across cutoffs (candidate AUC, PR-AUC, lift@10%, calibration, rule and oracle AUC, oracle gap), with one trend line per division.",
            **COMMON,
        )(holdout_trends),
        dg.asset_check(
            asset=LOCATION.key("holdout_trends"),
            blocking=True,
            description="Holdout trends table matches its schema (one row per division × cutoff).",
        )(holdout_trends_schema),
    ]
