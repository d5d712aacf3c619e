"""Dagster wiring of the leadconv location, one module per stage (domain logic lives in the
parent package and imports no Dagster).

Graph::

    extract (read-only source → quality gates → immutable snapshot)          inputs
      └─ clean (rules with counts)                                            inputs
           ├─ features ──┐  target × cutoff; checks: schema, truncation_invariance   features
           ├─ labels ────┤  target × cutoff; check: schema                           features
           │             └─ leadconv_candidate (one step, three outputs):            candidate
           │                  candidate_model   checks: promotion_gates, leakage_gauntlet
           │                  holdout_metrics
           │                  model_card
           │                    └─ promoted_model (champion only if gates pass)     promotion
           ├─ campaign_recommendations (adjusted effects; the report as metadata)  reports
           └─ lead_scores (daily; each target's champion → SQL upsert + history)   scoring
                          checks: schema (blocking), score_drift (warning)

Every check is a ``check_spec`` evaluated inside the step that produces its asset (a
plain ``@asset_check`` on a partitioned asset would load every partition). Schema checks
block; the gate checks (ERROR severity) do not: ``promoted_model`` decides on the same
verdicts and records a refusal as a decision, so the run succeeds, the previous champion
(or the labelled rules baseline) keeps serving, and ``holdout_metrics`` and ``model_card``
show why.

Each stage module exposes ``build(cfg, parts) -> list``; ``parts`` is
``{"training": cutoff × target, "daily": daily}`` (:func:`partitions`).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from leadconv_assets.config import LeadconvConfig
from shared.location import Location
from shared.partitions import cutoff_multi_partitions

LOCATION = Location("leadconv", "target", "leadconv")
CODE_VERSION = "1"
model_name = LOCATION.model_name  # registered MLflow model of a target: leadconv_<target>
COMMON: dict[str, Any] = LOCATION.asset_kwargs(CODE_VERSION)


def clean_in() -> dict[str, dg.AssetIn]:
    """The ``clean`` input every downstream stage reads."""
    return {"clean": dg.AssetIn(LOCATION.key("clean"))}


def check(name: str, asset: str, description: str, blocking: bool = True) -> dg.AssetCheckSpec:
    """A check spec on one of the location's assets (blocking unless told)."""
    return dg.AssetCheckSpec(
        name, asset=LOCATION.key(asset), blocking=blocking, description=description
    )


def partitions(cfg: LeadconvConfig) -> dict[str, dg.PartitionsDefinition]:
    """``training`` (cutoff × target) and ``daily`` (scoring) partitions of a config."""
    return {
        "training": cutoff_multi_partitions(LOCATION.dim, list(cfg.targets), cfg.cutoffs),
        "daily": dg.DailyPartitionsDefinition(start_date=cfg.scoring_start.isoformat()),
    }
