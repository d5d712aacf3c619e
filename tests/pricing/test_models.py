"""Pure model functions on the tiny world: coverage, crossing, intervals, features, drivers."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from pricing_assets import models as pm
from pricing_assets import serving, training
from pricing_assets import win as pwin
from pricing_assets.features import FEATURES, build_line_features
from pricing_assets.justify import top_drivers
from shared.gates import coverage_tolerance
from tests.pricing.conftest import TINY_CUTOFF


def test_gates_pass_on_a_correct_model(tiny_partition):
    _, cfg, res = tiny_partition
    report = training.promotion_gates(res.metrics, cfg)
    assert report.passed, report.reasons()
    n_eff = int(res.metric("range", "cqr_lightgbm", "n_effective"))
    lo, hi = coverage_tolerance(n_eff, 0.90, cfg.coverage.base_tolerance)
    assert lo <= res.metric("range", "cqr_lightgbm", "coverage") <= hi
    assert res.metric("range", "cqr_lightgbm", "crossing") == 0
    assert res.metric("point", "candidate", "mae") < res.metric("point", "segment_median", "mae")
    # conformalization moved raw quantile coverage towards the target
    assert res.metric("range", "cqr_lightgbm", "coverage_raw_quantiles") < 0.90


def test_range_never_crosses_and_alpha_orders_widths(tiny_partition):
    feats, _, res = tiny_partition
    hold = feats.filter(pl.col("split") == "holdout")
    widths = []
    for alpha in (0.3, 0.1, 0.05):
        iv = res.range.get_confidence_interval(hold, alpha)
        assert pm.crossing_count(iv) == 0
        widths.append(float((iv["upper_discount"] - iv["lower_discount"]).mean()))
    assert widths[0] < widths[1] < widths[2]
    with pytest.raises(ValueError, match="alpha"):
        res.range.get_confidence_interval(hold, 1.5)


def test_hand_cqr_matches_mapie_at_the_fitted_level(tiny_partition):
    feats, _, res = tiny_partition
    hold = feats.filter(pl.col("split") == "holdout")
    mapie = res.range.predict(hold)
    hand = res.range.get_confidence_interval(hold, 1 - res.range.confidence)
    # MAPIE and the hand version may pick neighbouring order statistics of the same
    # calibration scores (rank conventions differ by one): allow exactly that much.
    groups = res.range.group_of(hold)
    level = 1 - (1 - res.range.confidence) / 2
    for side, col in ((0, "lower_discount"), (1, "upper_discount")):
        tol = np.empty(hold.height)
        for g in np.unique(groups):
            r = np.sort(res.range.residuals[g][side])
            k = min(len(r) - 1, int(np.ceil((len(r) + 1) * level)) - 1)
            gaps = np.diff(r[max(0, k - 1) : k + 2])
            tol[groups == g] = (gaps.max() if gaps.size else 0.0) + 1e-9
        diff = np.abs(hand[col].to_numpy() - mapie[col].to_numpy())
        assert (diff <= tol).all(), (diff - tol).max()


def test_mondrian_groups_only_for_large_families(tiny_partition):
    feats, cfg, res = tiny_partition
    cal = feats.filter(pl.col("split") == "calibration")
    sizes = dict(cal.group_by("product_family").len().iter_rows())
    expected = {f for f, n in sizes.items() if n >= cfg.coverage.mondrian_min_rows}
    assert set(res.range.mapie) - {"*"} == expected


def test_features_are_truncation_invariant(tiny_world):
    day = date(2024, 6, 10)
    full = build_line_features(tiny_world.order_lines, "na", TINY_CUTOFF)
    cut = build_line_features(
        tiny_world.order_lines.filter(pl.col("order_date") <= day), "na", TINY_CUTOFF
    )
    cols = ["order_line_id", *FEATURES, "split"]
    left = full.filter(pl.col("order_date") <= day).select(cols)
    assert left.equals(cut.select(cols))


def test_truncation_probe_detects_a_leaky_feature(tiny_world, monkeypatch):
    import pricing_assets.features as F

    assert F.truncation_differences(tiny_world.order_lines, "na", TINY_CUTOFF) == []
    real = F.customer_context

    def leaky(lines, windows=F.CONTEXT_WINDOWS):  # a centered window that sees the future
        out = real(lines, windows)
        future = lines.group_by("customer_id").agg(pl.col("order_date").max().alias("last"))
        return (
            out.join(future, on="customer_id")
            .with_columns(
                ctx30_n_lines=pl.col("ctx30_n_lines")
                + (pl.col("last") - pl.col("order_date")).dt.total_days()
            )
            .drop("last")
        )

    monkeypatch.setattr(F, "customer_context", leaky)
    assert "ctx30_n_lines" in F.truncation_differences(tiny_world.order_lines, "na", TINY_CUTOFF)


def test_context_uses_only_earlier_days(tiny_world):
    feats = build_line_features(tiny_world.order_lines, "na", TINY_CUTOFF)
    row = feats.filter(pl.col("ctx30_n_lines") > 0).row(0, named=True)
    prior = feats.filter(
        (pl.col("customer_id") == row["customer_id"])
        & (pl.col("order_date") < row["order_date"])
        & (pl.col("order_date") >= row["order_date"] - pl.duration(days=30))
    )
    assert prior.height == row["ctx30_n_lines"]
    assert prior["discount"].mean() == pytest.approx(row["ctx30_avg_discount"])


def test_encodings_are_fitted_on_training_rows_only(tiny_world):
    feats = build_line_features(tiny_world.order_lines, "na", TINY_CUTOFF)
    train_products = set(feats.filter(pl.col("split") == "train")["product_id"])
    unseen = feats.filter(~pl.col("product_id").is_in(list(train_products)))
    assert (unseen["product_code"] == -1).all()


def test_drivers_sum_to_the_prediction(tiny_partition):
    feats, _, res = tiny_partition
    hold = feats.filter(pl.col("split") == "holdout").head(50)
    d = top_drivers(res.point, hold)
    np.testing.assert_allclose(d["predicted_discount"], res.point.predict(hold), atol=1e-9)
    assert d["driver_1"].is_in(FEATURES).all()
    assert (d["contribution_1"].abs() >= d["contribution_2"].abs()).all()


def test_win_model_is_monotone_in_discount_and_beats_chance(tiny_partition):
    _, _, res = tiny_partition
    assert res.metric("win", "lightgbm", "roc_auc") > 0.55
    assert res.metric("win", "oracle", "roc_auc") > 0.55
    frame = pl.DataFrame(
        {
            "discount": [0.0],
            "log_list_value": [9.0],
            "segment_code": [1.0],
            "region_code": [0.0],
            "past_win_rate": [0.5],
            "past_quotes": [2.0],
        }
    )
    curve = res.win.at_discounts(frame, np.linspace(0, 0.6, 13))[0]
    assert (np.diff(curve) >= -1e-12).all() and curve[-1] > curve[0]


def test_win_history_uses_quotes_closed_strictly_before():
    quotes = pl.DataFrame(
        {
            "customer_id": ["c", "c", "c"],
            "close_date": [date(2024, 1, 1), date(2024, 1, 5), date(2024, 1, 10)],
            "outcome": ["won", "lost", "won"],
        }
    )
    events = pl.DataFrame(
        {
            "customer_id": ["c", "c", "x"],
            "d": [date(2024, 1, 5), date(2024, 1, 11), date(2024, 1, 11)],
        }
    )
    out = pwin.win_history(events, quotes, "d")
    assert out["past_quotes"].to_list() == [1.0, 3.0, 0.0]
    assert out["past_win_rate"].to_list() == pytest.approx([2 / 3, 3 / 5, 1 / 2])


def test_recommendations_respect_guardrails_and_report_both_coverages(tiny_world, tiny_partition):
    feats, cfg, res = tiny_partition
    lines, deals = serving.recommend_partition(
        feats, tiny_world.quotes, res.bundle(), cfg, TINY_CUTOFF
    )
    assert lines.height == feats.filter(pl.col("split") == "holdout").height
    assert (lines["final_recommended_price"] >= lines["floor_price"] - 1e-6).all()
    assert lines["recommended_discount"].is_between(0, cfg.guardrails.max_discount).all()
    assert deals["deal_id"].n_unique() == deals.height
    assert (deals["optimal_discount"] >= deals["lower_discount"] - 1e-12).all()
    assert (deals["optimal_discount"] <= deals["upper_discount"] + 1e-12).all()
    assert (deals["expected_margin_impact"] >= -1e-9).all()
    before, after = (
        lines["covered_before_guardrails"].mean(),
        lines["covered_after_guardrails"].mean(),
    )
    assert 0.8 < before <= 1 and after <= before + 1e-12
