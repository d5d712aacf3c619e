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


def test_next_promotion_of_a_model_reconciles_its_half_registered_versions(salesml_home):
    """A kill between register and promote/record leaves a version with no alias and no
    decision row: the next run of that model's partition (``decide``) deletes it and says
    so, before registering its own candidate; a version of a run still in progress and a
    decided one stay."""
    import logging
    from types import SimpleNamespace

    from shared.lifecycle import decide

    instance = dg.DagsterInstance.ephemeral()
    tracker = MLflowTracker()
    mlflow, client = tracker.mlflow(), tracker.client()
    exp = tracker.experiment_id("gosales")
    dead = _dagster_run(instance, dg.DagsterRunStatus.FAILURE)
    alive = _dagster_run(instance, dg.DagsterRunStatus.STARTED)
    from sklearn.dummy import DummyClassifier

    with mlflow.start_run(experiment_id=exp) as run:
        uri = tracker.log_model(DummyClassifier().fit([[0], [1]], [0, 1]))
    name = "gosales_b"
    client.create_registered_model(name)
    v_orphan = client.create_model_version(name, uri, tags={"dagster_run_id": dead}).version
    v_running = client.create_model_version(name, uri, tags={"dagster_run_id": alive}).version
    metadata: dict = {}
    ctx = SimpleNamespace(
        run_id="run-next",
        instance=instance,
        log=logging.getLogger("test"),
        add_output_metadata=metadata.update,
    )
    cols = {"division": "b", "cutoff_date": date(2024, 6, 30)}
    cand = {"model_uri": uri, "run_id": run.info.run_id}
    row = decide(ctx, tracker, "gosales", name, cand, True, "all gates passed", cols)

    left = {str(m.version) for m in client.search_model_versions(f"name = '{name}'")}
    new = str(row["version"][0])
    assert left == {str(v_running), new}, left
    assert metadata["reconciled_versions"] == f"{name} v{v_orphan}"
    assert tracker.champion(name).version == new
    # a re-run reconciles nothing more: the new version is decided, the running one alive
    decide(ctx, tracker, "gosales", name, cand, False, "auc: FAIL", cols)
    assert {str(m.version) for m in client.search_model_versions(f"name = '{name}'")} == left
