"""Pricing on the user's own data as it is, and always serving something honest (issue 9)."""

from __future__ import annotations

import dagster as dg
import polars as pl

from pricing_assets.definitions import build_defs
from pricing_assets.location import model_name
from shared.storage import query_warehouse
from shared.tracking import MLflowTracker
from tests.pricing.conftest import TINY_CUTOFF, tiny_config
from tests.pricing.test_pipeline import INPUTS, PARTITIONED, _run

RECS = ["pricing/price_recs_line", "pricing/price_recs_deal"]


def test_rule_baseline_range_is_the_segment_median_rule_with_segment_quantiles(tiny_partition):
    from pricing_assets import serving
    from pricing_assets.models import SegmentMedianRule

    feats, cfg, _ = tiny_partition
    lines, deals, rho = serving.recommend_rule_baseline(feats, cfg, TINY_CUTOFF)
    hold = feats.filter(pl.col("split") == "holdout")
    assert lines.height == hold.height and 0.0 <= rho <= 1.0
    rule = SegmentMedianRule.fit(feats.filter(pl.col("split") != "holdout"))
    by_id = dict(zip(hold["order_line_id"], rule.predict(hold), strict=True))
    expected = lines["order_line_id"].replace_strict(by_id, return_dtype=pl.Float64)
    assert (lines["model_median_discount"] - expected).abs().max() < 1e-12
    assert (lines["model_lower_discount"] <= lines["model_median_discount"]).all()
    assert (lines["model_median_discount"] <= lines["model_upper_discount"]).all()
    assert lines["recommended_discount"].is_between(0, cfg.guardrails.max_discount).all()
    cov = float(lines["covered_before_guardrails"].mean())
    assert 0.75 < cov < 0.99, cov  # empirical segment quantiles: roughly the 90 % it aims at
    # no win model: the median is the target, nothing is claimed about margins
    assert (deals["optimal_discount"] == deals["median_discount"]).all()
    assert (deals["expected_margin_impact"] == 0).all()
    assert deals["p_win_median"].null_count() == deals.height


def test_no_champion_serves_the_rule_baseline_labelled_with_a_warn_check(
    salesml_home, tiny_world, tiny_source, monkeypatch
):
    import pricing_assets.training as training

    # an impossible tolerance: no candidate can pass the blocking coverage gate
    monkeypatch.setattr(training, "coverage_tolerance", lambda *a, **k: (0.99, 1.0))
    defs = build_defs(tiny_config(tiny_world), source_uri=str(tiny_source))
    instance = dg.DagsterInstance.ephemeral()
    _run(defs, INPUTS, instance=instance)
    pk = dg.MultiPartitionKey({"bu_id": "na", "cutoff": TINY_CUTOFF.isoformat()})
    before = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # a sensor tick
    refused = _run(defs, PARTITIONED, pk, instance)
    mats = {e.asset_key.to_user_string() for e in refused.get_asset_materialization_events()}
    assert "pricing/promoted_model" not in mats and not mats & set(RECS)
    assert MLflowTracker().champion(model_name("na")) is None

    # the automation sensor asks for the skipped recommendations of the refused partition
    evaluation = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=before.cursor
    )
    requested = evaluation.get_requested_partitions(dg.AssetKey(["pricing", "price_recs_line"]))
    assert pk in requested, requested

    served = _run(defs, RECS, pk, instance)
    assert served.success, served.get_step_failure_events()
    again = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=evaluation.cursor
    )
    assert again.total_requested == 0  # served once, not again and again
    checks = {e.asset_check_key.name: e for e in served.get_asset_check_evaluations()}
    assert checks["model_champion"].passed is False
    assert checks["model_champion"].severity == dg.AssetCheckSeverity.WARN
    assert "no model champion" in checks["model_champion"].description
    assert checks["price_recs_line_schema"].passed and checks["price_recs_deal_schema"].passed
    line = query_warehouse("SELECT * FROM pricing.price_recs_line")
    deal = query_warehouse("SELECT * FROM pricing.price_recs_deal")
    assert line.height > 50 and deal.height > 10
    assert set(line["model_version"]) == {"rule-baseline"}
    assert set(deal["model_version"]) == {"rule-baseline"}
    assert (line["final_recommended_price"] >= line["floor_price"] - 1e-6).all()
