"""Issue 10: a run killed between ``promote`` and its decision row.

The ``champion`` alias then points at a version the decision history does not know.
The sweep reports it; the next promotion of that model records the missing row (from
the version's tags) and says so in its metadata, so the history explains what serves.
"""

from __future__ import annotations

import logging
from datetime import date
from types import SimpleNamespace

import dagster as dg
import pytest

from shared import lifecycle
from shared.storage import read_lake
from shared.sweep import sweep_mlflow
from shared.tracking import MLflowTracker


@dg.asset
def _a() -> int:
    return 1


def _dagster_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> str:
    job = dg.Definitions(assets=[_a]).resolve_implicit_global_asset_job_def()
    return instance.create_run_for_job(job_def=job, status=status).run_id


def _ctx(instance: dg.DagsterInstance, run_id: str, metadata: dict) -> SimpleNamespace:
    return SimpleNamespace(
        run_id=run_id,
        instance=instance,
        log=logging.getLogger("test"),
        add_output_metadata=metadata.update,
    )


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no except clause catches it."""


def test_a_kill_between_promote_and_decision_is_reported_and_recorded_next_run(
    salesml_home, monkeypatch
):
    from sklearn.dummy import DummyClassifier

    instance = dg.DagsterInstance.ephemeral()
    tracker = MLflowTracker()
    exp = tracker.experiment_id("gosales")
    with tracker.mlflow().start_run(experiment_id=exp) as run:
        uri = tracker.log_model(DummyClassifier().fit([[0], [1]], [0, 1]))
    name, cols = "gosales_c", {"division": "c", "cutoff_date": date(2024, 6, 30)}
    cand = {"model_uri": uri, "run_id": run.info.run_id}

    # run A promotes, then dies before its decision row is written
    killed = _dagster_run(instance, dg.DagsterRunStatus.STARTED)

    def crash(*_args, **_kwargs):
        raise _Killed()

    with monkeypatch.context() as m:
        m.setattr(lifecycle, "record_decision", crash)
        with pytest.raises(_Killed):
            lifecycle.decide(_ctx(instance, killed, {}), tracker, "gosales", name, cand, True,
                             "all gates passed", cols)  # fmt: skip
    champ = tracker.champion(name)
    assert champ is not None and champ.version == "1"
    assert read_lake(["gosales", "model_decisions"]).is_empty()

    # while A still counts as in progress it may be between the two steps: left alone
    assert sweep_mlflow(tracker, instance, "gosales", "gosales").unrecorded_promotions == []
    instance.report_run_failed(instance.get_run_by_id(killed))  # what run monitoring does
    report = sweep_mlflow(tracker, instance, "gosales", "gosales")
    assert report.unrecorded_promotions == [f"{name} v1"]
    assert report.deleted_versions == []  # the serving version is never deleted

    # the next run of the partition records the missing row, then its own decision
    metadata: dict = {}
    row = lifecycle.decide(_ctx(instance, "run-next", metadata), tracker, "gosales", name,
                           cand, False, "auc: FAIL", cols)  # fmt: skip
    assert metadata["reconciled_promotions"] == f"{name} v1"
    assert "unrecorded_promotions" not in metadata
    assert metadata["champion_version"] == "1"
    history = read_lake(["gosales", "model_decisions"]).sort("decided_at")
    assert history.height == 2
    first = history.row(0, named=True)
    assert first["version"] == "1" and first["promoted"] is True
    assert first["dagster_run_id"] == killed and first["cutoff_date"] == date(2024, 6, 30)
    assert first["division"] == "c" and "reconciliation" in first["reason"]
    assert row["promoted"][0] is False
    # consistent now: nothing more to report or record
    assert sweep_mlflow(tracker, instance, "gosales", "gosales").unrecorded_promotions == []
    metadata2: dict = {}
    lifecycle.decide(_ctx(instance, "run-3", metadata2), tracker, "gosales", name, cand, False,
                     "auc: FAIL", cols)  # fmt: skip
    assert "reconciled_promotions" not in metadata2
    assert read_lake(["gosales", "model_decisions"]).height == 3


def test_an_unrecorded_champion_without_partition_tags_is_reported_not_invented(salesml_home):
    from sklearn.dummy import DummyClassifier

    instance = dg.DagsterInstance.ephemeral()
    tracker = MLflowTracker()
    client = tracker.client()
    with tracker.mlflow().start_run(experiment_id=tracker.experiment_id("gosales")):
        uri = tracker.log_model(DummyClassifier().fit([[0], [1]], [0, 1]))
    dead = _dagster_run(instance, dg.DagsterRunStatus.FAILURE)
    name = "gosales_d"
    client.create_registered_model(name)
    v = client.create_model_version(name, uri, tags={"dagster_run_id": dead}).version
    client.set_registered_model_alias(name, "champion", v)
    metadata: dict = {}
    cols = {"division": "d", "cutoff_date": date(2024, 6, 30)}
    lifecycle.decide(_ctx(instance, "run-next", metadata), tracker, "gosales", name,
                     {"model_uri": uri, "run_id": "r"}, False, "auc: FAIL", cols)  # fmt: skip
    assert metadata["unrecorded_promotions"] == f"{name} v{v}"
    assert read_lake(["gosales", "model_decisions"]).height == 1  # only this run's own row
