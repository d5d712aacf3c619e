"""Lead-conversion schedules.

* ``leadconv_daily_extract`` (05:30 UTC): fresh snapshot and cleaning, then
  the recommendations report.
* ``leadconv_daily_scoring`` (06:00 UTC): ``lead_scores`` for the previous
  day's partition with each target's champion (leads from the last 90 days).
* ``leadconv_weekly_retrain`` (Sunday 02:00 UTC): every target at the latest
  configured cutoff (training rows from the last 120 days before the embargo);
  promotion only through the gates.
* ``leadconv_drift_retrain`` (sensor): the same retrain for the targets whose
  score PSI exceeds 0.25, once when the daily ``score_drift`` check turns from
  passed to failed.
"""

from __future__ import annotations

import dagster as dg

from leadconv_assets.config import LeadconvConfig
from shared.automation import partition_job
from shared.drift import SIGNIFICANT
from shared.drift_sensor import drift_retrain_sensor


def build_automation(cfg: LeadconvConfig, prefix: list[str], daily: dg.PartitionsDefinition):
    """Returns ``(jobs, schedules, sensors)``."""

    def k(*names: str) -> list[dg.AssetKey]:
        return [dg.AssetKey([*prefix, n]) for n in names]

    extract_job = partition_job(
        "leadconv_extract_job",
        selection=dg.AssetSelection.assets(*k("extract", "clean", "campaign_recommendations")),
        description="Snapshot the source, clean it, refresh the campaign recommendations.",
        tags={"salesml/location": "leadconv"},
    )
    scoring_job = partition_job(
        "leadconv_scoring_job",
        selection=dg.AssetSelection.assets(*k("lead_scores")),
        partitions_def=daily,
        description="Score open leads with each target's champion and upsert them into lead_scores.",
        tags={"salesml/location": "leadconv"},
    )
    retrain_job = partition_job(
        "leadconv_retrain_job",
        selection=dg.AssetSelection.assets(
            *k(
                "features",
                "labels",
                "candidate_model",
                "holdout_metrics",
                "promoted_model",
                "model_card",
            )
        ),
        description="Features → labels → candidate (gated) → promotion → model card for one target × cutoff.",
        tags={"salesml/location": "leadconv"},
    )
    extract_schedule = dg.ScheduleDefinition(
        name="leadconv_daily_extract",
        job=extract_job,
        cron_schedule="30 5 * * *",
        execution_timezone="UTC",
        description="Daily snapshot of the source at 05:30, before scoring.",
    )
    scoring_schedule = dg.build_schedule_from_partitioned_job(
        scoring_job,
        name="leadconv_daily_scoring",
        hour_of_day=6,
        minute_of_hour=0,
        description="Daily lead scoring at 06:00 (leads from the last 90 days, champion models).",
    )
    latest = max(cfg.cutoffs).isoformat()

    @dg.schedule(
        cron_schedule="0 2 * * 0",
        job=retrain_job,
        execution_timezone="UTC",
        description="Weekly retrain of every target at the latest cutoff (Sunday 02:00).",
    )
    def leadconv_weekly_retrain(context: dg.ScheduleEvaluationContext):
        for target in cfg.targets:
            yield dg.RunRequest(
                run_key=f"{context.scheduled_execution_time:%Y-%m-%d}-{target}",
                partition_key=dg.MultiPartitionKey({"cutoff": latest, "target": target}),
                tags={"salesml/reason": "weekly retrain"},
            )

    def retrain_on_drift(partition: str | None, metadata: dict, record_id: int):
        drifted = [t for t in cfg.targets if float(metadata.get(f"psi_{t}", 0.0)) > SIGNIFICANT]
        return [
            dg.RunRequest(
                run_key=f"drift-{t}-{record_id}",
                partition_key=dg.MultiPartitionKey({"cutoff": latest, "target": t}),
                tags={"salesml/reason": f"score drift: PSI {float(metadata[f'psi_{t}']):.3f}"},
            )
            for t in drifted
        ]

    drift_sensor = drift_retrain_sensor(
        name="leadconv_drift_retrain",
        check_key=dg.AssetCheckKey(dg.AssetKey([*prefix, "lead_scores"]), "score_drift"),
        job=retrain_job,
        requests=retrain_on_drift,
        group_of=lambda partition: "lead_scores",  # one group: each day is a new partition
        description="Retrains the drifted targets at the latest configured cutoff once when the "
        "daily lead_scores score_drift check turns from passed to failed (PSI > 0.25).",
    )
    return (
        [extract_job, scoring_job, retrain_job],
        [extract_schedule, scoring_schedule, leadconv_weekly_retrain],
        [drift_sensor],
    )
