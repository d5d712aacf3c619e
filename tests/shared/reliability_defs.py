"""Test-only Dagster code location for tests/shared/test_reliability_daemon.py.

One partitioned asset, run in the run worker's own process (in-process executor, so
the pid it writes is the run worker's). It writes ``<run_id>.pid`` into
``$SALESML_RELIAB_DIR``, claims ``<partition>.inside`` exclusively (a second run of the
same partition inside at the same time raises), then waits for ``<run_id>.release``.
Nothing salesml-specific is imported: the worker starts in about a second.
"""

import os
import time
from pathlib import Path

import dagster as dg

PARTITIONS = dg.StaticPartitionsDefinition(["p1", "p2", "p3", "p4", "p5"])
WAIT_SECONDS = 180


@dg.asset(partitions_def=PARTITIONS)
def waits_for_release(context: dg.AssetExecutionContext) -> None:
    folder = Path(os.environ["SALESML_RELIAB_DIR"])
    inside = folder / f"{context.partition_key}.inside"
    fd = os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # FileExistsError: overlap
    os.write(fd, context.run_id.encode())
    os.close(fd)
    (folder / f"{context.run_id}.pid").write_text(str(os.getpid()))
    release = folder / f"{context.run_id}.release"
    deadline = time.monotonic() + WAIT_SECONDS
    while not release.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{release} never appeared")
        time.sleep(0.2)
    inside.unlink()


waits_job = dg.define_asset_job(
    "waits_job", selection=[waits_for_release], partitions_def=PARTITIONS
)

defs = dg.Definitions(assets=[waits_for_release], jobs=[waits_job], executor=dg.in_process_executor)
