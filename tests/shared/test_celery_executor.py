"""Partition fan-out on a distributed executor that runs here for real: Dagster's Celery
executor with the Redis broker scripts/redis.sh starts and two Celery workers as separate
processes (``dagster-celery worker start``). The steps run in the workers, not in the test."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from shared.celery_workers import (
    executor_config,
    start_workers,
    stop_workers,
    wait_for_workers,
    write_worker_config,
)
from tests.conftest import redis_url
from tests.shared import celery_toy

ROOT = Path(__file__).resolve().parents[2]
WORKERS = ("w1", "w2")


def test_fan_out_runs_in_two_celery_workers(tmp_path: Path, monkeypatch):
    url = redis_url()
    db = 2 + os.getpid() % 12  # a Redis database of our own: parallel test runs never share
    broker, backend = f"{url}/{db}", f"{url}/{db + 1}"
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    config = write_worker_config(tmp_path / "celery.yaml", broker, backend)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)}
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # create the instance's storage before any worker opens it: two processes migrating a
    # fresh SQLite schema at once leave two alembic heads
    instance = dg.DagsterInstance.get()
    with (tmp_path / "workers.log").open("w") as log:
        workers = start_workers(config, WORKERS, env, log)
        try:
            names = wait_for_workers(broker, len(WORKERS))
            with (
                instance,
                dg.execute_job(
                    dg.reconstructable(celery_toy.fan_out),
                    instance=instance,
                    run_config=executor_config(broker, backend),
                ) as result,
            ):
                assert result.success, (tmp_path / "workers.log").read_text()[-3000:]
                where = result.output_for_node("gather")
        finally:
            stop_workers(workers)
    assert os.getpid() not in {pid for pid, _ in where}  # nothing ran in the test process ...
    assert {host for _, host in where} <= set(names)  # ... every step in one of the workers
