"""The pricing code location: ``defs`` for ``dagster dev`` / ``dg.materialize``.

Partitions come from the pricing config (``SALESML_PRICING_CONFIG`` or the
packaged ``config.yaml``); ``build_defs(cfg)`` builds a location for any
config (tests use a tiny one). The stages live in :mod:`pricing_assets.defs`.
"""

from __future__ import annotations

import dagster as dg

from pricing_assets.config import PricingConfig, load_config
from pricing_assets.defs import build_stages, inputs
from pricing_assets.defs._wiring import INPUTS
from pricing_assets.location import LOCATION
from shared.automation import location_definitions, retrain_schedule


def build_defs(cfg: PricingConfig | None = None, source_uri: str | None = None) -> dg.Definitions:
    """Definitions for one pricing configuration.

    Args:
        cfg: the configuration (default: :func:`load_config`).
        source_uri: where the input tables live; None = the embedded synthetic
            world unless ``SALESML_PRICING_SOURCE`` is set when a run starts.
    """
    cfg = cfg or load_config()
    defs, parts = build_stages(cfg)
    checks = [d for d in defs if isinstance(d, dg.AssetChecksDefinition)]
    assets = [d for d in defs if not isinstance(d, dg.AssetChecksDefinition)]
    retrain = dg.define_asset_job(
        "pricing_retrain",
        selection=dg.AssetSelection.groups(LOCATION.name)
        - dg.AssetSelection.assets(*(LOCATION.key(name) for name in INPUTS)),
        partitions_def=parts,
        description="Retrain and re-recommend bu_id × cutoff partitions (backfill from the UI or CLI).",
    )
    monthly = retrain_schedule(
        name="pricing_monthly_retrain",
        job=retrain,
        cron_schedule="0 3 1 * *",
        location=LOCATION,
        values=cfg.business_units,
        cutoff=max(cfg.cutoffs),
        description="Monthly retrain: every business unit at the newest configured cutoff.",
    )
    return location_definitions(
        LOCATION,
        assets=[*inputs.sources(source_uri), *assets],
        checks=checks,
        jobs=[retrain],
        schedules=[monthly],
        source_env="SALESML_PRICING_SOURCE",
        source_uri=source_uri,
        world_size=cfg.world_size,
        world_seed=cfg.world_seed,
        quarantine_bad_rows=cfg.quarantine_bad_rows,
    )


defs = build_defs()
