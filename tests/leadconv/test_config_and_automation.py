"""Configuration validation, schedules, and the source chosen by environment variable."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg
import pytest

from leadconv_assets import extract, labels
from leadconv_assets.config import load_config
from leadconv_assets.definitions import SOURCE_ENV, build_defs
from shared.partitions import parse_partition_key
from shared.sources import write_duckdb
from tests.leadconv.conftest import tiny_config


def test_packaged_config_and_embargo_rule():
    cfg = load_config()
    assert list(cfg.targets) == [
        "booked_call_within_7d",
        "qualified_within_14d",
        "conversion_within_30d",
    ]
    assert cfg.gates.pr_auc_ratio_min == 1.05 and cfg.gates.brier_skill_min == 0
    assert cfg.feature_window == timedelta(hours=24)
    assert cfg.embargo("conversion_within_30d") >= timedelta(days=30)
    with pytest.raises(ValueError, match="shorter than the label window"):
        tiny_config(split={"embargo_days": 10})
    # a name as the data spells it is mapped to its partition key ("|" would break the key)
    mapped = tiny_config(targets={"Bad|Name": {"event": "booked_call", "window_days": 7}})
    assert list(mapped.targets) == ["bad_name"]
    with pytest.raises(ValueError, match="target"):
        tiny_config(targets={"|||": {"event": "booked_call", "window_days": 7}})


def test_partitions_and_schedules():
    defs = build_defs(tiny_config())
    graph = defs.resolve_asset_graph()
    pdef = graph.get(dg.AssetKey(["leadconv", "candidate_model"])).partitions_def
    key = pdef.get_partition_keys()[0]
    assert parse_partition_key(str(key), ("cutoff", "target"))["cutoff"] == "2025-04-30"
    assert isinstance(
        graph.get(dg.AssetKey(["leadconv", "lead_scores"])).partitions_def,
        dg.DailyPartitionsDefinition,
    )

    scoring = defs.get_schedule_def("leadconv_daily_scoring")
    assert scoring.cron_schedule == "0 6 * * *"
    retrain = defs.get_schedule_def("leadconv_weekly_retrain")
    assert retrain.cron_schedule == "0 2 * * 0"
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 22, 2), repository_def=defs.get_repository_def()
    )
    requests = list(retrain.evaluate_tick(ctx).run_requests or [])
    assert {
        parse_partition_key(r.partition_key, ("cutoff", "target"))["target"] for r in requests
    } == set(tiny_config().targets)


def test_source_from_environment_variable(salesml_home, tiny_world, monkeypatch):
    path = write_duckdb(salesml_home / "crm.duckdb", tiny_world.tables())
    monkeypatch.setenv(SOURCE_ENV, str(path))
    defs = build_defs(tiny_config())
    result = dg.materialize(
        [defs.get_assets_def(dg.AssetKey(["leadconv", "extract"]))], resources=defs.resources
    )
    meta = result.asset_materializations_for_node("leadconv__extract")[0].metadata
    assert meta["source"].value == str(path)
    assert meta["rows_enrollments"].value == tiny_world.enrollments.height
    assert not (salesml_home / "worlds").exists() or not any((salesml_home / "worlds").iterdir())


def test_labels_do_not_change_when_future_rows_are_deleted(tiny_world, tiny_cfg):
    from leadconv_assets import clean, features

    tables, _ = clean.clean_tables(extract.quality_gates(tiny_world.tables()))
    as_of = datetime(2025, 4, 15)
    cut = features.truncate(tables, as_of)
    for target, tc in tiny_cfg.targets.items():
        args = (target, tc.event, tc.window_days, as_of, tiny_cfg.feature_window)
        full = labels.build_labels(
            tables["enrollments"], tables["engagement_logs"], tables["outcomes"], *args
        )
        trunc = labels.build_labels(
            cut["enrollments"], cut["engagement_logs"], cut["outcomes"], *args
        )
        assert full.equals(trunc), target
