"""Fixtures for the leadconv tests: a tiny configuration and the tiny world."""

from __future__ import annotations

from functools import lru_cache

import pytest

from leadconv_assets.config import LeadconvConfig
from shared.worlds.leadconv import LeadconvWorld, generate_world

TINY_CUTOFF = "2025-04-30"


def tiny_config(**overrides) -> LeadconvConfig:
    raw = {
        "targets": {
            "booked_call_within_7d": {"event": "booked_call", "window_days": 7},
            "qualified_within_14d": {"event": "qualified", "window_days": 14},
            "conversion_within_30d": {"event": "converted", "window_days": 30},
        },
        "cutoffs": [TINY_CUTOFF],
        "world_size": "tiny",
        "world_seed": 7,
        "split": {"holdout_days": 30, "calibration_frac": 0.25},
        "gates": {"min_holdout_positives": 3},
        "training": {"n_estimators": 60},
        "scoring_start": "2025-05-01",
    }
    raw.update(overrides)
    return LeadconvConfig.model_validate(raw)


@lru_cache(maxsize=4)
def _world(size: str, seed: int) -> LeadconvWorld:
    return generate_world(size, seed)


@pytest.fixture
def tiny_world() -> LeadconvWorld:
    return _world("tiny", 7)


@pytest.fixture
def tiny_cfg() -> LeadconvConfig:
    return tiny_config()
