"""Debris of killed runs: orphaned MLflow runs are ended, orphaned versions deleted."""

from __future__ import annotations

from datetime import date

import dagster as dg

from shared.lifecycle import decision_row, record_decision
from shared.sweep import sweep_mlflow, sweep_sensor
from shared.tracking import MLflowTracker


def _dagster_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> str:
    job = dg.Definitions(assets=[_a]).resolve_implicit_global_asset_job_def()
    return instance.create_run_for_job(job_def=job, status=status).run_id


@dg.asset
def _a() -> int:
    return 1


def test_sweep_ends_orphaned_runs_and_deletes_orphaned_versions(salesml_home):
    instance = dg.DagsterInstance.ephemeral()
    tracker = MLflowTracker()
    mlflow, client = tracker.mlflow(), tracker.client()
    exp = tracker.experiment_id("gosales")
    alive = _dagster_run(instance, dg.DagsterRunStatus.STARTED)
    dead = _dagster_run(instance, dg.DagsterRunStatus.FAILURE)
    assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED
    ids = {}
    for label, dagster_run in [("alive", alive), ("dead", dead), ("unknown", "nope")]:
        run = client.create_run(exp, tags={"dagster.run_id": dagster_run})
        ids[label] = run.info.run_id
    with mlflow.start_run(experiment_id=exp):
        mlflow.log_dict({"x": 1}, "m.json")
        uri = f"runs:/{mlflow.active_run().info.run_id}/m.json"
    name = "gosales_a"
    client.create_registered_model(name)
    v_champ = client.create_model_version(name, uri, tags={"dagster_run_id": dead}).version
    client.set_registered_model_alias(name, "champion", v_champ)
    v_decided = client.create_model_version(name, uri, tags={"dagster_run_id": dead}).version
    v_orphan = client.create_model_version(name, uri, tags={"dagster_run_id": dead}).version
    v_running = client.create_model_version(name, uri, tags={"dagster_run_id": alive}).version
    row = decision_row(
        name,
        {"division": "a", "cutoff_date": date(2024, 6, 30)},
        version=str(v_decided),
        promoted=True,
        champion_version=str(v_decided),
        reason="all gates passed",
        mlflow_run_id="r",
        dagster_run_id=dead,
    )
    record_decision("gosales", row)

    report = sweep_mlflow(tracker, instance, "gosales", "gosales")

    assert sorted(report.killed_runs) == sorted([ids["dead"], ids["unknown"]])
    assert client.get_run(ids["alive"]).info.status == "RUNNING"
    assert client.get_run(ids["dead"]).info.status == "KILLED"
    assert "salesml.swept" in client.get_run(ids["dead"]).data.tags
    assert report.deleted_versions == [f"{name} v{v_orphan}"]
    left = {str(m.version) for m in client.search_model_versions(f"name = '{name}'")}
    assert left == {str(v_champ), str(v_decided), str(v_running)}
    assert sweep_mlflow(tracker, instance, "gosales", "gosales").killed_runs == []  # idempotent


def test_sweep_sensor_is_running_by_default():
    sensor = sweep_sensor("gosales", "gosales")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.name == "gosales_mlflow_sweep"
