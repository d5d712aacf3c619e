"""Launch-to-success of one gosales retrain partition through the Dagster webserver.

What `make ui` users do: the webserver and daemon (`dagster dev`, the shipped
`scripts/dagster.yaml`: queued run coordinator) over a fresh home; the gosales inputs are
materialized first (not timed); then one partition of `gosales_retrain_job` is submitted
through GraphQL, as the launchpad does, and timed from submission until the run reports
SUCCESS — once with the in-process executor (the job's default) and once with the
multiprocess executor (the default before; one Python process per step and check).

    python bench/ui_launch.py [--partition '2023-12-31|software'] [--size tiny]

Prints one line per executor and appends nothing: copy the figures to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from gosales_assets.demo import INPUTS
from shared.devserver import DagsterDev

EXECUTORS = {
    "in_process": {"execution": {"config": {"in_process": {}}}},
    "multiprocess": {"execution": {"config": {"multiprocess": {}}}},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partition", default="2023-12-31|software")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="salesml_ui_bench_"))
    try:
        with DagsterDev(home) as dev:
            dev.materialize("gosales_assets.definitions", INPUTS)
            for name, run_config in EXECUTORS.items():
                start = time.monotonic()
                run_id = dev.launch(
                    "gosales_retrain_job",
                    "gosales_assets",
                    args.partition,
                    run_config=run_config,
                    tags={"salesml/bench": "ui_launch"},
                )
                status = dev.wait(run_id)
                print(f"{name:13s} {args.partition}: {status} in {time.monotonic() - start:.1f} s")
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
