"""Local Celery workers for Dagster's Celery executor (``dagster-celery``), one process each.

Used by the Celery test and ``bench/celery_backfill.py``; on a real deployment the workers
run where the code and the lake are reachable (see docs/operations.md). The workers read
the executor's config block (broker, backend) from a YAML file shaped like a run config,
and load jobs by their code pointer, so ``PYTHONPATH`` must reach the job's module.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

BIN = Path(sys.executable).parent


def executor_config(broker: str, backend: str) -> dict:
    """The ``execution`` block of a run config for the Celery executor."""
    return {"execution": {"config": {"broker": broker, "backend": backend}}}


def write_worker_config(path: Path, broker: str, backend: str) -> Path:
    """The YAML ``dagster-celery worker start -y`` reads (the run config's execution block)."""
    path.write_text(f"execution:\n  config:\n    broker: {broker}\n    backend: {backend}\n")
    return path


def start_workers(
    config: Path,
    names: Sequence[str],
    env: Mapping[str, str],
    log: IO[str],
    concurrency: int = 1,
) -> list[subprocess.Popen]:
    """Start one ``dagster-celery`` worker process per name (``concurrency`` task slots
    each) in its own session, output to ``log``; ``env`` needs DAGSTER_HOME (and whatever
    the job reads, SALESML_HOME say)."""
    full_env = {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', os.environ['PATH'])}"}
    return [
        subprocess.Popen(
            [str(BIN / "dagster-celery"), "worker", "start", "-y", str(config)]
            + ["-A", "dagster_celery.app", "-n", name, "-l", "WARNING"]  # the CLI adds @host
            + ["--", f"--concurrency={concurrency}", "--without-gossip", "--without-mingle"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name in names
    ]


def wait_for_workers(broker: str, n: int, deadline_s: float = 60.0) -> list[str]:
    """Names of the workers answering a broadcast ping once ``n`` answer; raises
    ``TimeoutError`` after ``deadline_s``."""
    from celery import Celery

    app = Celery(broker=broker)
    end = time.monotonic() + deadline_s
    names: list[str] = []
    while time.monotonic() < end:
        names = sorted(name for reply in app.control.ping(timeout=1.0) for name in reply)
        if len(names) >= n:
            return names
    raise TimeoutError(f"only {names} of {n} Celery workers answered within {deadline_s} s")


def stop_workers(workers: Sequence[subprocess.Popen], timeout_s: float = 30.0) -> None:
    """SIGTERM each worker's session (the CLI, the Celery worker and its pool), wait up to
    ``timeout_s``, then SIGKILL what is left: a worker left behind would take the next
    run's tasks from the same broker and write them to its own (old) home."""
    for w in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(w.pid, signal.SIGTERM)
    end = time.monotonic() + timeout_s
    for w in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            w.wait(timeout=max(end - time.monotonic(), 0.1))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(w.pid, signal.SIGKILL)  # the session, even when the CLI already exited
        w.wait()
