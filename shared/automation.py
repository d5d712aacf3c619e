"""What every location's Dagster wiring has in common: the periodic retrain schedule,
the freshness policies of the served tables, and the assembly of its ``Definitions``
(resources, source, debris sweep, run-failure alerts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import dagster as dg

from shared.alerts import run_failure_alert_sensor
from shared.dagster_helpers import common_resources
from shared.location import Location
from shared.sources import PlainSecretError, SourceResource, has_secret, redact
from shared.sweep import sweep_sensor

MONTHLY_SCORES_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=40), warn_window=timedelta(days=35)
)
"""Freshness of tables re-scored by a monthly retrain (gosales ``icp_scores`` and
``whitespace``, pricing ``price_recs_*``): the retrain schedules run on the 1st/2nd of each
month, so a healthy table is at most ~31 days old; WARN after 35 days (a month plus a few
days' grace: one schedule tick missed or failed), FAIL after 40 (the month's scores were
never refreshed; act before the next tick)."""

DAILY_SCORES_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=2), warn_window=timedelta(hours=30)
)
"""Freshness of leadconv ``lead_scores`` (scored daily at 06:00 UTC): WARN after 30 hours
(today's run is six hours late or failed), FAIL after two days (a whole day of scores
missing)."""

IN_PROCESS_RUN = {"execution": {"config": {"in_process": {}}}}
"""Run config choosing the in-process executor of ``dg.multi_or_in_process_executor``."""


def partition_job(name: str, **kwargs: Any) -> dg.UnresolvedAssetJobDefinition:
    """An asset job whose run is one partition's chain of steps (features → … → promotion,
    or a scoring step): run in process by default.

    Every step of such a run depends on the one before, so the multiprocess executor only
    adds a Python process (dagster, polars, lightgbm and mlflow imports: seconds each) per
    step and per check; partitions fan out across runs instead (backfills, schedules and
    sensors launch one run per partition; ``scripts/dagster.yaml`` runs two at a time, one
    per core). The multiprocess executor stays available from the launchpad
    (``execution: {config: {multiprocess: {}}}``). ``kwargs`` go to ``dg.define_asset_job``.
    """
    return dg.define_asset_job(
        name, executor_def=dg.multi_or_in_process_executor, config=IN_PROCESS_RUN, **kwargs
    )


def retrain_schedule(
    *,
    name: str,
    job: Any,
    cron_schedule: str,
    location: Location,
    values: Sequence[str],
    cutoff: date,
    description: str,
) -> dg.ScheduleDefinition:
    """A schedule launching ``job`` once per value of the location's dimension at
    ``cutoff`` (tag ``salesml/reason: monthly retrain``; one run key per tick)."""

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron_schedule,
        execution_timezone="UTC",
        description=description,
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        for value in values:
            key = dg.MultiPartitionKey({"cutoff": cutoff.isoformat(), location.dim: value})
            yield dg.RunRequest(
                run_key=f"{context.scheduled_execution_time:%Y-%m-%d}-{value}-{cutoff}",
                partition_key=key,
                tags={"salesml/reason": "monthly retrain"},
            )

    return _schedule


def location_definitions(
    location: Location,
    *,
    assets: Sequence[Any],
    checks: Sequence[Any] = (),
    jobs: Sequence[Any] = (),
    schedules: Sequence[Any] = (),
    sensors: Sequence[Any] = (),
    source_env: str,
    source_uri: str | None,
    world_size: str,
    world_seed: int,
    quarantine_bad_rows: bool = False,
) -> dg.Definitions:
    """``Definitions`` of one location: its assets and automation, the shared resources
    (lake IO manager, MLflow tracker), its ``source``, its MLflow debris sweep and its
    run-failure alert sensor (``shared.alerts``)."""
    if source_uri and has_secret(source_uri):
        # resource config set in code is part of the job snapshot Dagster stores and shows
        raise PlainSecretError(
            f"source {redact(source_uri)} carries a secret: pass it through ${source_env} "
            "(read when a run starts, never stored by Dagster), not as source_uri"
        )
    source = SourceResource(
        uri=source_uri,
        env_var=source_env,
        world_size=world_size,
        world_seed=world_seed,
        quarantine_bad_rows=quarantine_bad_rows,
    )
    return dg.Definitions(
        # materializations launched from the asset graph (the implicit asset job) are one
        # partition too: in process, like partition_job; fan-out is across runs
        executor=dg.in_process_executor,
        assets=list(assets),
        asset_checks=list(checks),
        jobs=list(jobs),
        schedules=list(schedules),
        sensors=[
            *sensors,
            sweep_sensor(location.name, location.model_prefix),
            run_failure_alert_sensor(location.name),
        ],
        resources={**common_resources(), "source": source},
    )
