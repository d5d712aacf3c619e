"""The shipped Dagster instance config: run monitoring on, one run per partition, one slot
per concurrency pool."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

CONFIG = Path(__file__).resolve().parents[2] / "scripts" / "dagster.yaml"


def test_shipped_instance_config_loads_with_monitoring_and_partition_limit(tmp_path):
    (tmp_path / "dagster.yaml").write_text(CONFIG.read_text())
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_resume_run_attempts == 0
        # a run whose worker and code server both died is failed after at most 6 h
        assert 0 < instance.run_monitoring_max_runtime_seconds <= 6 * 3600
        concurrency = instance.get_concurrency_config()
        queue = concurrency.run_queue_config  # what the daemon's run queue reads
        # a run dequeued while its code server is down is re-queued for longer than the
        # daemon needs to restart code servers (it reloads its workspace every 60 s)
        assert queue.max_user_code_failure_retries * queue.user_code_failure_retry_delay >= 120
        limits = queue.tag_concurrency_limits
        assert {
            "key": "dagster/partition",
            "value": {"applyLimitPerUniqueValue": True},
            "limit": 1,
        } in limits
        assert queue.max_concurrent_runs == 2
        # the pools the promotion steps and the lead_scores upsert claim get one slot each
        from shared.dagster_helpers import LEAD_SCORES_POOL, REGISTRY_POOL

        settings = concurrency.pool_config
        assert settings.default_pool_limit == 1
        assert str(settings.pool_granularity.value) == "op"
        for pool in (REGISTRY_POOL, LEAD_SCORES_POOL):
            assert instance.event_log_storage.get_concurrency_info(pool).limit == 1, pool
    finally:
        instance.dispose()


def test_promotion_steps_and_the_lead_scores_upsert_claim_their_pools():
    from gosales_assets.definitions import defs as gosales
    from leadconv_assets.definitions import defs as leadconv
    from pricing_assets.definitions import defs as pricing
    from shared.dagster_helpers import LEAD_SCORES_POOL, REGISTRY_POOL

    for defs, prefix in ((gosales, "gosales"), (pricing, "pricing"), (leadconv, "leadconv")):
        promotion = defs.resolve_assets_def(dg.AssetKey([prefix, "promoted_model"]))
        assert promotion.op.pool == REGISTRY_POOL, prefix
    upsert = leadconv.resolve_assets_def(dg.AssetKey(["leadconv", "lead_scores"]))
    assert upsert.op.pool == LEAD_SCORES_POOL


def test_shipped_instance_config_is_plain_yaml():
    raw = yaml.safe_load(CONFIG.read_text())
    assert raw["concurrency"]["runs"]["max_concurrent_runs"] == 2
    assert raw["concurrency"]["pools"]["default_limit"] == 1


def test_retrain_schedule_requests_one_run_per_value_and_definitions_add_the_sweep():
    from datetime import UTC, date, datetime

    from shared.automation import location_definitions, retrain_schedule
    from shared.location import Location

    loc = Location("pricing", "bu_id", "pricing_recs")
    parts = dg.MultiPartitionsDefinition(
        {
            "cutoff": dg.StaticPartitionsDefinition(["2024-06-30"]),
            "bu_id": dg.StaticPartitionsDefinition(["na", "emea"]),
        }
    )

    @dg.asset(partitions_def=parts, key=loc.key("x"))
    def x() -> None:
        return None

    job = dg.define_asset_job("j", selection=[x], partitions_def=parts)
    sched = retrain_schedule(
        name="s",
        job=job,
        cron_schedule="0 3 1 * *",
        location=loc,
        values=["na", "emea"],
        cutoff=date(2024, 6, 30),
        description="d",
    )
    defs = location_definitions(
        loc,
        assets=[x],
        jobs=[job],
        schedules=[sched],
        source_env="X",
        source_uri=None,
        world_size="tiny",
        world_seed=1,
    )
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 7, 1, 3, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    reqs = list(sched.evaluate_tick(ctx).run_requests)
    assert [r.partition_key.keys_by_dimension["bu_id"] for r in reqs] == ["na", "emea"]
    assert len({r.run_key for r in reqs}) == 2
    assert defs.resolve_sensor_def("pricing_mlflow_sweep") is not None
    dg.Definitions.validate_loadable(defs)
