"""Checks that must be able to fail: crossing before repair, missing gates, unmeasured drift."""

from __future__ import annotations

import dataclasses

import polars as pl

from pricing_assets import models as pm
from pricing_assets import training
from pricing_assets.defs.candidate import drift_check_result, metrics_check_result


def test_crossing_model_is_counted_before_the_sort_and_fails_no_crossing(tiny_partition):
    feats, cfg, res = tiny_partition
    hold = feats.filter(pl.col("split") == "holdout")
    lo, hi, med = res.range.estimators
    # purpose-built crossing model: the lower and upper quantile models swapped
    crossing = dataclasses.replace(res.range, estimators=[hi, lo, med])
    assert pm.crossing_count(crossing.get_confidence_interval(hold)) == 0  # the sort hides it
    stats = pm.crossing_stats(crossing.unrepaired_bounds(hold))
    assert stats["crossing_rows"] > 0 and stats["crossing_share"] > cfg.coverage.max_crossing_share
    bad = res.metrics.with_columns(
        value=pl.when(pl.col("metric") == "crossing_share")
        .then(stats["crossing_share"])
        .when(pl.col("metric") == "crossing_rows")
        .then(float(stats["crossing_rows"]))
        .otherwise(pl.col("value"))
    )
    check = metrics_check_result(training.promotion_gates(bad, cfg), ["no_crossing"])
    assert check.passed is False and "no_crossing" in check.description
    # the correct model: measured, reported, within the configured share
    good = pm.crossing_stats(res.range.unrepaired_bounds(hold))
    assert good["crossing_share"] <= cfg.coverage.max_crossing_share
    assert res.metric("range", "cqr_lightgbm", "crossing_share") == good["crossing_share"]


def test_metrics_check_fails_when_its_gate_is_missing(tiny_partition):
    _, cfg, res = tiny_partition
    report = training.promotion_gates(res.metrics, cfg)
    assert metrics_check_result(report, ["point_mae_vs_rule"]).passed
    missing = metrics_check_result(report, ["point_mae_vs_rul"])
    assert missing.passed is False and "point_mae_vs_rul" in missing.description


def test_drift_not_measured_is_a_visible_failure(tiny_partition):
    _, _, res = tiny_partition
    measured = drift_check_result(res.metrics)
    assert measured.metadata["measured"].value is True
    none = drift_check_result(res.metrics.filter(pl.col("component") != "drift"))
    assert none.passed is False and none.metadata["measured"].value is False
    assert "not measured" in none.description


def test_an_older_candidate_never_takes_champion_from_a_newer_one():
    from datetime import date

    from pricing_assets.training import newer_champion_rule

    backfill = newer_champion_rule(date(2024, 5, 31), "2024-06-30")
    assert backfill.passed is False and "later cutoff" in backfill.detail
    assert newer_champion_rule(date(2024, 6, 30), "2024-05-31").passed
    assert newer_champion_rule(date(2024, 6, 30), None).passed
