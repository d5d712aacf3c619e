"""The gosales code location: ``defs`` for ``dagster dev`` / ``dg.materialize``.

Partitions come from the gosales config (``SALESML_GOSALES_CONFIG`` or the
packaged ``config.yaml``); ``build_defs(cfg)`` builds a location for any
config (tests use a tiny one).
"""

from __future__ import annotations

import dagster as dg

from gosales_assets.config import GosalesConfig, load_config
from gosales_assets.defs import build_assets, inputs
from gosales_assets.defs.automation import build_automation
from gosales_assets.location import LOCATION
from shared.automation import location_definitions


def build_defs(cfg: GosalesConfig | None = None, source_uri: str | None = None) -> dg.Definitions:
    """Definitions for one gosales configuration.

    Args:
        cfg: the configuration (default: :func:`load_config`).
        source_uri: where the input tables live; None = the embedded synthetic
            world unless ``SALESML_GOSALES_SOURCE`` is set when a run starts.
    """
    cfg = cfg or load_config()
    assets, checks, _ = build_assets(cfg)
    jobs, schedules, sensors = build_automation(cfg)
    return location_definitions(
        LOCATION,
        assets=[*inputs.sources(source_uri), *assets],
        checks=checks,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        source_env="SALESML_GOSALES_SOURCE",
        source_uri=source_uri,
        world_size=cfg.world_size,
        world_seed=cfg.world_seed,
        quarantine_bad_rows=cfg.quarantine_bad_rows,
    )


defs = build_defs()
