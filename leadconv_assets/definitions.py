"""The leadconv code location: ``defs`` for ``dagster dev`` / ``dg.materialize``.

Targets and cutoffs come from the leadconv config (``SALESML_LEADCONV_CONFIG``
or the packaged ``config.yaml``); ``build_defs(cfg)`` builds a location for any
config (tests use a tiny one).
"""

from __future__ import annotations

import dagster as dg

from leadconv_assets.assets import PREFIX, build_assets
from leadconv_assets.config import LeadconvConfig, load_config
from leadconv_assets.defs.automation import build_automation
from shared.dagster_helpers import common_resources
from shared.sources import SourceResource

SOURCE_ENV = "SALESML_LEADCONV_SOURCE"


def build_defs(cfg: LeadconvConfig | None = None, source_uri: str | None = None) -> dg.Definitions:
    """Definitions for one leadconv configuration.

    Args:
        cfg: the configuration (default: :func:`load_config`).
        source_uri: SQLAlchemy URL or DuckDB file of the source; None = the
            embedded synthetic world unless ``SALESML_LEADCONV_SOURCE`` is set
            when a run starts.
    """
    cfg = cfg or load_config()
    assets, checks, parts = build_assets(cfg)
    jobs, schedules, sensors = build_automation(cfg, PREFIX, parts["daily"])
    source = SourceResource(
        uri=source_uri, env_var=SOURCE_ENV, world_size=cfg.world_size, world_seed=cfg.world_seed
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
