"""Partitions of a backfill run as parallel processes (one run per partition, two at a time):
training per target, then daily scoring of two days at once into the same DuckDB
lead_scores file (one writer at a time, no lock errors)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import pytest

from leadconv_assets import scores_db
from shared.storage import query_warehouse
from tests.backfill import launch_partition, prepare_backfill
from tests.leadconv.conftest import TINY_CUTOFF, tiny_config

# fresh interpreters: a forked child of a process that already ran polars can deadlock
SPAWN = multiprocessing.get_context("spawn")
IN_PROCESS = {"in_process": {}}


@pytest.mark.slow  # about 60 s: four fresh interpreters each import dagster and mlflow
def test_parallel_backfill_training_and_scoring(salesml_home, monkeypatch):
    home = prepare_backfill(
        salesml_home, monkeypatch, "leadconv", tiny_config(), ("extract", "clean")
    )
    targets = ["booked_call_within_7d", "qualified_within_14d"]
    train = [
        (
            home,
            "leadconv",
            "leadconv_retrain_job",
            str(dg.MultiPartitionKey({"cutoff": TINY_CUTOFF, "target": t})),
            IN_PROCESS,
            None,
        )
        for t in targets
    ]
    with ProcessPoolExecutor(max_workers=2, mp_context=SPAWN) as pool:
        list(pool.map(launch_partition, train))  # a failed gate fails its run; metrics stay
    got = query_warehouse("SELECT DISTINCT target FROM leadconv.holdout_metrics ORDER BY 1")
    assert got["target"].to_list() == sorted(targets)

    days = [
        (home, "leadconv", "leadconv_scoring_job", d, IN_PROCESS, None)
        for d in ("2025-05-10", "2025-05-11")
    ]
    with ProcessPoolExecutor(max_workers=2, mp_context=SPAWN) as pool:
        assert list(pool.map(launch_partition, days)) == [True, True]
    history = scores_db.read_table(None, "lead_score_history")
    assert history.height >= scores_db.read_table(None).height > 0
