"""Model quality against the demo world's ground truth (pure pipeline, all business units)."""

from __future__ import annotations

import polars as pl
import pytest

from shared.metrics import binomial_interval


@pytest.fixture(scope="module")
def demo_quality():
    from pricing_assets.quality import evaluate_world

    return evaluate_world("demo", 42)


@pytest.mark.slow
def test_demo_coverage_overall_and_per_family(demo_quality):
    s, cov = demo_quality.summary, demo_quality.coverage
    assert s["holdout_lines"] >= 5000
    assert 0.88 <= s["coverage"] <= 0.92, s["coverage"]
    big = cov.filter((pl.col("group") != "ALL") & (pl.col("n") >= 500))
    assert big.height >= 4
    for r in big.to_dicts():
        # inside the 99% binomial acceptance interval around 0.90 for its size ...
        assert r["within"], r
        # ... equivalently 0.90 lies inside the 99% interval of the observed proportion
        lo, hi = binomial_interval(r["covered"], r["n"], 0.99)
        assert lo <= 0.90 <= hi, r


@pytest.mark.slow
def test_demo_errors_against_the_truth(demo_quality):
    s = demo_quality.summary
    # the median is much closer to the true median than lines are to it (noise MAE)
    assert s["median_mae_vs_true_q50"] < 0.5 * s["mae"]
    assert s["median_mae_vs_true_q50"] < 0.02
    # the 90% range targets the true 5/95% quantiles
    assert s["lower_mae_vs_true_q05"] < 0.025 and s["upper_mae_vs_true_q95"] < 0.025
    assert s["mean_width"] < 1.25 * s["true_width_05_95"]
    # point model beats the segment-median rule clearly, and the RandomForest baseline is close
    assert s["mae"] < 0.85 * s["rule_mae"]
    assert s["mae"] <= s["rf_mae"] + 0.002


@pytest.mark.slow
def test_demo_win_auc_close_to_oracle(demo_quality):
    s = demo_quality.summary
    assert s["oracle_auc"] > 0.7
    assert s["win_auc"] >= s["oracle_auc"] - 0.07, s
    assert s["logistic_auc"] >= s["oracle_auc"] - 0.07, s
    assert demo_quality.per_bu["gates_passed"].min() == 1.0
