"""Soak test (opt-in, not part of the test suite): gosales backfilled twice in parallel
through a real ``dagster-daemon`` while a reader queries the warehouse every second and
a random run worker is SIGKILLed; afterwards the lake, the warehouse, the decision
history and the MLflow registry must agree.

What runs (all under a fresh ``--home``; nothing else on the machine is touched):

* ``$DAGSTER_HOME`` gets the shipped ``scripts/dagster.yaml`` unchanged (two run slots,
  one run per partition, run monitoring, user-code retries) and ``dagster-daemon run``
  is started over the ``gosales_assets.definitions`` code location, with the tiny
  world and a generated gosales config (``--divisions``, one or more cutoffs);
* one run materializes the inputs, then backfill A and backfill B each submit one run
  per division x cutoff (the training chain: feature matrix ... model card), A's and
  B's runs interleaved in the queue, as two UI backfills of the same range would;
* a reader thread reconnects read-only to ``warehouse.duckdb`` every second and
  counts rows, and a second read-only connection stays open for the whole soak;
* once ``--kill-after`` seconds have passed and a training run is in a step, one
  random STARTED run's worker process (and its step processes) is SIGKILLed
  (``--seed`` picks it);
* after every run has finished, the killed partition is run once more (what an
  operator does: re-run the failed partition), then ``shared.sweep.sweep_mlflow``.

What is checked: no two runs of one partition overlapped in time; every finished
training run wrote exactly one decision row; the warehouse views count the same rows
as the lake files; every registered version has a promoted decision row made by the
Dagster run and MLflow run that registered it (no run registered another run's
model); ``champion`` points at the most recently promoted version of each model; no
MLflow run is left RUNNING after the sweep; the reader saw no error.

Usage: ``python bench/soak.py [--home DIR] [--seed N] [--write-results]``. It prints a
JSON report; ``--write-results`` replaces the "Soak" section of bench/RESULTS.md.
Exit status 1 when a consistency check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gosales_assets.demo import INPUTS, TRAIN  # the demo's asset lists

ROOT = Path(__file__).resolve().parents[1]
LOCATION = "gosales"
PID_EVENT = re.compile(r"Started process for run \(pid: (\d+)\)")


def _config_yaml(divisions: list[str], cutoffs: list[str]) -> str:
    """The tests' tiny gosales config (tests/gosales/conftest.py tiny_config), as YAML."""
    import yaml

    return yaml.safe_dump(
        {
            "divisions": divisions,
            "cutoffs": cutoffs,
            "window_months": 6,
            "world_size": "tiny",
            "world_seed": 7,
            "training": {
                "snapshots": 2,
                "n_estimators": 150,
                "min_child_samples": 10,
                "holdout_customer_frac": 0.35,
                "isotonic_min_positives": 1000,
            },
            "gates": {
                "auc_min": 0.5,
                "lift10_min": 1.0,
                "calibration_mae_max": 0.2,
                "min_holdout_positives": 5,
                "max_auc_se": 0.2,
                "beat_rule": False,
            },
        }
    )


class Reader(threading.Thread):
    """Queries the warehouse every second: a fresh read-only connection each time, and
    one read-only connection held open from the first success to the end."""

    def __init__(self, warehouse: Path) -> None:
        super().__init__(daemon=True)
        self.warehouse, self.stop = warehouse, threading.Event()
        self.queries = self.errors = self.held_queries = 0
        self.error_samples: list[str] = []
        self.max_decisions = 0

    def _count(self, con: Any) -> int:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'gosales'"
            ).fetchall()
        }
        if "model_decisions" not in tables:
            return 0
        return con.execute("SELECT count(*) FROM gosales.model_decisions").fetchone()[0]

    def run(self) -> None:
        import duckdb

        held = None
        while not self.stop.wait(1.0):
            if not self.warehouse.exists():
                continue
            try:
                con = duckdb.connect(str(self.warehouse), read_only=True)
                try:
                    self.max_decisions = max(self.max_decisions, self._count(con))
                finally:
                    con.close()
                self.queries += 1
                if held is None:
                    held = duckdb.connect(str(self.warehouse), read_only=True)
                self._count(held)
                self.held_queries += 1
            except Exception as err:  # counted and reported, never hidden
                self.errors += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(f"{type(err).__name__}: {err}"[:300])
        if held is not None:
            held.close()


def _descendants(pid: int) -> list[int]:
    """``pid``'s child processes, recursively (from /proc)."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(proc.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Soak:
    """The daemon, the instance and how to submit runs to it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dagster_home = home / "dagster"
        self.runs: list[dict[str, Any]] = []

    @contextmanager
    def started(self, daemon: bool = True) -> Iterator[Soak]:
        import dagster as dg
        import yaml
        from dagster._core.remote_origin import InProcessCodeLocationOrigin
        from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
        from dagster._core.workspace.context import WorkspaceProcessContext
        from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

        self.dagster_home.mkdir(parents=True, exist_ok=True)
        (self.dagster_home / "dagster.yaml").write_text(
            (ROOT / "scripts" / "dagster.yaml").read_text()
        )
        module = {
            "module_name": "gosales_assets.definitions",
            "working_directory": str(ROOT),
            "location_name": LOCATION,
        }
        workspace = self.dagster_home / "workspace.yaml"
        workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": module}]}))
        self.instance = dg.DagsterInstance.from_config(str(self.dagster_home))
        self.instance.get_runs(limit=1)  # create the SQLite storages before the daemon does
        self.instance.all_instigator_state()
        self.instance.get_latest_materialization_event(dg.AssetKey("none"))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.log = (self.home / "daemon.log").open("a")
        self.proc = (
            subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("dagster-daemon")),
                    "run",
                    "-w",
                    str(workspace),
                ],
                cwd=self.dagster_home,
                env=env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if daemon
            else None
        )
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(
                executable_path=sys.executable,
                module_name="gosales_assets.definitions",
                working_directory=str(ROOT),
            ),
            location_name=LOCATION,
        )
        try:
            with WorkspaceProcessContext(self.instance, InProcessWorkspaceLoadTarget(origin)) as w:
                self.request = w.create_request_context()
                repo = self.request.get_code_location(LOCATION).get_repository("__repository__")
                from gosales_assets.definitions import defs

                self.job = defs.resolve_implicit_global_asset_job_def()
                self.remote = repo.get_full_job(self.job.name)
                yield self
        finally:
            if self.proc is not None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
            self.log.close()

    def submit(self, keys: list[str], partition: str | None, label: str) -> str:
        import dagster as dg

        tags = {"salesml/soak": label, **({"dagster/partition": partition} if partition else {})}
        run = self.instance.create_run_for_job(
            job_def=self.job,
            asset_selection={dg.AssetKey.from_user_string(k) for k in keys},
            tags=tags,
            remote_job_origin=self.remote.get_remote_origin(),
            job_code_origin=self.remote.get_python_origin(),
        )
        self.instance.submit_run(run.run_id, self.request)
        self.runs.append({"run_id": run.run_id, "partition": partition, "label": label})
        return run.run_id

    def status(self, run_id: str) -> Any:
        return self.instance.get_run_by_id(run_id).status

    def worker_pid(self, run_id: str) -> int | None:
        for event in self.instance.all_logs(run_id):
            match = PID_EVENT.search(event.message or "")
            if match:
                return int(match.group(1))
        return None

    def in_step(self, run_id: str) -> bool:
        from dagster import DagsterEventType

        return bool(self.instance.all_logs(run_id, of_type=DagsterEventType.STEP_START))

    def wait_all(self, run_ids: list[str], timeout: float, tick=None) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.status(r).name in {"SUCCESS", "FAILURE", "CANCELED"} for r in run_ids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs not finished after {timeout:.0f} s (see {self.log.name})")
            if tick:
                tick()
            time.sleep(1.0)


def _classify(soak: Soak, run_id: str) -> str:
    from shared.demo import is_check_refusal

    status = soak.status(run_id).name
    if status != "FAILURE":
        return status
    failures = [
        e.dagster_event
        for e in soak.instance.all_logs(run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"
    ]
    if failures and all(is_check_refusal(f) for f in failures):
        return "REFUSED_BY_GATE"
    return "FAILURE"


def check(soak: Soak, train_runs: list[str], killed: str | None) -> dict[str, Any]:
    """Every consistency check of the module docstring; returns counts and problems."""
    import duckdb
    import polars as pl

    from shared.home import warehouse_path
    from shared.storage import read_lake
    from shared.sweep import sweep_mlflow
    from shared.tracking import CHAMPION, MLflowTracker

    problems: list[str] = []
    tracker = MLflowTracker()
    sweep = sweep_mlflow(tracker, soak.instance, LOCATION, LOCATION)
    client = tracker.client()

    # runs of one partition never overlapped
    records = {r: soak.instance.get_run_record_by_id(r) for r in train_runs}
    by_partition: dict[str, list[Any]] = {}
    for run in soak.runs:
        if run["run_id"] in records and records[run["run_id"]].start_time:
            by_partition.setdefault(run["partition"], []).append(records[run["run_id"]])
    for partition, recs in by_partition.items():
        recs.sort(key=lambda r: r.start_time)
        for a, b in zip(recs, recs[1:], strict=False):
            if b.start_time < (a.end_time or float("inf")):
                problems.append(f"{partition}: runs {a.dagster_run.run_id[:8]} and "
                                f"{b.dagster_run.run_id[:8]} overlapped")  # fmt: skip

    decisions = read_lake([LOCATION, "model_decisions"])
    rows_by_run = decisions.group_by("dagster_run_id").len() if decisions.height else pl.DataFrame()
    per_run = dict(rows_by_run.iter_rows()) if decisions.height else {}
    outcomes = {r: _classify(soak, r) for r in train_runs}
    for run_id, outcome in outcomes.items():
        n = per_run.get(run_id, 0)
        if outcome in {"SUCCESS", "REFUSED_BY_GATE"} and n != 1:
            problems.append(f"run {run_id[:8]} ({outcome}) has {n} decision rows, expected 1")
        if run_id == killed and n > 1:
            problems.append(f"killed run {run_id[:8]} has {n} decision rows")

    # the warehouse shows what the lake holds
    con = duckdb.connect(str(warehouse_path()), read_only=True)
    counts = {}
    try:
        for table, path in [("model_decisions", "model_decisions"),
                            ("model_registry", "promoted_model"),
                            ("holdout_metrics", "holdout_metrics")]:  # fmt: skip
            lake = read_lake([LOCATION, path]).height
            view = con.execute(f"SELECT count(*) FROM gosales.{table}").fetchone()[0]
            counts[table] = {"lake": lake, "warehouse": view}
            if lake != view:
                problems.append(f"gosales.{table}: warehouse {view} rows, lake {lake}")
    finally:
        con.close()

    # the registry: each version is its own run's model, champion = last promoted
    registry: dict[str, Any] = {}
    promoted = decisions.filter(pl.col("promoted")) if decisions.height else decisions
    for model in client.search_registered_models(f"name LIKE '{LOCATION}_%'"):
        versions = client.search_model_versions(f"name = '{model.name}'")
        champ = (model.aliases or {}).get(CHAMPION)
        registry[model.name] = {"versions": len(versions), "champion": str(champ)}
        for mv in versions:
            row = promoted.filter(
                (pl.col("model_name") == model.name) & (pl.col("version") == str(mv.version))
            )
            if row.height != 1:
                problems.append(f"{model.name} v{mv.version}: {row.height} promoted decision rows")
                continue
            if row["dagster_run_id"][0] != (mv.tags or {}).get("dagster_run_id"):
                problems.append(f"{model.name} v{mv.version}: registered by another Dagster run")
            if row["mlflow_run_id"][0] != mv.run_id:
                problems.append(f"{model.name} v{mv.version}: model of MLflow run {mv.run_id}, "
                                f"decision names {row['mlflow_run_id'][0]}")  # fmt: skip
        mine = promoted.filter(pl.col("model_name") == model.name).sort("decided_at")
        if mine.height and str(champ) != mine["version"][-1]:
            problems.append(
                f"{model.name}: champion v{champ}, last promoted v{mine['version'][-1]}"
            )
    running = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "attributes.status = 'RUNNING'"
    )
    if running:
        problems.append(f"{len(running)} MLflow runs still RUNNING after the sweep")
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    swept = client.search_runs(exp_ids, "tags.`salesml.swept` != ''")  # by the sensor or here
    # runs the location's own sensors launched meanwhile (scoring after a promotion, ...)
    mine = {r["run_id"] for r in soak.runs}
    others: dict[str, int] = {}
    for record in soak.instance.get_run_records():
        if record.dagster_run.run_id not in mine:
            status = record.dagster_run.status.name
            others[status] = others.get(status, 0) + 1
    if others.get("FAILURE"):
        problems.append(f"{others['FAILURE']} sensor-launched runs failed")
    return {
        "outcomes": {
            o: sum(1 for v in outcomes.values() if v == o) for o in set(outcomes.values())
        },
        "sensor_runs": others,
        "mlflow_runs_swept_as_killed": len(swept),
        "decision_rows": decisions.height,
        "counts": counts,
        "registry": registry,
        "sweep": {
            "killed_mlflow_runs": len(sweep.killed_runs),
            "deleted_versions": sweep.deleted_versions,
            "unrecorded_promotions": sweep.unrecorded_promotions,
        },  # fmt: skip
        "problems": problems,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--divisions", default="hardware,software,services")
    parser.add_argument("--cutoffs", default="2023-12-31")
    parser.add_argument("--kill-after", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="only re-check an existing --home (its runs and kill are in soak_state.json)",
    )
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="salesml-soak-"))
    home.mkdir(parents=True, exist_ok=True)
    (home / "gosales_soak.yaml").write_text(
        _config_yaml(args.divisions.split(","), args.cutoffs.split(","))
    )
    os.environ.update(
        SALESML_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        SALESML_GOSALES_CONFIG=str(home / "gosales_soak.yaml"),
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        MLFLOW_LOGGING_LEVEL="ERROR",
    )
    os.environ.pop("SALESML_MLFLOW_URI", None)
    os.environ.pop("SALESML_GOSALES_SOURCE", None)
    import dagster as dg

    from shared.home import warehouse_path

    if args.check_only:
        state = json.loads((home / "soak_state.json").read_text())
        with Soak(home).started(daemon=False) as soak:
            soak.runs = state["runs"]
            report = check(soak, state["train"], state["killed"].get("run_id"))
        report.update(state["report"])
        return _finish(report, args.write_results)
    rng = random.Random(args.seed)
    started = time.monotonic()
    reader = Reader(warehouse_path())
    killed: dict[str, Any] = {}
    with Soak(home).started() as soak:
        inputs = soak.submit(INPUTS, None, "inputs")
        soak.wait_all([inputs], args.timeout)
        if soak.status(inputs).name != "SUCCESS":
            print(f"inputs run failed: see {soak.log.name}", file=sys.stderr)
            return 1
        reader.start()
        keys = [
            str(dg.MultiPartitionKey({"cutoff": c, "division": d}))
            for c in args.cutoffs.split(",")
            for d in args.divisions.split(",")
        ]
        train = []
        for key in keys:  # backfill A and B interleaved in the queue
            train.append(soak.submit(TRAIN, key, "backfill A"))
            train.append(soak.submit(TRAIN, key, "backfill B"))
        kill_at = time.monotonic() + args.kill_after

        def maybe_kill() -> None:
            if killed or time.monotonic() < kill_at:
                return
            busy = [r for r in train if soak.status(r).name == "STARTED" and soak.in_step(r)]
            if not busy:
                return
            victim = rng.choice(busy)
            pid = soak.worker_pid(victim)
            if pid is None:
                return
            procs = [pid, *_descendants(pid)]
            for p in procs:
                with suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
            killed.update(run_id=victim, pid=pid, processes=len(procs),
                          at_s=round(time.monotonic() - started, 1),
                          partition=next(r["partition"] for r in soak.runs
                                         if r["run_id"] == victim))  # fmt: skip

        soak.wait_all(train, args.timeout, tick=maybe_kill)
        if killed:
            killed["status_after"] = soak.status(killed["run_id"]).name
            rerun = soak.submit(TRAIN, killed["partition"], "rerun of killed partition")
            train.append(rerun)
            soak.wait_all([rerun], args.timeout)
        reader.stop.set()
        reader.join(timeout=10)
        base = dict(
            when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            seconds=round(time.monotonic() - started),
            home=str(home),
            partitions=len(keys),
            runs=len(soak.runs),
            killed=killed or "nothing killed (no run was in a step after --kill-after)",
            reader={
                "queries": reader.queries,
                "held_connection_queries": reader.held_queries,
                "errors": reader.errors,
                "error_samples": reader.error_samples,
                "max_decisions_seen": reader.max_decisions,
            },  # fmt: skip
            config={
                "divisions": args.divisions,
                "cutoffs": args.cutoffs,
                "seed": args.seed,
                "world": "tiny (seed 7)",
                "instance": "scripts/dagster.yaml as shipped",
            },  # fmt: skip
        )
        state = {"runs": soak.runs, "train": train, "killed": killed, "report": base}
        (home / "soak_state.json").write_text(json.dumps(state, indent=1, default=str))
        report = check(soak, train, killed.get("run_id"))
    report.update(base)
    return _finish(report, args.write_results)


def _finish(report: dict[str, Any], write_results: bool) -> int:
    print(json.dumps(report, indent=1, default=str))
    if write_results:
        _write_results(report)
    return 1 if report["problems"] else 0


def _write_results(report: dict[str, Any]) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text()
    start = text.find("\n## Soak")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end:] if end >= 0 else "")
    k = report["killed"]
    killed = (
        f"run {k['run_id'][:8]} ({k['partition']}) at {k['at_s']} s: worker pid {k['pid']} and "
        f"{k['processes'] - 1} step processes SIGKILLed; it ended {k['status_after']}"
        if isinstance(k, dict)
        else k
    )
    r = report["reader"]
    lines = [
        "",
        "## Soak: two parallel backfills, a reader and a kill (`bench/soak.py`)",
        "",
        "Opt-in, not a test: `python bench/soak.py --write-results` (fresh temporary home;",
        "what it runs and checks: its docstring). It writes this section.",
        "",
        f"Last run {report['when']}, {report['seconds']} s on the shared 2-core machine:",
        f"gosales tiny world, divisions {report['config']['divisions']}, cutoffs "
        f"{report['config']['cutoffs']} ({report['partitions']} partitions), "
        f"{report['config']['instance']}, seed {report['config']['seed']}.",
        "",
        f"- ran: {report['runs']} runs (1 inputs, 2 x {report['partitions']} training, "
        "plus the re-run of the killed partition)",
        f"- outcomes of training runs: {report['outcomes']}; runs the location's sensors "
        f"launched meanwhile (scoring, whitespace): {report['sensor_runs']}",
        f"- kill: {killed}",
        f"- reader: {r['queries']} read-only queries (fresh connection) and "
        f"{r['held_connection_queries']} on a connection held open throughout; "
        f"{r['errors']} errors{': ' + '; '.join(r['error_samples']) if r['errors'] else ''}",
        f"- decision rows {report['decision_rows']}; lake vs warehouse rows: {report['counts']}",
        f"- registry: {report['registry']}",
        f"- sweep afterwards: {report['sweep']}; MLflow runs ended as KILLED by a sweep "
        f"(the daemon's sweep sensor or this one): {report['mlflow_runs_swept_as_killed']}",
        f"- consistency problems: {report['problems'] or 'none'}",
        "",
    ]
    path.write_text(text.rstrip("\n") + "\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
