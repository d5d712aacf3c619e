"""A tiny pricing world and config shared by the pricing tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pricing_assets.config import PricingConfig

TINY_CUTOFF = date(2024, 6, 30)


@pytest.fixture(scope="session")
def tiny_world():
    from pricing_assets.world import generate_world

    return generate_world(size="tiny", seed=7)


@pytest.fixture(scope="session")
def tiny_source(tiny_world, tmp_path_factory) -> Path:
    """The tiny world written as a folder of Parquet files (a user-style source)."""
    from shared.sources import write_folder

    folder = tmp_path_factory.mktemp("tiny_pricing")
    write_folder(folder, {**tiny_world.tables(), **tiny_world.truth_tables()})
    return folder


def tiny_config(world, **defaults) -> PricingConfig:
    """The tiny world's business units, one cutoff, small fast models."""
    return PricingConfig.model_validate(
        {
            "business_units": list(world.business_units),
            "cutoffs": [TINY_CUTOFF],
            "world_size": "tiny",
            "world_seed": 7,
            "defaults": {
                "model": {"n_estimators": 150, "rf_estimators": 30, "min_child_samples": 20},
                **defaults,
            },
        }
    )


@pytest.fixture(scope="session")
def tiny_partition(tiny_world):
    """One trained partition of the tiny world (pure functions, no Dagster)."""
    from pricing_assets import training
    from pricing_assets.features import build_line_features

    cfg = tiny_config(tiny_world).bu("na")
    feats = build_line_features(tiny_world.order_lines, "na", TINY_CUTOFF)
    res = training.fit_partition(
        feats, tiny_world.quotes, cfg, TINY_CUTOFF, tiny_world.line_truth, tiny_world.quote_truth
    )
    return feats, cfg, res
