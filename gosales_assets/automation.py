"""GoSales schedules and automation.

* Monthly retrain: on the 2nd of each month, one run per division for the
  latest configured cutoff (candidate → gates → promotion → scoring).
* Declarative automation: ``icp_scores`` re-scores eagerly when a new champion
  is promoted, and ``whitespace`` re-ranks when any division re-scores. Open-source Dagster starts the default automation sensor
  STOPPED, so the location declares its own sensor with RUNNING status.
* Retrain on drift: ``gosales_drift_retrain`` launches the retrain job for a
  division (latest configured cutoff) once when its ``score_drift`` check turns
  from passed to failed. Retraining the same cutoff only changes the model if the
  data behind it changed; to learn from newer months, add a later cutoff.
"""

from __future__ import annotations

import dagster as dg

from gosales_assets.config import GosalesConfig
from shared.drift_sensor import drift_retrain_sensor


def build_automation(cfg: GosalesConfig, prefix: list[str]) -> tuple[list, list, list]:
    """Returns ``(jobs, schedules, sensors)``."""
    train_job = dg.define_asset_job(
        "gosales_retrain_job",
        selection=dg.AssetSelection.groups("gosales")
        - dg.AssetSelection.assets(
            dg.AssetKey([*prefix, "icp_scores"]), dg.AssetKey([*prefix, "whitespace"])
        )
        - dg.AssetSelection.assets(
            *[
                dg.AssetKey([*prefix, n])
                for n in ("customers", "transactions", "install_base", "ground_truth")
            ]
        ),
        description="Features → labels → candidate (gated) → promotion → model card for one division × cutoff.",
        tags={"salesml/location": "gosales"},
    )
    latest = max(cfg.cutoffs).isoformat()

    @dg.schedule(
        cron_schedule="0 3 2 * *",
        job=train_job,
        execution_timezone="UTC",
        description="Monthly retrain of every division at the latest configured cutoff.",
    )
    def gosales_monthly_retrain(context: dg.ScheduleEvaluationContext):
        for division in cfg.divisions:
            pk = dg.MultiPartitionKey({"cutoff": latest, "division": division})
            yield dg.RunRequest(
                run_key=f"{context.scheduled_execution_time:%Y-%m}-{division}",
                partition_key=pk,
                tags={"salesml/reason": "monthly retrain"},
            )

    def retrain_on_drift(partition: str | None, metadata: dict, record_id: int):
        # shared.drift_sensor already skips executions that measured nothing (measured: False)
        if partition not in cfg.divisions:
            return []
        return [
            dg.RunRequest(
                run_key=f"drift-{partition}-{record_id}",
                partition_key=dg.MultiPartitionKey({"cutoff": latest, "division": partition}),
                tags={
                    "salesml/reason": f"score drift: PSI {float(metadata.get('psi', float('nan'))):.3f} "
                    f"for champion v{metadata.get('model_version', '?')}"
                },
            )
        ]

    drift_sensor = drift_retrain_sensor(
        name="gosales_drift_retrain",
        check_key=dg.AssetCheckKey(dg.AssetKey([*prefix, "icp_scores"]), "score_drift"),
        job=train_job,
        requests=retrain_on_drift,
        description="Retrains a division at the latest configured cutoff once when its "
        "icp_scores score_drift check turns from passed to failed (PSI > 0.25).",
    )

    automation_sensor = dg.AutomationConditionSensorDefinition(
        "gosales_automation",
        target=dg.AssetSelection.groups("gosales"),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Evaluates gosales automation conditions (re-score when a champion is promoted).",
    )
    return [train_job], [gosales_monthly_retrain], [automation_sensor, drift_sensor]
