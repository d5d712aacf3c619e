"""Stage ``features``: the feature matrix and the labels of one ``cutoff × division``
partition, with their schema checks and the truncation-invariance (leakage) check."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from gosales_assets import features as gs_features
from gosales_assets import labels as gs_labels
from gosales_assets import schemas as gs_schemas
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, RAW, bind, ins
from gosales_assets.location import LOCATION
from shared.dagster_helpers import schema_check_result


def feature_matrix(
    cfg: GosalesConfig, context, customers, transactions, install_base
) -> pl.DataFrame:
    cutoff, division = LOCATION.partition(context)
    frame = gs_features.build_features(
        transactions, customers, install_base, cutoff, cfg.divisions, target_division=division
    )
    context.add_output_metadata(
        {"rows": frame.height, "features": len(gs_features.feature_columns(frame))}
    )
    return frame


def labels(cfg: GosalesConfig, context, customers, transactions) -> pl.DataFrame:
    cutoff, division = LOCATION.partition(context)
    window = cfg.label_window(transactions, customers, division, cutoff)
    frame = gs_labels.build_labels(transactions, customers, division, cutoff, window.months)
    pos = int(frame["label"].sum())
    context.add_output_metadata(
        {
            "rows": frame.height,
            "positives": pos,
            "prevalence": pos / max(frame.height, 1),
            "window_months": window.months,
            "configured_window_months": window.base,
            "window_widened": window.widened,
            "window_reason": window.reason,
        }
    )
    return frame


def feature_matrix_schema(feature_matrix: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(
        feature_matrix,
        gs_schemas.FeatureMatrixSchema,
        LOCATION.table("feature_matrix"),
        ["customer_id"],
    )


def truncation_invariance(
    cfg: GosalesConfig, context, feature_matrix, customers, transactions, install_base
) -> dg.AssetCheckResult:
    cutoff, division = LOCATION.partition(context)
    try:
        gs_features.assert_truncation_invariant(
            transactions, customers, install_base, cutoff, cfg.divisions, division
        )
    except AssertionError as err:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"differences": str(err)[:4000]},
        )
    return dg.AssetCheckResult(
        passed=True,
        metadata={"features_checked": len(gs_features.feature_columns(feature_matrix))},
    )


def labels_schema(labels: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(
        labels, gs_schemas.LabelsSchema, LOCATION.table("labels"), ["customer_id"]
    )


def build(cfg: GosalesConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    # partitions_def on every check: without it a check step loads every partition of its asset
    fm, lb = LOCATION.key("feature_matrix"), LOCATION.key("labels")
    return [
        dg.asset(
            key=fm,
            partitions_def=parts,
            ins=ins(*RAW),
            kinds={"polars"},
            description="One row per customer at the cutoff: RFM over 3/6/12/24 months (and 60-day-offset windows) "
            "for every division and the target, deltas, recency decay, tenure, cadence, trend, seasonality, "
            "division mix, install-base expiries — all strictly as of the cutoff.",
            **COMMON,
        )(bind(feature_matrix, cfg)),
        dg.asset(
            key=lb,
            partitions_def=parts,
            ins=ins("customers", "transactions"),
            kinds={"polars"},
            description="1 if the customer bought into the division in (cutoff, cutoff + window]; only closed windows.",
            **COMMON,
        )(bind(labels, cfg)),
        dg.asset_check(
            asset=fm,
            partitions_def=parts,
            blocking=True,
            description="Feature matrix matches its schema (unique customers, finite, no nulls).",
        )(feature_matrix_schema),
        dg.asset_check(
            asset=fm,
            partitions_def=parts,
            blocking=True,
            additional_ins=ins(*RAW),
            description="Leakage: features from the full data equal features from the data cut at the cutoff.",
        )(bind(truncation_invariance, cfg)),
        dg.asset_check(
            asset=lb,
            partitions_def=parts,
            blocking=True,
            description="Labels match their schema (one 0/1 label per customer).",
        )(labels_schema),
    ]
