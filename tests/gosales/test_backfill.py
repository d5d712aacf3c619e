"""A backfill of several partitions as parallel runs, each on the multiprocess executor."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import dagster as dg

from gosales_assets.demo import TRAIN
from gosales_assets.inputs import OUTPUTS
from shared.storage import query_warehouse
from tests.backfill import launch_partition, prepare_backfill
from tests.gosales.conftest import tiny_config

PARTITIONED = TRAIN  # one division × cutoff: the demo's list
TWO_STEP_WORKERS = {"multiprocess": {"max_concurrent": 2}}


def test_parallel_backfill_has_no_lock_errors(salesml_home, monkeypatch, tiny_world, tiny_source):
    cfg = tiny_config(tiny_world)
    inputs = OUTPUTS
    home = prepare_backfill(salesml_home, monkeypatch, "gosales", cfg, inputs, tiny_source)
    cutoff = cfg.cutoffs[0].isoformat()
    jobs = [
        (
            home,
            "gosales",
            "gosales_retrain_job",
            str(dg.MultiPartitionKey({"cutoff": cutoff, "division": d})),
            TWO_STEP_WORKERS,
            PARTITIONED,
        )
        for d in cfg.divisions[:2]
    ]
    with ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(launch_partition, jobs))
    assert outcomes == [True, True]
    got = query_warehouse("SELECT DISTINCT division FROM gosales.holdout_metrics ORDER BY 1")
    assert got["division"].to_list() == sorted(cfg.divisions[:2])
