"""A tiny gosales world and config shared by the wiring tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from gosales_assets.config import GosalesConfig


@pytest.fixture(scope="session")
def tiny_world():
    from gosales_assets.world import generate_world

    return generate_world(size="tiny", seed=7, window_months=6)


@pytest.fixture(scope="session")
def tiny_source(tiny_world, tmp_path_factory) -> Path:
    """The tiny world written as a folder of Parquet files (a user-style source)."""
    from shared.sources import write_folder

    folder = tmp_path_factory.mktemp("tiny_gosales")
    write_folder(folder, {**tiny_world.tables(), "ground_truth": tiny_world.truth})
    return folder


def tiny_config(world, **gates) -> GosalesConfig:
    """Two divisions, one cutoff whose label and holdout windows are closed; loose floors."""
    from shared.partitions import add_months, month_end

    cutoff = month_end(add_months(world.as_of, -12))
    return GosalesConfig(
        divisions=list(world.divisions),
        cutoffs=[cutoff],
        window_months=6,
        world_size="tiny",
        world_seed=7,
        training={
            "snapshots": 2,
            "n_estimators": 150,
            "min_child_samples": 10,
            "holdout_customer_frac": 0.35,
            "isotonic_min_positives": 1000,
        },
        gates={
            "auc_min": 0.5,
            "lift10_min": 1.0,
            "calibration_mae_max": 0.2,
            "min_holdout_positives": 5,
            "max_auc_se": 0.2,  # a 700-customer holdout: judge it anyway
            "beat_rule": False,  # a 700-customer holdout is too small to separate model and rule
            **gates,
        },
    )
