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
from gosales_assets.inputs import OUTPUTS
from gosales_assets.location import LOCATION
from shared.automation import partition_job, retrain_schedule
from shared.drift_sensor import drift_retrain_sensor

INPUTS = OUTPUTS


def build_automation(cfg: GosalesConfig) -> tuple[list, list, list]:
    """Returns ``(jobs, schedules, sensors)``."""
    group = dg.AssetSelection.groups(LOCATION.name)
    train_job = partition_job(
        "gosales_retrain_job",
        selection=group
        - dg.AssetSelection.assets(LOCATION.key("icp_scores"), LOCATION.key("whitespace"))
        - dg.AssetSelection.assets(*[LOCATION.key(n) for n in INPUTS]),
        description="Features → labels → candidate (gated) → promotion → model card for one division × cutoff.",
        tags={"salesml/location": LOCATION.name},
    )
    latest = max(cfg.cutoffs)
    monthly = retrain_schedule(
        name="gosales_monthly_retrain",
        job=train_job,
        cron_schedule="0 3 2 * *",
        location=LOCATION,
        values=cfg.divisions,
        cutoff=latest,
        description="Monthly retrain of every division at the latest configured cutoff.",
    )

    def retrain_on_drift(partition: str | None, metadata: dict, record_id: int):
        # shared.drift_sensor already skips executions that measured nothing (measured: False)
        if partition not in cfg.divisions:
            return []
        key = dg.MultiPartitionKey({"cutoff": latest.isoformat(), LOCATION.dim: partition})
        return [
            dg.RunRequest(
                run_key=f"drift-{partition}-{record_id}",
                partition_key=key,
                tags={
                    "salesml/reason": f"score drift: PSI {float(metadata.get('psi', float('nan'))):.3f} "
                    f"for champion v{metadata.get('model_version', '?')}"
                },
            )
        ]

    drift_sensor = drift_retrain_sensor(
        name="gosales_drift_retrain",
        check_key=dg.AssetCheckKey(LOCATION.key("icp_scores"), "score_drift"),
        job=train_job,
        requests=retrain_on_drift,
        description="Retrains a division at the latest configured cutoff once when its "
        "icp_scores score_drift check turns from passed to failed (PSI > 0.25).",
    )

    automation_sensor = dg.AutomationConditionSensorDefinition(
        "gosales_automation",
        target=group,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Evaluates gosales automation conditions (re-score when a champion is promoted).",
    )
    return [train_job], [monthly], [automation_sensor, drift_sensor]
