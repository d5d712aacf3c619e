"""The leadconv code location: ``defs`` for ``dagster dev`` / ``dg.materialize``.

Targets and cutoffs come from the leadconv config (``SALESML_LEADCONV_CONFIG``
or the packaged ``config.yaml``); ``build_defs(cfg)`` builds a location for any
config (tests use a tiny one). The stages live in :mod:`leadconv_assets.defs`.
"""

from __future__ import annotations

import dagster as dg

from leadconv_assets.config import LeadconvConfig, load_config
from leadconv_assets.defs import (
    LOCATION,
    candidate,
    features,
    inputs,
    partitions,
    promotion,
    reports,
    scoring,
)
from leadconv_assets.defs.automation import build_automation
from shared.automation import location_definitions

SOURCE_ENV = "SALESML_LEADCONV_SOURCE"
STAGES = (inputs, features, candidate, promotion, reports, scoring)


def build_defs(cfg: LeadconvConfig | None = None, source_uri: str | None = None) -> dg.Definitions:
    """Definitions for one leadconv configuration.

    Args:
        cfg: the configuration (default: :func:`load_config`).
        source_uri: SQLAlchemy URL or DuckDB file of the source; None = the
            embedded synthetic world unless ``SALESML_LEADCONV_SOURCE`` is set
            when a run starts.
    """
    cfg = cfg or load_config()
    parts = partitions(cfg)
    # every check is a blocking check_spec evaluated inside its asset: no separate checks
    assets = [
        *inputs.sources(source_uri),
        *(a for stage in STAGES for a in stage.build(cfg, parts)),
    ]
    jobs, schedules, sensors = build_automation(cfg, LOCATION.prefix, parts["daily"])
    return location_definitions(
        LOCATION,
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        source_env=SOURCE_ENV,
        source_uri=source_uri,
        world_size=cfg.world_size,
        world_seed=cfg.world_seed,
        quarantine_bad_rows=cfg.quarantine_bad_rows,
    )


defs = build_defs()
