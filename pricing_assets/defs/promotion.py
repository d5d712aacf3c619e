"""Stage ``promotion``: ``promoted_model`` registers the partition's three models and moves
the ``champion`` aliases, only when every gate (and the newer-champion rule) passes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dagster as dg
import polars as pl

from pricing_assets import training
from pricing_assets.config import PricingConfig
from pricing_assets.defs._wiring import COMMON, bind, ins
from pricing_assets.location import LOCATION
from shared import lifecycle
from shared.dagster_helpers import warehouse_metadata
from shared.gates import GateReport
from shared.tracking import MLflowTracker

MODEL_TYPES = ("point", "quantile", "win_prob")


def _register(context, tracker: MLflowTracker, name: str, bundles, bu: str, cutoff, rho: float):
    """Register the three models as versions of ``name`` and move the champion aliases."""
    versions: dict[str, str] = {}
    for mtype, bundle in zip(MODEL_TYPES, bundles, strict=True):
        versions[mtype] = tracker.register(
            name,
            bundle["model_uri"],
            tags={
                "model_type": mtype,
                "bu_id": bu,
                "cutoff": cutoff.isoformat(),
                "dagster_run_id": context.run_id,
                "rho": f"{rho:.4f}",
            },
        )
    tracker.promote(name, versions["quantile"])
    client = tracker.client()
    for mtype in ("point", "win_prob"):
        client.set_registered_model_alias(name, f"champion-{mtype}", versions[mtype])
    return versions


def promoted_model(
    cfg: PricingConfig,
    context,
    tracker: MLflowTracker,
    point_model,
    range_model,
    win_probability,
    model_metrics,
) -> pl.DataFrame:
    cutoff, bu = LOCATION.partition(context)
    name = LOCATION.model_name(bu)
    serving = tracker.champion(name)
    rule = training.newer_champion_rule(
        cutoff, serving.tags.get("cutoff") if serving is not None else None
    )
    gates = GateReport.of([*training.promotion_gates(model_metrics, cfg.bu(bu)).gates, rule])
    versions: dict[str, str] = {}
    if gates.passed:
        bundles = (point_model, range_model, win_probability)
        versions = _register(context, tracker, name, bundles, bu, cutoff, range_model["rho"])
    champ = tracker.champion(name)
    reason = gates.summary()
    context.add_output_metadata(
        {
            "promoted": gates.passed,
            "model_name": name,
            "champion_version": champ.version if champ else "none",
            "reason": reason,
            "gates": dg.MetadataValue.md(gates.to_markdown()),
        }
    )
    lifecycle.record_decision(
        LOCATION.name,
        lifecycle.decision_row(
            name,
            {"bu_id": bu, "cutoff_date": cutoff},
            version=versions.get("quantile", ""),
            promoted=gates.passed,
            champion_version=champ.version if champ else "",
            reason=reason,
            mlflow_run_id=str(range_model["run_id"]),
            dagster_run_id=str(context.run_id),
        ),
    )
    return training.promotion_record(
        bu=bu,
        cutoff=cutoff,
        name=name,
        versions=versions,
        promoted=gates.passed,
        champion_version=champ.version if champ else "",
        reason=reason,
        run_id=range_model["run_id"],
        decided_at=datetime.now(UTC).replace(tzinfo=None),
    )


def build(cfg: PricingConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    return [
        dg.asset(
            key=LOCATION.key("promoted_model"),
            partitions_def=parts,
            ins=ins("point_model", "range_model", "win_probability", "model_metrics"),
            kinds={"mlflow"},
            metadata=warehouse_metadata(LOCATION.table("model_registry")),
            description="Registers the point, quantile and win-probability models as versions of "
            "pricing_recs_<bu_id> (tag model_type) and moves the `champion` alias (quantile model; "
            "`champion-point` / `champion-win_prob` for its companions) — only when every gate passes.",
            **COMMON,
        )(bind(promoted_model, cfg))
    ]
