"""Stage ``reports``: the model card of each ``cutoff × division`` candidate (markdown +
JSON), built from the holdout metrics and the candidate report — not downstream of the
candidate's gates, so a failed gate still shows why."""

from __future__ import annotations

from typing import Any

import dagster as dg

from gosales_assets import training
from gosales_assets.card import card_content
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, bind, ins
from gosales_assets.location import LOCATION
from shared.dagster_helpers import md_table, publish_model_card


def model_card(cfg: GosalesConfig, context, holdout_metrics, candidate_report) -> dict:
    cutoff, division = LOCATION.partition(context)
    name = LOCATION.model_name(division)
    gates = training.promotion_gates(holdout_metrics, cfg.gates, division)
    card = card_content(
        model_name=name,
        cutoff=cutoff,
        division=division,
        holdout_metrics=holdout_metrics,
        report=candidate_report,
        gates=gates,
        calibration_markdown=md_table(candidate_report["calibration_bins"]),
    )
    return publish_model_card(
        context,
        LOCATION.name,
        name,
        card,
        gates.passed,
        {"oracle_auc_gap": card["oracle_auc_gap"]},
    )


def build(cfg: GosalesConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    return [
        dg.asset(
            key=LOCATION.key("model_card"),
            partitions_def=parts,
            ins=ins("holdout_metrics", "candidate_report"),
            kinds={"markdown"},
            description="Model card (markdown + JSON): data, features, metrics with the oracle gap, calibration curve, gates, MLflow link.",
            **COMMON,
        )(bind(model_card, cfg)),
    ]
