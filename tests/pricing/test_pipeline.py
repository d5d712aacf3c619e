"""Pricing end to end through Dagster on a temporary home with the tiny world."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl

from pricing_assets.definitions import build_defs
from pricing_assets.inputs import OUTPUTS
from pricing_assets.location import model_name
from shared.storage import query_warehouse
from shared.tracking import MLflowTracker
from tests.pricing.conftest import TINY_CUTOFF, tiny_config

INPUTS = [f"pricing/{name}" for name in OUTPUTS]
PARTITIONED = [
    "pricing/line_features",
    "pricing/point_model",
    "pricing/range_model",
    "pricing/win_probability",
    "pricing/model_metrics",
    "pricing/justify",
    "pricing/model_card",
    "pricing/promoted_model",
    "pricing/price_recs_line",
    "pricing/price_recs_deal",
]


def _run(defs, keys, partition_key=None, instance=None) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        asset_selection=[dg.AssetKey.from_user_string(k) for k in keys],
        partition_key=partition_key,
        raise_on_error=False,
        instance=instance or dg.DagsterInstance.ephemeral(),
    )


def test_whole_location_materializes_promotes_and_publishes(salesml_home, tiny_world, tiny_source):
    cfg = tiny_config(tiny_world)
    defs = build_defs(cfg, source_uri=str(tiny_source))
    instance = dg.DagsterInstance.ephemeral()
    results = [_run(defs, INPUTS, instance=instance)]
    pk = dg.MultiPartitionKey({"bu_id": "na", "cutoff": TINY_CUTOFF.isoformat()})
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    results.append(_run(defs, PARTITIONED, pk, instance))
    assert all(r.success for r in results), [r.get_step_failure_events() for r in results]
    # recommendations made in the run, after their dependencies, are not requested again
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.total_requested == 0
    checks = {
        e.asset_check_key.name: e.passed for r in results for e in r.get_asset_check_evaluations()
    }
    for name in (
        "line_features_schema_check",
        "truncation_invariance",
        "coverage_gate",
        "no_crossing",
        "point_beats_rule",
        "price_recs_line_schema",
        "price_recs_deal_schema",
    ):
        assert checks[name], name
    assert {"win_calibration", "drift"} <= set(checks)

    line = query_warehouse("SELECT * FROM pricing.price_recs_line")
    deal = query_warehouse("SELECT * FROM pricing.price_recs_deal")
    assert line.height > 100 and deal.height > 30
    assert (line["final_recommended_price"] >= line["floor_price"] - 1e-6).all()
    assert line["recommended_discount"].is_between(0, 0.6).all()
    assert set(deal["deal_id"]) == set(line["deal_id"])
    registry = query_warehouse("SELECT * FROM pricing.model_registry")
    assert registry["promoted"].to_list() == [True]

    client = MLflowTracker().client()
    name = model_name("na")
    champ = MLflowTracker().champion(name)
    assert champ is not None and champ.tags["cutoff_date"] == TINY_CUTOFF.isoformat()
    # one servable artifact per registered name: the bundle with its encoders and models
    assert [str(v.version) for v in client.search_model_versions(f"name='{name}'")] == ["1"]
    bundle = MLflowTracker().load_model(champ.model_uri)
    assert {"encoders", "point", "range", "win"} <= set(vars(bundle))
    assert set(line["model_version"]) == {"1"}  # every row says which model served it
    runs = MLflowTracker().mlflow().search_runs(experiment_names=["pricing"])
    assert len(runs) == 1  # one MLflow run for the partition
    metrics = query_warehouse("SELECT * FROM pricing.model_metrics")
    assert metrics.filter(pl.col("component") == "truth").height > 0
    assert set(metrics["model"]) >= {"candidate", "baseline", "rule", "oracle"}  # roles
    card = salesml_home / "reports" / "pricing" / name / f"na__{TINY_CUTOFF}" / "model_card.md"
    assert card.exists() and "holdout_coverage" in card.read_text()
    plot = card.parent / "range_coverage_by_product_family.png"  # the per-family chart
    assert plot.read_bytes().startswith(b"\x89PNG") and plot.name in card.read_text()


def test_bad_input_fails_before_anything_is_written(salesml_home, tiny_world, tmp_path):
    from shared.sources import write_folder
    from shared.storage import read_lake

    bad = tiny_world.order_lines.with_columns(
        sell_price=pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.col("list_price") * 1.2)
        .otherwise(pl.col("sell_price"))
    )
    folder = write_folder(tmp_path / "bad", {"order_lines": bad, "quotes": tiny_world.quotes})
    defs = build_defs(tiny_config(tiny_world), source_uri=str(folder))
    res = _run(defs, INPUTS)
    assert not res.success
    failure = res.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "sell_price above list_price" in failure and "3 offending row(s)" in failure
    assert "docs/data_contracts/pricing.md" in failure  # the location's own contract page
    assert read_lake(["pricing", "order_lines"]).height == 0


def test_failed_gate_is_a_recorded_decision_and_the_run_succeeds(
    salesml_home, tiny_world, tiny_source, monkeypatch
):
    import pricing_assets.training as training

    # an impossible tolerance makes the coverage gate fail
    monkeypatch.setattr(training, "coverage_tolerance", lambda *a, **k: (0.99, 1.0))
    defs = build_defs(tiny_config(tiny_world), source_uri=str(tiny_source))
    instance = dg.DagsterInstance.ephemeral()
    _run(defs, INPUTS, instance=instance)
    pk = dg.MultiPartitionKey({"bu_id": "na", "cutoff": TINY_CUTOFF.isoformat()})
    res = _run(defs, PARTITIONED, pk, instance)
    assert res.success, res.get_step_failure_events()  # a refusal is a decision, not a failure
    checks = {e.asset_check_key.name: e for e in res.get_asset_check_evaluations()}
    assert checks["coverage_gate"].passed is False  # ... and the check says so (ERROR)
    assert checks["coverage_gate"].severity == dg.AssetCheckSeverity.ERROR
    assert "holdout_coverage" in checks["coverage_gate"].description
    assert checks["point_beats_rule"].passed
    mats = {e.asset_key.to_user_string() for e in res.get_asset_materialization_events()}
    assert {
        "pricing/range_model",
        "pricing/model_metrics",
        "pricing/justify",
        "pricing/model_card",  # the card of a refused candidate still says why
        "pricing/promoted_model",  # the decision, with its reasons
        "pricing/price_recs_line",  # served by the rule baseline: no champion yet
    } <= mats
    assert MLflowTracker().champion(model_name("na")) is None
    line = query_warehouse("SELECT DISTINCT model_version FROM pricing.price_recs_line")
    assert line["model_version"].to_list() == ["rule-baseline"]
    decisions = query_warehouse("SELECT * FROM pricing.model_decisions")
    assert decisions["promoted"].to_list() == [False]  # the refusal is one recorded decision
    assert "holdout_coverage" in decisions["reason"][0]


def test_backfill_of_an_older_cutoff_leaves_the_newer_champion_serving(
    salesml_home, tiny_world, tiny_source
):
    cfg = tiny_config(tiny_world).model_copy(update={"cutoffs": [date(2024, 5, 31), TINY_CUTOFF]})
    defs = build_defs(cfg, source_uri=str(tiny_source))
    instance = dg.DagsterInstance.ephemeral()
    _run(defs, INPUTS, instance=instance)
    for cutoff in (TINY_CUTOFF, date(2024, 5, 31)):  # newest first, then the backfill
        pk = dg.MultiPartitionKey({"bu_id": "na", "cutoff": cutoff.isoformat()})
        assert _run(defs, PARTITIONED, pk, instance).success
    champ = MLflowTracker().champion(model_name("na"))
    assert champ is not None and champ.tags["cutoff_date"] == TINY_CUTOFF.isoformat()
    registry = query_warehouse("SELECT * FROM pricing.model_registry ORDER BY cutoff_date")
    assert registry["promoted"].to_list() == [False, True]
    assert "later cutoff" in registry["reason"][0]
    decisions = query_warehouse("SELECT * FROM pricing.model_decisions ORDER BY decided_at")
    assert decisions["promoted"].to_list() == [True, False]  # every decision kept, in order
    assert "later cutoff" in decisions["reason"][1]

    # forward again: a re-run at the newest cutoff is judged against the serving champion,
    # loaded from the registry and re-applied with its own encoders (not skipped)
    pk = dg.MultiPartitionKey({"bu_id": "na", "cutoff": TINY_CUTOFF.isoformat()})
    res = _run(defs, PARTITIONED, pk, instance)
    assert res.success
    beat = next(e for e in res.get_asset_check_evaluations() if e.check_name == "beats_champion")
    assert beat.passed and "skipped" not in beat.description
    assert "mse_vs_champion" in beat.description
    metrics = query_warehouse(
        "SELECT * FROM pricing.model_metrics WHERE component = 'point' AND model = 'champion' "
        "AND metric = 'mae'"
    )
    assert metrics.height == 1  # this partition's rows replaced, the champion's MAE among them
