"""Run a location's demo plan in process against the salesml Dagster instance.

A plan is an ordered list of ``(asset keys, partition keys or None)`` steps;
each step runs the selected assets (and their checks) once per partition key
through the location's implicit asset job, recording materializations in the
instance under ``$SALESML_HOME/dagster`` so the UI shows them afterwards.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from shared.home import dagster_home

Plan = Sequence[tuple[Sequence[str], Sequence[str] | None]]


@dataclass
class DemoResult:
    """What happened in one location: errors (failed steps) and failed checks (gates)."""

    location: str
    runs: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    failed_checks: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def demo_instance() -> dg.DagsterInstance:
    """The persistent Dagster instance under the salesml home."""
    folder = dagster_home()
    config = folder / "dagster.yaml"
    template = Path(__file__).resolve().parent.parent / "scripts" / "dagster.yaml"
    if not config.exists() and template.exists():
        shutil.copy(template, config)
    return dg.DagsterInstance.from_config(str(folder))


def _errors(event: dg.DagsterEvent) -> list[object]:
    """The error of a step-failure event and every cause under it."""
    err = getattr(event.event_specific_data, "error", None)
    chain = []
    while err is not None:
        chain.append(err)
        err = getattr(err, "cause", None)
    return chain


def _error_line(event: dg.DagsterEvent) -> str:
    chain = _errors(event)
    if not chain:
        return "failed (no error recorded)"
    last = chain[-1]
    return f"{getattr(last, 'cls_name', '')}: {str(getattr(last, 'message', '')).strip()[:300]}"


def run_plan(
    location: str, defs: dg.Definitions, plan: Plan, instance: dg.DagsterInstance
) -> DemoResult:
    """Execute every step of ``plan``; errors and failed checks are collected, not raised.

    Every failed step is an error; a gate refusing a candidate is not one (the run
    succeeds with the decision recorded; the failed gate check is listed under
    ``failed_checks``).
    """
    job = defs.resolve_implicit_global_asset_job_def()
    result = DemoResult(location)
    start = time.perf_counter()
    for keys, partition_keys in plan:
        selection = [dg.AssetKey.from_user_string(k) for k in keys]
        for pk in partition_keys or [None]:
            res = job.execute_in_process(
                instance=instance,
                asset_selection=selection,
                partition_key=pk,
                raise_on_error=False,
                tags={"salesml/source": "make demo"},
                # quiet console: the demo prints its own summary; everything is in the event log
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
            result.runs += 1
            label = str(pk or "-")
            for ev in res.get_asset_check_evaluations():
                if not ev.passed:
                    result.failed_checks.append((label, ev.asset_check_key.to_user_string()))
            for ev in res.get_step_failure_events():  # a gate refusal is no failure
                result.errors.append((label, f"{ev.step_key}: {_error_line(ev)}"))
    result.seconds = time.perf_counter() - start
    return result
