"""The pricing code location: ``defs`` for ``dagster dev`` / ``dg.materialize``.

Partitions come from the pricing config (``SALESML_PRICING_CONFIG`` or the
packaged ``config.yaml``); ``build_defs(cfg)`` builds a location for any
config (tests use a tiny one).
"""

from __future__ import annotations

import dagster as dg

from pricing_assets.assets import build_assets
from pricing_assets.config import PricingConfig, load_config
from shared.dagster_helpers import common_resources
from shared.sources import SourceResource


def build_defs(cfg: PricingConfig | None = None, source_uri: str | None = None) -> dg.Definitions:
    """Definitions for one pricing configuration.

    Args:
        cfg: the configuration (default: :func:`load_config`).
        source_uri: where the input tables live; None = the embedded synthetic
            world unless ``SALESML_PRICING_SOURCE`` is set when a run starts.
    """
    cfg = cfg or load_config()
    assets, checks, parts = build_assets(cfg)
    source = SourceResource(
        uri=source_uri,
        env_var="SALESML_PRICING_SOURCE",
        world_size=cfg.world_size,
        world_seed=cfg.world_seed,
    )
    retrain = dg.define_asset_job(
        "pricing_retrain",
        selection=dg.AssetSelection.groups("pricing")
        - dg.AssetSelection.assets(
            ["pricing", "order_lines"],
            ["pricing", "quotes"],
            ["pricing", "line_truth"],
            ["pricing", "quote_truth"],
        ),
        partitions_def=parts,
        description="Retrain and re-recommend bu_id × cutoff partitions (backfill from the UI or CLI).",
    )
    latest = max(cfg.cutoffs).isoformat()

    @dg.schedule(
        job=retrain,
        cron_schedule="0 3 1 * *",
        description="Monthly retrain: every business unit at the newest configured cutoff.",
    )
    def pricing_monthly_retrain(context: dg.ScheduleEvaluationContext):
        for bu in cfg.business_units:
            key = dg.MultiPartitionKey({"bu_id": bu, "cutoff": latest})
            yield dg.RunRequest(
                run_key=f"{bu}|{latest}|{context.scheduled_execution_time:%Y-%m}",
                partition_key=key,
                tags={"salesml/reason": "monthly retrain"},
            )

    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[retrain],
        schedules=[pricing_monthly_retrain],
        resources={**common_resources(), "source": source},
    )


defs = build_defs()
