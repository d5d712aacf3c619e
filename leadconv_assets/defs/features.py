"""Feature stage: ``features`` and ``labels`` per ``target × cutoff`` with their checks
(schema; truncation invariance for features), evaluated in the producing step."""

from __future__ import annotations

from typing import Any

import dagster as dg

from leadconv_assets import features as lc_features
from leadconv_assets import labels as lc_labels
from leadconv_assets import schemas as lc_schemas
from leadconv_assets.config import LeadconvConfig, end_of_day
from leadconv_assets.defs import COMMON, LOCATION, check, clean_in
from shared.dagster_helpers import bind, schema_check_result, warehouse_metadata

KEYS = ["org_id", "enrollment_id"]


def features(cfg: LeadconvConfig, context, clean: dict):
    cutoff, target = LOCATION.partition(context)
    tables, at = clean["tables"], end_of_day(cutoff)
    frame, n = lc_features.partition_features(
        tables, cutoff, at, cfg.feature_window, target, cfg.extra_features
    )
    yield dg.Output(frame, metadata={"rows": frame.height, "features": n})
    yield schema_check_result(
        frame, lc_schemas.FeaturesSchema, "leadconv.features", KEYS,
        asset_key=LOCATION.key("features"), check_name="schema",
    )  # fmt: skip
    problems = lc_features.truncation_differences(
        tables, at, cfg.feature_window, cfg.extra_features
    )
    yield dg.AssetCheckResult(
        check_name="truncation_invariance",
        asset_key=LOCATION.key("features"),
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"differences": "; ".join(problems[:20]) or "none", "rows": frame.height},
    )


def labels(cfg: LeadconvConfig, context, clean: dict):
    cutoff, target = LOCATION.partition(context)
    frame = lc_labels.partition_labels(cfg, clean["tables"], target, cutoff, end_of_day(cutoff))
    yield dg.Output(frame, metadata=lc_labels.label_summary(frame))
    yield schema_check_result(
        frame, lc_schemas.LabelsSchema, "leadconv.labels", KEYS,
        asset_key=LOCATION.key("labels"), check_name="schema",
    )  # fmt: skip


def build(cfg: LeadconvConfig, parts: dict[str, Any]) -> list:
    """``features`` and ``labels`` on the training partitions."""
    return [
        dg.asset(
            key=LOCATION.key("features"),
            partitions_def=parts["training"],
            ins=clean_in(),
            kinds={"polars"},
            metadata=warehouse_metadata("leadconv.features"),
            check_specs=[
                check(
                    "schema",
                    "features",
                    "Features match their schema (one row per enrollment, rates in [0, 1]).",
                ),
                check(
                    "truncation_invariance",
                    "features",
                    "Leakage: features equal those computed after deleting every row after "
                    "the cutoff, and after deleting every row after each enrollment's own decision time.",
                ),
            ],
            description="One row per enrollment whose decision time (first engagement + feature window) "
            "is at or before the cutoff: counts per channel and event, open/click/reply/answer rates, "
            "response latency, time of day and week, contact source/region/demographics, campaign, steps "
            "and variants sent — all as of the decision time.",
            **COMMON,
        )(bind(features, cfg)),
        dg.asset(
            key=LOCATION.key("labels"),
            partitions_def=parts["training"],
            ins=clean_in(),
            kinds={"polars"},
            metadata=warehouse_metadata("leadconv.labels"),
            check_specs=[
                check(
                    "schema",
                    "labels",
                    "Labels match their schema; an enrollment whose window is still open is "
                    "never labeled.",
                )
            ],
            description="T1 booked_call_within_7d, T2 qualified_within_14d, T3 conversion_within_30d "
            "measured from the first engagement; label only when the window closed by the cutoff (open "
            "windows are null, never negatives); enrollments resolved before the decision time are "
            "flagged and excluded.",
            **COMMON,
        )(bind(labels, cfg)),
    ]
