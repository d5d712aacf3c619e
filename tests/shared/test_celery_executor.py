"""Partition fan-out on a distributed executor that runs here for real: Dagster's Celery
executor with the Redis broker scripts/redis.sh starts and two Celery workers as separate
processes (``dagster-celery worker start``). The steps run in the workers, not in the test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from tests.conftest import redis_url
from tests.shared import celery_toy

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKERS = ("w1", "w2")


def _wait_for_workers(broker: str, n: int, deadline_s: float = 60.0) -> list[str]:
    """Names of the workers answering a broadcast ping; fails after ``deadline_s``."""
    from celery import Celery

    app = Celery(broker=broker)
    end = time.monotonic() + deadline_s
    names: list[str] = []
    while time.monotonic() < end:
        names = sorted(name for reply in app.control.ping(timeout=1.0) for name in reply)
        if len(names) >= n:
            return names
    raise AssertionError(f"only {names} of {n} Celery workers answered within {deadline_s} s")


def test_fan_out_runs_in_two_celery_workers(tmp_path: Path, monkeypatch):
    url = redis_url()
    db = 2 + os.getpid() % 12  # a Redis database of our own: parallel test runs never share
    broker, backend = f"{url}/{db}", f"{url}/{db + 1}"
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    config = tmp_path / "celery.yaml"
    # the worker CLI reads the executor's config block, as a run config nests it
    config.write_text(f"execution:\n  config:\n    broker: {broker}\n    backend: {backend}\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",  # the CLI starts `celery` from PATH
    }
    log = (tmp_path / "workers.log").open("w")
    workers = [
        subprocess.Popen(
            [str(BIN / "dagster-celery"), "worker", "start", "-y", str(config)]
            + ["-A", "dagster_celery.app", "-n", f"{name}@%h", "-l", "WARNING"]
            + ["--", "--concurrency=1", "--without-gossip", "--without-mingle"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name in WORKERS
    ]
    try:
        names = _wait_for_workers(broker, len(WORKERS))
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        run_config = {"execution": {"config": {"broker": broker, "backend": backend}}}
        with (
            dg.DagsterInstance.get() as instance,
            dg.execute_job(
                dg.reconstructable(celery_toy.fan_out), instance=instance, run_config=run_config
            ) as result,
        ):
            assert result.success, (tmp_path / "workers.log").read_text()[-3000:]
            where = result.output_for_node("gather")
        pids = {pid for pid, _ in where}
        assert os.getpid() not in pids  # nothing ran in the test process ...
        assert {host for _, host in where} <= set(names)  # ... every step in one of the workers
    finally:
        for w in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait(timeout=30)
        log.close()
