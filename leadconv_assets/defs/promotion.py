"""Promotion stage: ``promoted_model`` is the decision on the candidate — it registers
``leadconv_<target>`` and moves the ``champion`` alias when every gate and the leakage
gauntlet pass, and otherwise records the refusal (the run succeeds; the champion, or the
labelled rules baseline, keeps serving)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from leadconv_assets import training
from leadconv_assets.config import LeadconvConfig
from leadconv_assets.defs import COMMON, LOCATION
from shared import lifecycle
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    REGISTRY_POOL,
    bind,
    permanent_errors_fail_at_once,
    warehouse_metadata,
)
from shared.tracking import MLflowTracker


def promoted_model(
    cfg: LeadconvConfig, context, tracker: MLflowTracker, candidate_model, holdout_metrics
):
    cutoff, target = LOCATION.partition(context)
    gates = training.promotion_gates(holdout_metrics, cfg.gates)
    # a candidate without the gauntlet's verdict (trained before it travelled) is not judged
    leak_ok = bool(candidate_model.get("leakage_passed", False))
    leak = candidate_model.get("leakage_summary", "leakage gauntlet: not measured")
    reasons = [r for ok, r in ((gates.passed, gates.summary()), (leak_ok, leak)) if not ok]
    return lifecycle.decide(
        context, tracker, "leadconv", LOCATION.model_name(target), candidate_model,
        gates.passed and leak_ok, "; ".join(reasons) or gates.summary(),
        {"target": target, "cutoff": cutoff}, gates.to_markdown(),
    )  # fmt: skip


def build(cfg: LeadconvConfig, parts: dict[str, Any]) -> list:
    """``promoted_model`` on the training partitions."""
    return [
        dg.asset(
            key=LOCATION.key("promoted_model"),
            partitions_def=parts["training"],
            ins={
                "candidate_model": dg.AssetIn(LOCATION.key("candidate_model")),
                "holdout_metrics": dg.AssetIn(LOCATION.key("holdout_metrics")),
            },
            kinds={"mlflow"},
            metadata=warehouse_metadata("leadconv.model_registry"),
            retry_policy=EXTERNAL_RETRY,  # registers and promotes in the MLflow registry
            pool=REGISTRY_POOL,  # one promotion at a time across runs
            description="Registers leadconv_<target> in MLflow and moves the `champion` alias — only "
            "when every gate passes (PR-AUC beats the rules baseline by 1.05 x beyond noise, Brier "
            "skill > 0).",
            **COMMON,
        )(permanent_errors_fail_at_once(bind(promoted_model, cfg))),
    ]
