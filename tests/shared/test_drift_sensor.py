"""Retrain-on-drift sensors: pass -> fail transitions fire once, per group, from real check runs."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as S

from shared.drift_sensor import transitions


def _rec(i: int, status: S, partition: str | None = "a", metadata=None) -> SimpleNamespace:
    evaluation = SimpleNamespace(metadata=metadata or {})
    return SimpleNamespace(id=i, status=status, partition=partition, evaluation=evaluation)


def _by_partition(p):
    return p or ""


def test_fires_once_per_pass_to_fail_transition():
    recs = [_rec(1, S.SUCCEEDED), _rec(2, S.FAILED), _rec(3, S.FAILED), _rec(4, S.SUCCEEDED)]
    fired, state = transitions(recs, {}, _by_partition)
    assert [r.id for r in fired] == [2]
    assert state == {"last_id": 4, "status": {"a": "passed"}}
    fired, state = transitions([*recs, _rec(5, S.FAILED)], state, _by_partition)
    assert [r.id for r in fired] == [5]  # failed again after passing
    fired, _ = transitions([*recs, _rec(5, S.FAILED), _rec(6, S.FAILED)], state, _by_partition)
    assert fired == []  # still failing: nothing new


def test_not_measured_neither_fires_nor_resets():
    nm = {"measured": dg.MetadataValue.bool(False)}
    recs = [_rec(1, S.SUCCEEDED), _rec(2, S.FAILED, metadata=nm), _rec(3, S.FAILED)]
    fired, state = transitions(recs, {}, _by_partition)
    assert [r.id for r in fired] == [3]  # the unmeasured failure at 2 launched nothing
    assert state == {"last_id": 3, "status": {"a": "failed"}}
    fired, _ = transitions([_rec(4, S.FAILED, metadata=nm)], {}, _by_partition)
    assert fired == []


def test_groups_are_independent_and_a_first_failure_fires():
    recs = [_rec(1, S.FAILED, "a"), _rec(2, S.SUCCEEDED, "b"), _rec(3, S.FAILED, "b")]
    fired, _ = transitions(recs, {}, _by_partition)
    assert [(r.id, r.partition) for r in fired] == [(1, "a"), (3, "b")]
    daily = [_rec(1, S.FAILED, "d1"), _rec(2, S.FAILED, "d2"), _rec(3, S.FAILED, "d3")]
    fired, _ = transitions(daily, {}, lambda p: "one")  # one group over days: fires once
    assert [r.id for r in fired] == [1]


def test_a_running_check_holds_back_later_results():
    recs = [_rec(1, S.SUCCEEDED), _rec(2, S.PLANNED), _rec(3, S.FAILED)]
    fired, state = transitions(recs, {}, _by_partition)
    assert fired == [] and state["last_id"] == 1
    recs[1] = _rec(2, S.SUCCEEDED)
    fired, state = transitions(recs, state, _by_partition)
    assert [r.id for r in fired] == [3] and state["last_id"] == 3


# --- the real sensors, fed by real check executions -------------------------------

DRIFT = {"psi": 0.0}


def _scored_asset(key: list[str], check: str, partitions: dg.PartitionsDefinition, meta):
    """A stand-in for a scoring asset and its WARN drift check (reads ``DRIFT``).

    Shaped like the real ones: gosales declares the check with its partitions
    (``@asset_check(partitions_def=...)``), leadconv as a check spec of the asset.
    """

    def result(**kw) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            passed=DRIFT["psi"] <= 0.25,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=meta(DRIFT["psi"]),
            **kw,
        )

    if key[0] == "gosales":

        @dg.asset(key=key, partitions_def=partitions)
        def scored():
            return 1

        @dg.asset_check(asset=key, name=check, partitions_def=partitions)
        def drift_check():
            return result()

        return [scored, drift_check]

    @dg.asset(key=key, partitions_def=partitions, check_specs=[dg.AssetCheckSpec(check, asset=key)])
    def scored_with_spec():
        yield dg.Output(1)
        yield result(check_name=check)

    return [scored_with_spec]


def _tick(sensor, instance, cursor):
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    return result.run_requests, result.cursor


@pytest.fixture
def instance(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        yield inst


def test_gosales_sensor_retrains_the_drifted_division(instance):
    from gosales_assets.definitions import build_defs

    defs = build_defs()
    sensor = next(s for s in defs.sensors if s.name == "gosales_drift_retrain")
    divisions = dg.StaticPartitionsDefinition(["software", "hardware"])
    scored = _scored_asset(
        ["gosales", "icp_scores"],
        "score_drift",
        divisions,
        lambda v: {"psi": v, "model_version": "2"},
    )

    def run(partition: str, psi: float) -> None:
        DRIFT["psi"] = psi
        assert dg.materialize(scored, instance=instance, partition_key=partition).success

    run("software", 0.05)
    requests, cursor = _tick(sensor, instance, None)
    assert requests == []
    run("software", 0.40)
    run("hardware", 0.02)
    requests, cursor = _tick(sensor, instance, cursor)
    assert len(requests) == 1
    assert requests[0].partition_key.keys_by_dimension["division"] == "software"
    assert "PSI 0.400" in requests[0].tags["salesml/reason"]
    run("software", 0.50)  # still drifted: no second retrain
    assert _tick(sensor, instance, cursor)[0] == []


def test_leadconv_sensor_retrains_only_the_drifted_targets(instance):
    from leadconv_assets.definitions import build_defs

    defs = build_defs()
    sensor = next(s for s in defs.sensors if s.name == "leadconv_drift_retrain")
    days = dg.StaticPartitionsDefinition(["2025-07-01", "2025-07-02", "2025-07-03"])
    scored = _scored_asset(
        ["leadconv", "lead_scores"],
        "score_drift",
        days,
        lambda v: {"psi_booked_call_within_7d": v, "psi_qualified_within_14d": 0.01},
    )
    DRIFT["psi"] = 0.3
    assert dg.materialize(scored, instance=instance, partition_key="2025-07-01").success
    requests, cursor = _tick(sensor, instance, None)
    assert [r.partition_key.keys_by_dimension["target"] for r in requests] == [
        "booked_call_within_7d"
    ]
    # the next day is another partition but the same check: still failing, no new run
    assert dg.materialize(scored, instance=instance, partition_key="2025-07-02").success
    assert _tick(sensor, instance, cursor)[0] == []
