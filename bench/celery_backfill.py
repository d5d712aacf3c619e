"""A backfill of every gosales demo partition (division × cutoff, the TRAIN selection of
``make demo``): the Celery executor with two worker processes against the multiprocess and
the in-process executors, wall time from the first run's start to the last run's end.

Each executor starts from a fresh home (the inputs materialized first, not timed), so every
pass trains the same candidates against the same champions; the partitions run one after
another, oldest cutoff first, as ``make demo`` does, and each run's steps are spread by its
executor: over two processes (multiprocess, ``max_concurrent: 2``) or over two Celery
workers (one task slot each, broker and backend on the Redis of ``scripts/redis.sh``).

    bash scripts/redis.sh start
    python -m bench.celery_backfill [--limit N] [--executors celery multiprocess in_process]

Prints one line per executor; copy the figures to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]
JOB = "gosales_backfill_bench"
WORKERS = ("bench1", "bench2")


def bench_job(executor: str) -> dg.JobDefinition:
    """The TRAIN selection of the gosales location as one asset job on ``executor``
    (``celery``, ``multiprocess`` or ``in_process``); the workers rebuild it by this name."""
    from dagster_celery import celery_executor

    from gosales_assets.definitions import build_defs
    from gosales_assets.demo import TRAIN

    base = build_defs()
    executor_def = {
        "celery": celery_executor,
        "multiprocess": dg.multiprocess_executor,
        "in_process": dg.in_process_executor,
    }[executor]
    job = dg.define_asset_job(
        JOB,
        selection=[dg.AssetKey.from_user_string(k) for k in TRAIN],
        executor_def=executor_def,
    )
    defs = dg.Definitions(
        assets=base.assets,
        asset_checks=base.asset_checks,
        resources=base.resources,
        jobs=[job],
    )
    return defs.get_job_def(JOB)


def _run_config(executor: str, broker: str = "", backend: str = "") -> dict:
    from shared.celery_workers import executor_config

    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    if executor == "celery":
        return {**quiet, **executor_config(broker, backend)}
    if executor == "multiprocess":
        return {**quiet, "execution": {"config": {"max_concurrent": 2}}}
    return quiet


def one_pass(executor: str, redis: str, limit: int | None = None) -> tuple[float, int, int]:
    """``(seconds, runs, failed runs)`` of the backfill (the first ``limit`` partitions, or
    all) on a fresh home."""
    from gosales_assets.config import load_config
    from gosales_assets.definitions import build_defs
    from gosales_assets.demo import INPUTS
    from shared.celery_workers import (
        start_workers,
        stop_workers,
        wait_for_workers,
        write_worker_config,
    )

    home = Path(tempfile.mkdtemp(prefix=f"salesml-bench-{executor}-"))
    (home / "dagster").mkdir()
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ.update(SALESML_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    cfg = load_config()
    keys = [
        str(dg.MultiPartitionKey({"cutoff": c.isoformat(), "division": d}))
        for c in sorted(cfg.cutoffs)
        for d in cfg.divisions
    ][:limit]
    instance = dg.DagsterInstance.get()
    inputs = build_defs().resolve_implicit_global_asset_job_def()
    ok = inputs.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey.from_user_string(k) for k in INPUTS]
    )
    assert ok.success, "gosales inputs failed"
    workers, log = [], None
    broker = backend = ""
    if executor == "celery":
        db = 2 * (os.getpid() % 7) + 1  # a fresh pair of Redis databases per bench process
        broker, backend = f"{redis}/{db}", f"{redis}/{db + 1}"
        config = write_worker_config(home / "celery.yaml", broker, backend)
        log = (home / "workers.log").open("w")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        workers = start_workers(config, WORKERS, env, log)
        wait_for_workers(broker, len(WORKERS))
    failed = 0
    recon = dg.build_reconstructable_job("bench.celery_backfill", "bench_job", (executor,))
    start = time.perf_counter()
    try:
        for pk in keys:
            with dg.execute_job(
                recon,
                instance=instance,
                run_config=_run_config(executor, broker, backend),
                tags={"dagster/partition": pk, "salesml/source": "bench"},
                raise_on_error=False,
            ) as result:
                failed += not result.success
    finally:
        seconds = time.perf_counter() - start
        stop_workers(workers)
        if log:
            log.close()
    return seconds, len(keys), failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N partitions only")
    parser.add_argument("--executors", nargs="+", default=["celery", "multiprocess", "in_process"])
    args = parser.parse_args()
    redis = os.environ.get("SALESML_TEST_REDIS_URL", "redis://127.0.0.1:63790")
    for executor in args.executors:
        seconds, runs, failed = one_pass(executor, redis, args.limit)
        print(
            f"{executor:12s} {runs} partitions  {seconds:7.1f} s  failed runs: {failed}", flush=True
        )


if __name__ == "__main__":
    main()
