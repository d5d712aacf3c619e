"""Pricing's Dagster wiring, one module per stage; each exposes ``build(cfg, parts)``.

Graph (``bu_id × cutoff`` unless noted; key strings ``"<bu_id>|<cutoff>"``)::

    order_lines, quotes, line_truth, quote_truth     (inputs: pricing_inputs; unpartitioned, validated)
        └─ line_features                              (features) checks: schema, truncation (blocking)
             └─ point_model, range_model,             (candidate) checks: point_beats_rule, coverage,
                win_probability, model_metrics          no_crossing, beats_champion (ERROR); win_calibration,
                (pricing_training: one MLflow run)      drift (WARN)
                  ├─ justify                          (reports)
                  └─ promoted_model                   (promotion)
                       └─ price_recs_line, price_recs_deal   (scoring) checks: schema (blocking)

The gate checks show each verdict on the models (ERROR severity, not blocking);
``promoted_model`` decides on the same gates: a refusal is recorded as a decision, the
run succeeds, and the recommendations come from the serving champion.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from pricing_assets.config import PricingConfig
from pricing_assets.defs import candidate, features, inputs, promotion, reports, scoring
from pricing_assets.location import LOCATION
from shared.partitions import cutoff_multi_partitions

STAGES = (inputs, features, candidate, reports, promotion, scoring)


def build_stages(cfg: PricingConfig) -> tuple[list[Any], dg.PartitionsDefinition]:
    """Every pricing asset and check for one configuration, and their partitions."""
    parts = cutoff_multi_partitions(LOCATION.dim, cfg.business_units, cfg.cutoffs)
    return [d for stage in STAGES for d in stage.build(cfg, parts)], parts
