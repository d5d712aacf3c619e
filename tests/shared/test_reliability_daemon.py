"""Issue 10 with a real daemon: crashed runs free their slots, one run per partition.

A temporary ``DAGSTER_HOME`` gets the shipped ``scripts/dagster.yaml`` (only the poll
intervals shortened for the test) and ``dagster-daemon run`` is started as a
subprocess over the test-only location ``tests/shared/reliability_defs.py``. Runs are
submitted to the QueuedRunCoordinator exactly as the UI does (``instance.submit_run``).
Every wait is a poll with a generous timeout; nothing asserts on elapsed time.

Marked ``daemon``: about a minute together (deselect with ``-m "not daemon"``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

pytestmark = pytest.mark.daemon

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "scripts" / "dagster.yaml"
DEFS_FILE = Path(__file__).with_name("reliability_defs.py")
LOCATION = "reliab"
TIMEOUT = 120.0
DAEMON_BIN = Path(sys.executable).with_name("dagster-daemon")


def _poll(what: str, ok: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


class Daemon:
    """A running ``dagster-daemon`` over the test location, and how to submit to it."""

    def __init__(self, home: Path, folder: Path, instance: dg.DagsterInstance, request) -> None:
        self.home, self.folder, self.instance, self._request = home, folder, instance, request
        self.pgid = 0

    def submit(self, partition: str, tags: dict[str, str] | None = None) -> str:
        from tests.shared import reliability_defs

        job = reliability_defs.defs.resolve_job_def("waits_job")
        remote = (
            self._request.get_code_location(LOCATION)
            .get_repository("__repository__")
            .get_full_job("waits_job")
        )
        run = self.instance.create_run_for_job(
            job_def=job,
            tags={"dagster/partition": partition, **(tags or {})},
            remote_job_origin=remote.get_remote_origin(),
            job_code_origin=remote.get_python_origin(),
        )
        self.instance.submit_run(run.run_id, self._request)
        return run.run_id

    def status(self, run_id: str) -> dg.DagsterRunStatus:
        return self.instance.get_run_by_id(run_id).status

    def wait_status(self, run_id: str, *statuses: dg.DagsterRunStatus) -> None:
        _poll(f"run {run_id[:8]} to be {statuses}", lambda: self.status(run_id) in statuses)
        # a run that ended in anything but the expected state fails here with its status

    def wait_inside(self, run_id: str, timeout: float = TIMEOUT) -> int:
        """Wait until the run's asset is running; returns the run worker's pid."""
        pid_file = self.folder / f"{run_id}.pid"
        _poll(f"run {run_id[:8]} to start its step", pid_file.exists, timeout)
        return int(pid_file.read_text())

    def release(self, run_id: str) -> None:
        (self.folder / f"{run_id}.release").touch()

    def code_server_pids(self) -> list[int]:
        """The code servers (``dagster api grpc``) the daemon started for the location."""
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
                if os.getpgid(int(proc.name)) != self.pgid:
                    continue
            except (OSError, ProcessLookupError):
                continue
            if b"api" in cmd and b"grpc" in cmd:
                pids.append(int(proc.name))
        return pids

    def log_tail(self) -> str:
        return (self.home / "daemon.log").read_text()[-4000:]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    home = tmp_path_factory.mktemp("dagster_home")
    folder = tmp_path_factory.mktemp("reliab")
    config = yaml.safe_load(CONFIG.read_text())
    config["run_coordinator"]["config"]["dequeue_interval_seconds"] = 1  # test: 1 s, not 5
    config["run_monitoring"]["poll_interval_seconds"] = 2  # test: 2 s, not 30
    # test: retry a launch every 5 s (not 60) while the code server is down, as long as
    # the shipped 5 x 60 s (the daemon restarts code servers about every 60 s)
    config["run_coordinator"]["config"]["user_code_failure_retry_delay"] = 5
    config["run_coordinator"]["config"]["max_user_code_failure_retries"] = 60
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    (home / "workspace.yaml").write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {
                        "python_file": {
                            "relative_path": str(DEFS_FILE),
                            "working_directory": str(ROOT),
                            "location_name": LOCATION,
                        }
                    }
                ]
            }
        )
    )
    instance = dg.DagsterInstance.from_config(str(home))
    # create the SQLite storages before the daemon opens them (two processes creating
    # them at once fail with "table ... already exists")
    instance.get_runs(limit=1)
    instance.all_instigator_state()
    instance.get_latest_materialization_event(dg.AssetKey("none"))
    env = {**os.environ, "DAGSTER_HOME": str(home), "SALESML_RELIAB_DIR": str(folder)}
    log = (home / "daemon.log").open("w")
    proc = subprocess.Popen(
        [str(DAEMON_BIN), "run", "-w", str(home / "workspace.yaml")],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: torn down as one below
    )
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            python_file=str(DEFS_FILE),
            working_directory=str(ROOT),
        ),
        location_name=LOCATION,
    )
    try:
        with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as wpc:
            running = Daemon(home, folder, instance, wpc.create_request_context())
            running.pgid = proc.pid
            yield running
    finally:
        for path in folder.glob("*.pid"):  # let any waiting worker finish
            (folder / path.name.replace(".pid", ".release")).touch()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
        instance.dispose()


def test_killed_run_workers_are_failed_and_the_next_queued_run_starts(daemon: Daemon):
    """Two runs fill both slots of the shipped config; their workers are SIGKILLed mid-step.
    Both are marked FAILURE and the run queued behind them starts and succeeds."""
    a1, a2 = daemon.submit("p1"), daemon.submit("p2")
    pids = {run: daemon.wait_inside(run) for run in (a1, a2)}
    b = daemon.submit("p5")
    assert daemon.status(b) == dg.DagsterRunStatus.QUEUED  # both slots are taken
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    for run in (a1, a2):
        daemon.wait_status(run, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS)
        assert daemon.status(run) == dg.DagsterRunStatus.FAILURE, daemon.log_tail()
    daemon.wait_inside(b)
    daemon.release(b)
    daemon.wait_status(b, dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
    assert daemon.status(b) == dg.DagsterRunStatus.SUCCESS, daemon.log_tail()
    for run in (a1, a2):  # who noticed: the last words of each killed run's event log
        print(run[:8], [e.message for e in daemon.instance.all_logs(run)][-2:])


def test_a_run_whose_worker_and_code_server_died_ends_at_its_max_runtime(daemon: Daemon):
    """The worse crash: the code server that watches the worker dies with it (the whole
    process tree killed, OOM of the server). Nothing then knows the worker is gone, and
    the DefaultRunLauncher cannot be asked either; only run monitoring's maximum runtime
    (shipped: ``max_runtime_seconds``; here the per-run tag ``dagster/max_runtime: 8``)
    ends the run, as FAILURE, and the run queued behind it starts."""
    a = daemon.submit("p4", tags={"dagster/max_runtime": "8"})
    worker = daemon.wait_inside(a)
    servers = daemon.code_server_pids()
    assert servers, "no code server found in the daemon's process group"
    for pid in [*servers, worker]:
        os.kill(pid, signal.SIGKILL)
    b = daemon.submit("p4")  # same partition: held until A is out of the way
    daemon.wait_status(a, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS)
    assert daemon.status(a) == dg.DagsterRunStatus.FAILURE
    print(a[:8], [e.message for e in daemon.instance.all_logs(a)][-3:])
    (daemon.folder / "p4.inside").unlink()  # the killed worker's claim (it never released)
    # B is dequeued while no code server runs: it goes back into the queue (not failed)
    # until the daemon's workspace reload starts a new code server (about 60 s)
    daemon.wait_inside(b, timeout=240)
    daemon.release(b)
    daemon.wait_status(b, dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
    assert daemon.status(b) == dg.DagsterRunStatus.SUCCESS, daemon.log_tail()
    requeued = [
        e.message for e in daemon.instance.all_logs(b) if "re-submitting" in (e.message or "")
    ]
    print(f"B re-queued {len(requeued)} times while the code server was down")


def test_two_runs_of_one_partition_never_overlap(daemon: Daemon):
    """C runs p3; D (p3) and then E (p4) are queued with a slot free. E starts, D waits
    in the queue until C has finished, then runs: the partition limit held D, not the
    slot limit, and the asset's exclusive ``p3.inside`` claim never saw them overlap."""
    c = daemon.submit("p3")
    daemon.wait_inside(c)
    d, e = daemon.submit("p3"), daemon.submit("p4")
    daemon.wait_inside(e)  # the coordinator passed over D (queued first) to launch E
    assert daemon.status(d) == dg.DagsterRunStatus.QUEUED
    assert not (daemon.folder / f"{d}.pid").exists()
    daemon.release(e)
    daemon.wait_status(e, dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
    assert daemon.status(d) == dg.DagsterRunStatus.QUEUED  # a free slot, still held: p3 busy
    daemon.release(c)
    daemon.wait_inside(d)
    daemon.release(d)
    for run in (c, d, e):
        daemon.wait_status(run, dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
        assert daemon.status(run) == dg.DagsterRunStatus.SUCCESS, daemon.log_tail()
    c_rec = daemon.instance.get_run_record_by_id(c)
    d_rec = daemon.instance.get_run_record_by_id(d)
    assert d_rec.start_time >= c_rec.end_time  # D started after C ended
