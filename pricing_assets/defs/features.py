"""Stage ``features``: ``line_features`` of one ``bu_id × cutoff`` partition, with its
schema check and the truncation-invariance (leakage) check."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from pricing_assets import features as pr_features
from pricing_assets import schemas as pr_schemas
from pricing_assets.config import PricingConfig
from pricing_assets.defs._wiring import COMMON, bind, ins
from pricing_assets.location import LOCATION
from shared.dagster_helpers import md_table, schema_check_result


def line_features(cfg: PricingConfig, context, order_lines: pl.DataFrame) -> pl.DataFrame:
    cutoff, bu = LOCATION.partition(context)
    h = cfg.bu(bu).horizons
    x = cfg.features
    frame = pr_features.build_line_features(
        order_lines, bu, cutoff, h.holdout_days, h.calibration_days, *x.columns_by_kind()
    )
    returns = pr_features.return_line_count(order_lines, bu, cutoff)
    context.add_output_metadata(
        {**pr_features.split_row_counts(frame), "returns_excluded": returns}
    )
    return frame


def line_features_schema_check(line_features: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(
        line_features,
        pr_schemas.line_features_schema(),
        LOCATION.table("line_features"),
        ["order_line_id"],
        check_name="line_features_schema_check",
    )


def unknown_categories(line_features: pl.DataFrame) -> dg.AssetCheckResult:
    table = pr_features.unseen_categories(line_features)
    holdout = table.filter(pl.col("split") == "holdout")
    worst = holdout.sort("share", descending=True).row(0, named=True)
    return dg.AssetCheckResult(
        passed=worst["share"] <= pr_features.UNSEEN_WARN_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{worst['unseen']} of {worst['lines']} holdout lines have a {worst['column']} "
        f"never seen in training (warn above {pr_features.UNSEEN_WARN_SHARE:.0%})",
        metadata={
            "unseen_holdout_lines": int(holdout["unseen"].sum()),
            "worst_column": worst["column"],
            "worst_share": float(worst["share"]),
            "counts": dg.MetadataValue.md(md_table(table)),
        },
    )


def truncation_invariance(
    cfg: PricingConfig, context, line_features, order_lines
) -> dg.AssetCheckResult:
    cutoff, bu = LOCATION.partition(context)
    h = cfg.bu(bu).horizons
    diffs = pr_features.truncation_differences(
        order_lines, bu, cutoff, h.holdout_days, h.calibration_days
    )
    return dg.AssetCheckResult(
        passed=not diffs,
        severity=dg.AssetCheckSeverity.ERROR,
        description="features are truncation invariant"
        if not diffs
        else f"features change when later rows are deleted: {diffs}",
        metadata={"differing_columns": len(diffs)},
    )


def build(cfg: PricingConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    # partitions_def on every check: without it a check step loads every partition of its asset
    lf = LOCATION.key("line_features")
    return [
        dg.asset(
            key=lf,
            partitions_def=parts,
            ins=ins("order_lines"),
            kinds={"polars"},
            description="Every line of the business unit dated <= cutoff: discount target, quantity, "
            "log(quantity+1), encodings fitted on training rows only, trailing 30/180-day customer context "
            "strictly before the line's date, and the split (train / calibration / holdout).",
            **COMMON,
        )(bind(line_features, cfg)),
        dg.asset_check(
            partitions_def=parts,
            asset=lf,
            blocking=True,
            description="line_features matches its schema (unique lines, discount in [0, 1), known split, "
            "numeric features).",
        )(line_features_schema_check),
        dg.asset_check(
            partitions_def=parts,
            asset=lf,
            description="Unknown categories (WARN): holdout lines whose family, tier, region or "
            "product was never seen in training (coded -1, target encoding at the prior), counted "
            "per column; warns above 5% of the holdout.",
        )(unknown_categories),
        dg.asset_check(
            partitions_def=parts,
            asset=lf,
            blocking=True,
            additional_ins=ins("order_lines"),
            description="Leakage: features of lines up to mid-holdout are identical when every later row "
            "is deleted.",
        )(bind(truncation_invariance, cfg)),
    ]
