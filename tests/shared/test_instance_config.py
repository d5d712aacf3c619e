"""The shipped Dagster instance config: run monitoring on, one run per partition."""

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
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
        assert {
            "key": "dagster/partition",
            "value": {"applyLimitPerUniqueValue": True},
            "limit": 1,
        } in limits
    finally:
        instance.dispose()


def test_shipped_instance_config_is_plain_yaml():
    raw = yaml.safe_load(CONFIG.read_text())
    assert raw["run_coordinator"]["config"]["max_concurrent_runs"] == 2
