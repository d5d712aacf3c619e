"""Stage ``promoted_model``: the decision on the partition's bundle — register it as a
version of ``pricing_recs_<bu_id>`` and move ``champion`` to it when every gate (with the
newer-champion and beat-the-champion rules) passes, else record the refusal with its
reasons; the run succeeds either way and the previous champion keeps serving."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from pricing_assets import training
from pricing_assets.config import PricingConfig
from pricing_assets.defs._wiring import COMMON, bind, ins
from pricing_assets.location import LOCATION
from shared import lifecycle
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    REGISTRY_POOL,
    permanent_errors_fail_at_once,
    warehouse_metadata,
)
from shared.tracking import MLflowTracker


def promoted_model(
    cfg: PricingConfig, context, tracker: MLflowTracker, range_model, model_metrics
) -> pl.DataFrame:
    cutoff, bu = LOCATION.partition(context)
    name = LOCATION.model_name(bu)
    _, _, champion_cutoff, _ = lifecycle.serving_champion(tracker, name, cutoff)
    gates = training.promotion_gates(model_metrics, cfg.bu(bu), champion_cutoff)
    return lifecycle.decide(
        context,
        tracker,
        LOCATION.name,
        name,
        range_model,
        gates.passed,
        gates.summary(),
        {"bu_id": bu, "cutoff_date": cutoff},
        gates.to_markdown(),
    )


def build(cfg: PricingConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    return [
        dg.asset(
            key=LOCATION.key("promoted_model"),
            partitions_def=parts,
            ins=ins("range_model", "model_metrics"),
            # downstream of every model its gates judge (the checks show them; this step decides)
            deps=[LOCATION.key("point_model"), LOCATION.key("win_probability")],
            kinds={"mlflow"},
            metadata=warehouse_metadata(LOCATION.table("model_registry")),
            retry_policy=EXTERNAL_RETRY,  # registers and promotes in the MLflow registry
            pool=REGISTRY_POOL,  # one promotion at a time across runs
            description="Registers the partition's bundle (encoders, point, range and win models) "
            "as one version of pricing_recs_<bu_id> and moves the `champion` alias to it — only "
            "when every gate passes, the champion rules included; every decision is recorded.",
            **COMMON,
        )(permanent_errors_fail_at_once(bind(promoted_model, cfg)))
    ]
