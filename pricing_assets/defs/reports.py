"""Stage ``reports``: ``justify`` (the top drivers of every holdout line's point prediction)
and ``model_card`` (markdown + JSON per partition, not downstream of the gates, so a
refused candidate's card still says why)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from pricing_assets import justify as pr_justify
from pricing_assets import training
from pricing_assets.config import PricingConfig
from pricing_assets.defs._wiring import COMMON, bind, ins
from pricing_assets.features import feature_list
from pricing_assets.justify import driver_importance, justify_holdout
from pricing_assets.location import LOCATION
from shared.dagster_helpers import md_table, publish_model_card, warehouse_metadata


def justify(context, point_model, line_features) -> pl.DataFrame:
    cutoff, bu = LOCATION.partition(context)
    out = justify_holdout(point_model["model"], line_features, bu, cutoff)
    context.add_output_metadata(
        {"rows": out.height, "top_drivers": dg.MetadataValue.md(md_table(driver_importance(out)))}
    )
    return out


def model_card(cfg: PricingConfig, context, win_probability, model_metrics) -> dict:
    # not downstream of point_model / range_model, whose blocking gate checks would skip it:
    # the card of a refused candidate must still be written (win_probability has WARN checks)
    cutoff, bu = LOCATION.partition(context)
    name = LOCATION.model_name(bu)
    bcfg = cfg.bu(bu)
    gates = training.promotion_gates(model_metrics, bcfg)
    card = pr_justify.model_card(
        model_metrics,
        name,
        bu,
        cutoff,
        gates.to_markdown(),
        win_probability.get("mlflow_link", ""),
        feature_list(*bcfg.features.columns_by_kind()),
        bcfg.coverage.target,
    )
    return publish_model_card(context, LOCATION.name, name, card, gates.passed)


def build(cfg: PricingConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    return [
        dg.asset(
            key=LOCATION.key("justify"),
            partitions_def=parts,
            ins=ins("point_model", "line_features"),
            kinds={"lightgbm", "polars", "duckdb"},
            metadata=warehouse_metadata(LOCATION.table("justify")),
            description="Per holdout line, the top 3 drivers of the point prediction from LightGBM's own "
            "feature contributions (pred_contrib), with a one-line explanation.",
            **COMMON,
        )(justify),
        dg.asset(
            key=LOCATION.key("model_card"),
            partitions_def=parts,
            ins=ins("win_probability", "model_metrics"),
            kinds={"markdown"},
            description="Model card (markdown + JSON): data, metrics per component and learner, "
            "gates, MLflow link.",
            **COMMON,
        )(bind(model_card, cfg)),
    ]
