"""Retrain on drift: a sensor that turns a drift check's pass → fail transition into runs.

DESIGN §8: drift checks are warnings; what they drive is automation. The sensor
reads the check's execution history from the Dagster instance, groups executions
(per partition, or one group for the whole check), and when a group's latest
result turns from passed (or never seen) to failed it asks ``requests`` for the
runs to launch, once. A group that stays failed launches nothing more until it has
passed again. Declarative automation cannot express this: the condition would sit on
the upstream training asset but watch a check of a downstream scoring asset.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

# Dagster has no public API for check history yet; the instance's event-log storage
# method below is what the UI itself uses (dagster 1.13).
_DONE = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}
HISTORY = 200  # executions read per tick (newest first); more than a tick ever adds

Requests = Callable[[str | None, Mapping[str, Any], int], Sequence[dg.RunRequest]]


def _metadata(record: Any) -> dict[str, Any]:
    evaluation = record.evaluation
    if evaluation is None:
        return {}
    return {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}


def measured(record: Any) -> bool:
    """False for an execution whose metadata says ``measured: False`` (a drift check
    that could not measure anything fails visibly, but that is not drift)."""
    return _metadata(record).get("measured", True) is not False


def transitions(
    records: Sequence[Any], state: Mapping[str, Any], group_of: Callable[[str | None], str]
) -> tuple[list[Any], dict[str, Any]]:
    """The executions that turned their group to failed, and the new cursor state.

    In: check execution records (any order) with ``id``, ``status``, ``partition``;
    ``state`` = ``{"last_id": int, "status": {group: "passed" | "failed"}}``. Records
    are taken in id order and only up to the first one still running (its id was
    assigned when it was planned), so no result is skipped. An execution that measured
    nothing (metadata ``measured: False``) neither fires nor changes its group's state.
    """
    last_id = int(state.get("last_id", 0))
    status = dict(state.get("status", {}))
    fired = []
    for record in sorted((r for r in records if r.id > last_id), key=lambda r: r.id):
        if record.status not in _DONE:
            break
        last_id = record.id
        if not measured(record):
            continue  # drift not measured is no evidence either way: the group keeps its state
        group = group_of(record.partition)
        failed = record.status == AssetCheckExecutionRecordStatus.FAILED
        if failed and status.get(group) != "failed":
            fired.append(record)
        status[group] = "failed" if failed else "passed"
    return fired, {"last_id": last_id, "status": status}


def drift_retrain_sensor(
    *,
    name: str,
    check_key: dg.AssetCheckKey,
    job: Any,
    requests: Requests,
    description: str,
    group_of: Callable[[str | None], str] = lambda partition: partition or "",
    minimum_interval_seconds: int = 300,
) -> dg.SensorDefinition:
    """A RUNNING sensor launching ``requests(partition, check metadata, record id)`` on
    every pass → fail transition of ``check_key`` within a group (``group_of(partition)``)."""

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        state = json.loads(context.cursor) if context.cursor else {}
        records = context.instance.event_log_storage.get_asset_check_execution_history(
            check_key, limit=HISTORY
        )
        fired, state = transitions(records, state, group_of)
        runs = [req for r in fired for req in requests(r.partition, _metadata(r), r.id)]
        return dg.SensorResult(run_requests=runs, cursor=json.dumps(state))

    return _sensor
