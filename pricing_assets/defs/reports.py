"""Stage ``reports``: ``justify``, the top drivers of every holdout line's point prediction."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from pricing_assets.config import PricingConfig
from pricing_assets.defs._wiring import COMMON, ins
from pricing_assets.justify import driver_importance, justify_holdout
from pricing_assets.location import LOCATION
from shared.dagster_helpers import md_table, warehouse_metadata


def justify(context, point_model, line_features) -> pl.DataFrame:
    cutoff, bu = LOCATION.partition(context)
    out = justify_holdout(point_model["model"], line_features, bu, cutoff)
    context.add_output_metadata(
        {"rows": out.height, "top_drivers": dg.MetadataValue.md(md_table(driver_importance(out)))}
    )
    return out


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
        )(justify)
    ]
