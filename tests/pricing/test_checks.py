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
    assert metrics_check_result(report, ["point_vs_rule"]).passed
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


def test_the_bundle_re_encodes_lines_exactly_as_its_partition_did(tiny_partition):
    """Encoders travel with the models: applied to the partition's own holdout lines they
    give the features the partition built (so its predictions are reproduced exactly)."""
    from pricing_assets.features import CATEGORICAL, TARGET_ENCODED

    feats, _, res = tiny_partition
    hold = feats.filter(pl.col("split") == "holdout")
    bundle = res.bundle()
    again = bundle.prepare(hold.drop(*CATEGORICAL.values(), *TARGET_ENCODED.values()))
    for col in (*CATEGORICAL.values(), *TARGET_ENCODED.values()):
        assert again[col].equals(hold[col]), col
    assert (bundle.predict_discount(hold) == res.point.predict(hold)).all()


def _with_champion(metrics: pl.DataFrame, champion_mse: float, se: float) -> pl.DataFrame:
    extra = metrics.filter(
        (pl.col("component") == "point")
        & (pl.col("model") == "candidate")
        & (pl.col("metric") == "mse")
    )
    return pl.concat(
        [
            metrics,
            extra.with_columns(
                model=pl.lit("champion"), learner=pl.lit("champion"), value=pl.lit(champion_mse)
            ),
            extra.with_columns(metric=pl.lit("mse_diff_se"), value=pl.lit(se)),
        ]
    )


def test_beat_the_champion_judges_the_paired_noise(tiny_partition):
    """The champion re-applied to the candidate's holdout: a candidate within one paired
    standard error passes, one clearly worse than the champion fails, and with no
    comparable champion the gate is visibly skipped."""
    from shared.gates import GateReport

    _, cfg, res = tiny_partition
    mse = res.metric("point", "candidate", "mse")

    def verdict(metrics, champion_cutoff=None):
        report = training.promotion_gates(metrics, cfg, champion_cutoff)
        return next(g for g in report.gates if g.name == "mse_vs_champion"), report

    skipped, _ = verdict(res.metrics)
    assert skipped.skipped and skipped.passed
    close, _ = verdict(_with_champion(res.metrics, 0.97 * mse, 0.05 * mse))
    assert close.passed and not close.skipped
    worse, report = verdict(_with_champion(res.metrics, 0.7 * mse, 0.05 * mse))
    assert not worse.passed and isinstance(report, GateReport) and not report.passed
    check = metrics_check_result(report, ["mse_vs_champion"])
    assert not check.passed and "mse_vs_champion" in check.description
    newer, _ = verdict(res.metrics, "2099-01-31")  # a newer champion is never replaced
    assert not newer.passed and "later cutoff" in newer.detail


def test_a_champion_scored_on_the_candidates_holdout_gives_the_paired_rows(
    tiny_world, tiny_partition
):
    """fit_partition with a champion bundle adds its MAE on this holdout and the paired SE;
    the same model as champion has the same MAE (difference 0) and passes."""
    feats, cfg, res = tiny_partition
    again = training.fit_partition(feats, tiny_world.quotes, cfg, res.cutoff, champion=res.bundle())
    assert again.metric("point", "champion", "mae") == again.metric("point", "candidate", "mae")
    assert again.metric("point", "candidate", "mse_diff_se") == 0.0
    gate = next(
        g for g in training.promotion_gates(again.metrics, cfg).gates if g.name == "mse_vs_champion"
    )
    assert gate.passed and not gate.skipped


def test_point_vs_rule_passes_the_truth_where_the_rule_is_optimal_and_fails_a_worse_model():
    """A segment-median-optimal world: the discount is its segment's median plus deal
    noise. The true medians (the rule itself, up to estimation) pass within the paired
    noise on a few hundred lines; a model clearly worse than the rule fails."""
    import numpy as np

    from shared.gates import paired_gate
    from shared.metrics import paired_loss_difference

    passes = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        deals = np.repeat(np.arange(80), 5)  # 400 lines in 80 deals
        segment_median = rng.choice([0.1, 0.2, 0.3], size=80)[deals]
        y = segment_median + rng.normal(0, 0.03, 80)[deals] + rng.normal(0, 0.03, 400)
        rule = segment_median + rng.normal(0, 0.002, 400)  # medians estimated from training
        truth = segment_median
        diff, se = paired_loss_difference((truth - y) ** 2, (rule - y) ** 2, deals)
        passes += paired_gate("point_vs_rule", diff, se, "rule", higher_is_better=False).passed
        worse = segment_median + rng.normal(0, 0.04, 400)
        diff, se = paired_loss_difference((worse - y) ** 2, (rule - y) ** 2, deals)
        assert not paired_gate("point_vs_rule", diff, se, "rule", higher_is_better=False).passed
    assert passes >= 17  # one-sided 1-SE allowance: the truth fails ~16% only when it ties


def test_win_calibration_does_not_alarm_on_few_quotes_but_catches_a_miscalibrated_model():
    import numpy as np

    passes = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        p = rng.uniform(0.1, 0.7, 50)  # ~50 out-of-time quotes, true probabilities
        y = (rng.random(50) < p).astype(int)
        passes += training.win_calibration_verdict(y, p).passed
    assert passes >= 27
    rng = np.random.default_rng(1)
    p = rng.uniform(0.1, 0.7, 500)
    y = (rng.random(500) < p).astype(int)
    bad = training.win_calibration_verdict(y, np.clip(p + 0.3, 0, 0.99))
    assert not bad.passed and "win_calibration_mae" in bad.summary()


def test_drift_fires_on_a_large_psi_only_when_noise_cannot_explain_it(tiny_partition):
    _, _, res = tiny_partition

    def with_drift(psi: float, p_value: float) -> pl.DataFrame:
        rows = res.metrics.filter(pl.col("component") == "drift").head(2)
        rows = rows.with_columns(
            value=pl.when(pl.col("metric") == "psi").then(psi).otherwise(p_value)
        )
        return pl.concat([res.metrics.filter(pl.col("component") != "drift"), rows])

    assert drift_check_result(with_drift(0.4, 0.3)).passed  # big PSI, explained by noise
    drifted = drift_check_result(with_drift(0.4, 0.001))
    assert not drifted.passed and drifted.metadata["measured"].value is True


def test_unknown_categories_are_counted_and_warned(tiny_partition):
    """A category value training never saw is counted (never silently merged) and a holdout
    full of them warns."""
    from pricing_assets.defs.features import unknown_categories
    from pricing_assets.features import unseen_categories

    feats, _, _ = tiny_partition
    assert unknown_categories(feats).passed  # the tiny world: families and tiers all seen
    renamed = feats.with_columns(
        product_family=pl.when(pl.col("split") == "holdout")
        .then(pl.lit("Brand New Family"))
        .otherwise(pl.col("product_family")),
        family_code=pl.when(pl.col("split") == "holdout")
        .then(-1.0)
        .otherwise(pl.col("family_code")),
    )
    counts = unseen_categories(renamed)
    row = counts.filter((pl.col("column") == "product_family") & (pl.col("split") == "holdout"))
    assert row["share"][0] == 1.0 and "Brand New Family" in row["examples"][0]
    check = unknown_categories(renamed)
    assert not check.passed and check.metadata["worst_column"].value == "product_family"
