"""GoSales Dagster wiring, one module per stage (each exposes ``build(cfg, parts)``).

Graph (``division × cutoff`` unless noted)::

    customers, transactions, install_base, ground_truth   (unpartitioned, validated)   inputs
        └─ feature_matrix ──┐   checks: schema, truncation_invariance (blocking)        features
        └─ labels ──────────┤   check: schema
                            ├─ candidate_model ─┐  checks: promotion_gates, leakage_gauntlet (ERROR)   candidate
                            ├─ holdout_metrics  │  check: schema
                            ├─ candidate_report │
                            │    └─ model_card  └─ promoted_model   reports / promotion
                            │                          └─ icp_scores (division only)  checks: schema, score_drift (WARN)   scoring
                            │                          └─ whitespace (all divisions, unpartitioned)
                            └─ gauntlet_report   checks: label_permutation, too_good_to_be_true,
                                                 reproducibility, static_scan (ERROR, report only)   gauntlet
    candidate_model + promoted_model ─ prequential (check: early_gain WARN),
                                       forward_validation (checks: base_rate,
                                       confidence_intervals WARN)                           forward

Asset bodies are module-level functions over the pure domain modules; ``build`` applies
the Dagster decorators with the partitions of one config, so nothing reads config at
import time.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.defs import (
    candidate,
    features,
    forward,
    gauntlet,
    inputs,
    promotion,
    reports,
    scoring,
)
from gosales_assets.location import LOCATION
from shared.partitions import cutoff_multi_partitions

STAGES = (inputs, features, candidate, gauntlet, promotion, scoring, reports, forward)


def build_assets(cfg: GosalesConfig) -> tuple[list[Any], list[Any], dg.PartitionsDefinition]:
    """All gosales assets and checks for one configuration: ``(assets, checks, partitions_def)``."""
    parts = cutoff_multi_partitions(LOCATION.dim, cfg.divisions, cfg.cutoffs)
    built = [d for stage in STAGES for d in stage.build(cfg, parts)]
    checks = [d for d in built if isinstance(d, dg.AssetChecksDefinition)]
    assets = [d for d in built if not isinstance(d, dg.AssetChecksDefinition)]
    return assets, checks, parts
