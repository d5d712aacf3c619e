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
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXECUTORS = {
    "in_process": {"execution": {"config": {"in_process": {}}}},
    "multiprocess": {"execution": {"config": {"multiprocess": {}}}},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(client, run_id: str, timeout: float = 1800) -> str:
    from dagster_graphql import DagsterGraphQLClientError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = client.get_run_status(run_id).value
        except DagsterGraphQLClientError:
            status = "UNKNOWN"
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(0.5)
    return "TIMEOUT"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partition", default="2023-12-31|software")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()
    from dagster_graphql import DagsterGraphQLClient

    home = Path(tempfile.mkdtemp(prefix="salesml_ui_bench_"))
    env = {**os.environ, "SALESML_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    (home / "dagster").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "dagster.yaml", home / "dagster" / "dagster.yaml")
    bin_dir = Path(sys.executable).parent
    inputs = ",".join(
        f"gosales/{n}"
        for n in ("customers", "transactions", "install_base", "ground_truth", "quarantine")
    )
    subprocess.run(
        [str(bin_dir / "dagster"), "asset", "materialize", "-m", "gosales_assets.definitions"]
        + ["--select", inputs],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    server = subprocess.Popen(
        [str(bin_dir / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1"]
        + ["-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        deadline = time.monotonic() + 300
        while True:
            try:
                client._execute("{ version }")  # noqa: SLF001 - readiness probe
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise SystemExit("the webserver did not start") from None
                time.sleep(1)
        for name, run_config in EXECUTORS.items():
            start = time.monotonic()
            run_id = client.submit_job_execution(
                "gosales_retrain_job",
                repository_location_name="gosales_assets",
                run_config=run_config,
                tags={"dagster/partition": args.partition, "salesml/bench": "ui_launch"},
            )
            status = _wait_for(client, run_id)
            print(f"{name:13s} {args.partition}: {status} in {time.monotonic() - start:.1f} s")
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
