"""Stage ``promotion``: the decision on the candidate — register it and move the
``champion`` alias when every gate (promotion gates and leakage gauntlet) passes, else
record the refusal and keep the previous champion serving; the run succeeds either way.
With the registry schema check."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from gosales_assets import training
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, bind, ins
from gosales_assets.location import LOCATION
from gosales_assets.output_schemas import PromotionSchema
from shared import lifecycle
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    REGISTRY_POOL,
    contract_column_schema,
    permanent_errors_fail_at_once,
    schema_check_result,
    warehouse_metadata,
)
from shared.tracking import MLflowTracker


def promoted_model(
    cfg: GosalesConfig, context, tracker: MLflowTracker, candidate_model, holdout_metrics
) -> pl.DataFrame:
    cutoff, division = LOCATION.partition(context)
    overlap = int(candidate_model["train_holdout_overlap"])
    gates = training.candidate_verdict(holdout_metrics, cfg.gates, division, overlap)
    return lifecycle.decide(
        context,
        tracker,
        LOCATION.name,
        LOCATION.model_name(division),
        candidate_model,
        gates.passed,
        gates.summary(),
        {"division": division, "cutoff_date": cutoff},
        gates.to_markdown(),
    )


def promoted_model_schema(promoted_model: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(promoted_model, PromotionSchema, LOCATION.table("model_registry"))


def build(cfg: GosalesConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    return [
        dg.asset(
            key=LOCATION.key("promoted_model"),
            partitions_def=parts,
            ins=ins("candidate_model", "holdout_metrics"),
            kinds={"mlflow"},
            metadata={
                **warehouse_metadata(LOCATION.table("model_registry")),
                **contract_column_schema(PromotionSchema),
            },
            retry_policy=EXTERNAL_RETRY,  # registers and promotes in the MLflow registry
            pool=REGISTRY_POOL,  # one promotion at a time across runs
            description="The decision on the candidate: registers gosales_<division> in MLflow and moves the `champion` alias when every gate passes; otherwise records the refusal with its reasons (gosales.model_decisions) and the previous champion keeps serving.",
            **COMMON,
        )(permanent_errors_fail_at_once(bind(promoted_model, cfg))),
        dg.asset_check(
            asset=LOCATION.key("promoted_model"),
            partitions_def=parts,  # without it a check step loads every partition of its asset
            blocking=True,
            description="Registry decision matches its schema.",
        )(promoted_model_schema),
    ]
