"""The gosales code location: ``defs`` for ``dagster dev`` / ``dg.materialize``.

Partitions come from the gosales config (``SALESML_GOSALES_CONFIG`` or the
packaged ``config.yaml``); ``build_defs(cfg)`` builds a location for any
config (tests use a tiny one).
"""

from __future__ import annotations

import dagster as dg

from gosales_assets.assets import PREFIX, build_assets
from gosales_assets.automation import build_automation
from gosales_assets.config import GosalesConfig, load_config
from shared.dagster_helpers import common_resources
from shared.sources import SourceResource


def build_defs(cfg: GosalesConfig | None = None, source_uri: str | None = None) -> dg.Definitions:
    """Definitions for one gosales configuration.

    Args:
        cfg: the configuration (default: :func:`load_config`).
        source_uri: where the input tables live; None = the embedded synthetic
            world unless ``SALESML_GOSALES_SOURCE`` is set when a run starts.
    """
    cfg = cfg or load_config()
    assets, checks, _ = build_assets(cfg)
    jobs, schedules, sensors = build_automation(cfg, PREFIX)
    source = SourceResource(
        uri=source_uri,
        env_var="SALESML_GOSALES_SOURCE",
        world_size=cfg.world_size,
        world_seed=cfg.world_seed,
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={**common_resources(), "source": source},
    )


defs = build_defs()
