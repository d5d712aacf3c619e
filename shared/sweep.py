"""Clean up what killed runs leave behind in MLflow.

A Dagster run killed mid-step (SIGKILL, out of memory, a lost machine) cannot
close what it opened: its MLflow run stays RUNNING forever, and a kill between
``register`` and ``promote`` leaves a registered version with no alias and no
decision row. :func:`sweep_mlflow` finds both by asking the Dagster instance
whether the run that made them is still in progress:

* an MLflow run in RUNNING whose ``dagster.run_id`` is finished (or unknown to
  the instance) is ended as KILLED and tagged ``salesml.swept`` with the reason;
* a registered version that carries no alias, whose ``dagster_run_id`` is not in
  progress, and for which the location's decision history has no row, is deleted
  (the model itself stays logged in its MLflow run);
* a version the ``champion`` alias points at, for which the decision history has no
  row and whose Dagster run is not in progress (a kill between promote and the
  decision row) is reported (``unrecorded_promotions``); the next promotion of that
  model records its missing decision row (:func:`shared.lifecycle.decide`).

:func:`sweep_sensor` runs it every few minutes (RUNNING by default); docs/operations.md
says how to run it by hand at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from shared.storage import read_lake
from shared.tracking import MLflowTracker

IN_PROGRESS = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}


@dataclass
class SweepReport:
    """What one sweep ended or deleted (MLflow run ids; ``name vN`` for versions)."""

    killed_runs: list[str] = field(default_factory=list)
    deleted_versions: list[str] = field(default_factory=list)
    unrecorded_promotions: list[str] = field(default_factory=list)


def _alive(instance: dg.DagsterInstance, run_id: str | None) -> bool:
    if not run_id:
        return False
    run = instance.get_run_by_id(run_id)
    return run is not None and run.status in IN_PROGRESS


def _decided_versions(location: str) -> set[tuple[str, str]]:
    history = read_lake([location, "model_decisions"])
    if history.is_empty():
        return set()
    return {(str(n), str(v)) for n, v in history.select("model_name", "version").iter_rows()}


def sweep_mlflow(
    tracker: MLflowTracker,
    instance: dg.DagsterInstance,
    location: str,
    model_prefix: str,
    experiments: Sequence[str] | None = None,
) -> SweepReport:
    """End the orphaned MLflow runs of ``experiments`` (default: the experiment named
    after the location) and delete the orphaned registered
    versions of models named ``<model_prefix>_*``; returns what was done."""
    client = tracker.client()
    report = SweepReport()
    exp_ids = [
        e.experiment_id
        for n in experiments or [location]
        if (e := client.get_experiment_by_name(n))
    ]
    if exp_ids:
        for run in client.search_runs(exp_ids, "attributes.status = 'RUNNING'", max_results=1000):
            dagster_run = run.data.tags.get("dagster.run_id")
            if _alive(instance, dagster_run):
                continue
            client.set_tag(
                run.info.run_id, "salesml.swept", f"Dagster run {dagster_run} is not in progress"
            )
            client.set_terminated(run.info.run_id, status="KILLED")
            report.killed_runs.append(run.info.run_id)
    models = client.search_registered_models(f"name LIKE '{model_prefix}_%'")
    report.deleted_versions = _reconcile(client, instance, location, models)
    report.unrecorded_promotions = [
        f"{mv.name} v{mv.version}"
        for mv in unrecorded_champions(client, instance, location, models)
    ]
    return report


def unrecorded_champions(
    client: Any, instance: dg.DagsterInstance, location: str, models: Any
) -> list[Any]:
    """The versions of ``models`` (registered model entities) that an alias points at but
    that have no row in ``<location>.model_decisions``, made by a Dagster run that is not
    in progress: a run killed between ``promote`` and recording its decision. Out: MLflow
    ``ModelVersion`` objects (their tags hold the partition and ``dagster_run_id``).
    A run still in progress may be between the two steps right now and is left alone."""
    decided = _decided_versions(location)
    found: list[Any] = []
    for model in models:
        for version in sorted({str(v) for v in (model.aliases or {}).values()}, key=int):
            if (model.name, version) in decided:
                continue
            mv = client.get_model_version(model.name, version)
            if not _alive(instance, (mv.tags or {}).get("dagster_run_id")):
                found.append(mv)
    return found


def _reconcile(client: Any, instance: dg.DagsterInstance, location: str, models: Any) -> list[str]:
    """Delete the half-registered versions of ``models`` (registered model entities):
    no alias, no decision row, made by a Dagster run that is not in progress."""
    decided = _decided_versions(location)
    deleted: list[str] = []
    for model in models:
        aliased = {str(v) for v in (model.aliases or {}).values()}
        for mv in client.search_model_versions(f"name = '{model.name}'"):
            version = str(mv.version)
            if version in aliased or (model.name, version) in decided:
                continue
            if _alive(instance, (mv.tags or {}).get("dagster_run_id")):
                continue
            try:
                client.delete_model_version(model.name, version)
            except Exception as err:  # deleted meanwhile by the sensor or a parallel run
                from shared.tracking import is_missing

                if not is_missing(err):
                    raise
                continue
            deleted.append(f"{model.name} v{version}")
    return deleted


def reconcile_model(
    tracker: MLflowTracker, instance: dg.DagsterInstance, location: str, name: str
) -> list[str]:
    """The sweep's half-registered-version rule for one registered model ``name``, run by
    the next promotion of that model (:func:`shared.lifecycle.decide`) so a kill between
    register and promote/record is reconciled by the next run of the partition, not only
    by the sensor. Returns the deleted versions (``name vN``); nothing when ``name`` was
    never registered."""
    from shared.tracking import is_missing

    client = tracker.client()
    try:
        model = client.get_registered_model(name)
    except Exception as err:
        if is_missing(err):
            return []
        raise
    return _reconcile(client, instance, location, [model])


def sweep_sensor(
    location: str, model_prefix: str, minimum_interval_seconds: int = 600
) -> dg.SensorDefinition:
    """A RUNNING sensor that runs :func:`sweep_mlflow` for one location (launches no runs)."""

    @dg.sensor(
        name=f"{location}_mlflow_sweep",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Ends MLflow runs left RUNNING by killed Dagster runs and deletes "
        "registered versions a kill left without alias or decision (shared.sweep).",
        required_resource_keys={"tracker"},
    )
    def _sweep(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        tracker: Any = context.resources.tracker
        report = sweep_mlflow(tracker, context.instance, location, model_prefix)
        unrecorded = (
            f"; promoted without a decision row: {', '.join(report.unrecorded_promotions)}"
            if report.unrecorded_promotions
            else ""
        )
        return dg.SkipReason(
            f"swept {len(report.killed_runs)} MLflow runs, "
            f"{len(report.deleted_versions)} registered versions{unrecorded}"
        )

    return _sweep
