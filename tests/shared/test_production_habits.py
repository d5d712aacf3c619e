"""Issue 13, production habits, on each location's real ``Definitions``: freshness policies
on the served tables, retry policies on the steps that touch an external system (and only
there), a run-failure alert sensor, the raw source tables as external assets upstream of
the inputs, and column schemas on the main tables; the alert function writes one JSON line
and masks secrets."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta

import dagster as dg
import pytest

from shared.alerts import alerts_path, failure_alert, record_run_failure, scrub
from shared.dagster_helpers import EXTERNAL_RETRY, permanent_errors_fail_at_once

LOCATIONS = ["gosales", "pricing", "leadconv"]

FRESH = {
    "gosales": {"icp_scores": 40, "whitespace": 40},
    "pricing": {"price_recs_line": 40, "price_recs_deal": 40},
    "leadconv": {"lead_scores": 2},
}
"""Served tables and their fail window in days."""

RETRIED = {
    "gosales": {"customers", "candidate_model", "promoted_model", "icp_scores"},
    "pricing": {"order_lines", "point_model", "promoted_model", "price_recs_line"},
    "leadconv": {"extract", "candidate_model", "promoted_model", "lead_scores"},
}
"""An asset of each step that must retry (inputs reader, MLflow candidate and promotion,
scoring that loads the champion from MLflow, leadconv's SQL upsert)."""

NOT_RETRIED = {
    "gosales": {"feature_matrix", "labels", "model_card", "whitespace"},
    "pricing": {"line_features", "justify"},
    "leadconv": {"clean", "features", "labels"},
}
"""Pure compute: no retry policy."""

INPUTS = {
    "gosales": ("customers", {"customers", "transactions", "assets"}),
    "pricing": ("order_lines", {"order_lines", "quotes"}),
    "leadconv": (
        "extract",
        {"contacts", "enrollments", "campaign_steps", "engagement_logs", "outcomes"},
    ),
}
"""An inputs asset of each location and the contract tables it must depend on."""

TABLES = {
    "gosales": {"icp_scores": "icp_score", "whitespace": "nba_reason", "quarantine": "rule"},
    "pricing": {"price_recs_line": "final_recommended_price", "price_recs_deal": "deal_id"},
    "leadconv": {"lead_scores": "score"},
}
"""Table assets with a column schema, and one column each must list."""


@pytest.fixture(scope="module", params=LOCATIONS)
def location(request) -> tuple[str, dg.Definitions]:
    return request.param, importlib.import_module(f"{request.param}_assets.definitions").defs


def _key(loc: str, *path: str) -> dg.AssetKey:
    return dg.AssetKey([loc, *path])


def test_served_tables_have_a_time_window_freshness_policy(location):
    loc, defs = location
    graph = defs.resolve_asset_graph()
    for name, fail_days in FRESH[loc].items():
        policy = graph.get(_key(loc, name)).freshness_policy
        assert isinstance(policy, dg.FreshnessPolicy), name
        assert policy.fail_window.to_timedelta() == timedelta(days=fail_days), name
        assert policy.warn_window.to_timedelta() < policy.fail_window.to_timedelta(), name


def test_steps_touching_external_systems_retry_and_pure_compute_does_not(location):
    loc, defs = location
    for name in RETRIED[loc]:
        policy = defs.get_assets_def(_key(loc, name)).op.retry_policy
        assert policy == EXTERNAL_RETRY, name
        assert policy.max_retries >= 1 and policy.backoff == dg.Backoff.EXPONENTIAL
    for name in NOT_RETRIED[loc]:
        assert defs.get_assets_def(_key(loc, name)).op.retry_policy is None, name


def test_a_run_failure_alert_sensor_per_location(location):
    loc, defs = location
    sensor = defs.get_sensor_def(f"{loc}_run_failure_alert")
    assert isinstance(sensor, dg.RunStatusSensorDefinition)
    assert sensor._run_status == dg.DagsterRunStatus.FAILURE  # a run_failure_sensor
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_raw_sources_are_external_assets_upstream_of_the_inputs(location):
    loc, defs = location
    graph = defs.resolve_asset_graph()
    sources = {k for k in graph.get_all_asset_keys() if k.path[:2] == [loc, "source"]}
    for key in sources:
        node = graph.get(key)
        assert node.is_external and not node.is_materializable, key
        assert node.kinds and node.description, key
    asset, required = INPUTS[loc]
    parents = graph.get(_key(loc, asset)).parent_keys
    assert {_key(loc, "source", t) for t in required} <= parents
    assert parents <= sources  # the inputs read nothing but the source
    # no job materializes a source, and each job's assets are all executable
    for job in defs.resolve_all_job_defs():
        keys = job.asset_layer.executable_asset_keys if job.asset_layer else set()
        assert not keys & sources, job.name


def test_table_assets_show_their_columns(location):
    loc, defs = location
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    for name, column in TABLES[loc].items():
        schema = specs[_key(loc, name)].metadata["dagster/column_schema"]
        names = [c.name for c in schema.columns]
        assert column in names and all(c.type for c in schema.columns), name


def test_a_permanent_error_fails_at_once_and_a_transient_one_retries():
    calls = {"bad": 0, "flaky": 0}

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
    @permanent_errors_fail_at_once
    def bad():
        calls["bad"] += 1
        raise ValueError("table 'x', column 'y': broken rule")

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
    @permanent_errors_fail_at_once
    def flaky():
        calls["flaky"] += 1
        if calls["flaky"] < 2:
            raise ConnectionError("server restarting")
        return 1

    instance = dg.DagsterInstance.ephemeral()
    res = dg.materialize([bad], raise_on_error=False, instance=instance)
    assert not res.success and calls["bad"] == 1
    error = res.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "ValueError: table 'x', column 'y': broken rule" in error
    context = dg.build_run_status_sensor_context(
        sensor_name="s",
        dagster_event=res.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=res.dagster_run,
    )
    assert failure_alert(context, "x")["error"] == "ValueError: table 'x', column 'y': broken rule"
    assert dg.materialize([flaky]).success and calls["flaky"] == 2


SECRET = "s3cr3t-alert-pw"


@pytest.fixture
def failed_run(monkeypatch):
    """A failed run whose error names a database URL carrying a password from the
    environment (as a driver error would)."""
    url = f"postgresql+psycopg://bob:{SECRET}@db.internal:5432/sales"
    monkeypatch.setenv("SALESML_GOSALES_SOURCE", url)
    monkeypatch.setenv("SOME_API_TOKEN", "tok-" + SECRET)

    @dg.op
    def read_source():
        raise RuntimeError(
            f"could not connect to {url} (token tok-{SECRET}, password {SECRET})\n"
            "Traceback line two"
        )

    @dg.job
    def gosales_inputs_job():
        read_source()

    instance = dg.DagsterInstance.ephemeral()
    result = gosales_inputs_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return instance, result


def test_the_alert_writes_one_json_line_without_secrets(salesml_home, failed_run):
    instance, result = failed_run
    context = dg.build_run_status_sensor_context(
        sensor_name="gosales_run_failure_alert",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )
    alert = record_run_failure(context, "gosales")
    lines = alerts_path().read_text().splitlines()
    assert alerts_path() == salesml_home / "alerts" / "run_failures.jsonl"
    assert len(lines) == 1 and json.loads(lines[0]) == alert
    assert alert["job"] == "gosales_inputs_job" and alert["run_id"] == result.run_id
    assert alert["steps"] == ["read_source"] and alert["location"] == "gosales"
    assert alert["error"].startswith(
        "RuntimeError: could not connect to postgresql+psycopg://bob:***@"
    )
    assert "Traceback line two" not in alert["error"]  # the first line only
    assert SECRET not in lines[0]

    # the location's sensor does the same (and appends)
    from gosales_assets.definitions import defs

    defs.get_sensor_def("gosales_run_failure_alert")(context)
    lines = alerts_path().read_text().splitlines()
    assert len(lines) == 2 and SECRET not in "\n".join(lines)
    assert json.loads(lines[1])["run_id"] == result.run_id


def test_scrub_masks_urls_and_secret_variables(monkeypatch):
    monkeypatch.setenv("SALESML_LAKE_KEY", "lake-key-value-123")
    text = "sqlite ok; mysql://u:pw123456@h/db and lake-key-value-123"
    assert scrub(text) == "sqlite ok; mysql://u:***@h/db and ***"
