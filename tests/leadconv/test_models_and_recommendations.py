"""On the demo world: the recommender finds the planted variants; champion vs baseline vs oracle PR-AUC."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import polars as pl
import pytest

from leadconv_assets import clean, extract, features, labels, recommend, training
from leadconv_assets.config import end_of_day, load_config
from leadconv_assets.world import HARMFUL, HELPFUL, generate_world


@lru_cache(maxsize=1)
def _demo():
    cfg = load_config()  # the packaged config describes the demo world
    world = generate_world(cfg.world_size, cfg.world_seed)
    tables, _ = clean.clean_tables(extract.quality_gates(world.tables()))
    return cfg, world, tables


def test_recommender_ranks_planted_harmful_worst_and_finds_helpful():
    cfg, world, tables = _demo()
    as_of = world.as_of
    lbl = {t: labels.labels_for(cfg, tables, t, as_of) for t in cfg.targets}
    effects = recommend.estimate_effects(tables, lbl, as_of)
    for target in cfg.targets:
        eff = effects.filter(pl.col("target") == target)
        worst = eff.sort("rank_worst").row(0, named=True)
        assert worst["step_id"] == HARMFUL, f"{target}: worst is {worst['step_id']}"
        assert worst["ci_high"] < 0
        # the most negative effect too, not only the largest impact
        assert eff.sort("effect").row(0, named=True)["step_id"] == HARMFUL
    t1 = effects.filter(pl.col("target") == "booked_call_within_7d")
    helpful = t1.filter(pl.col("step_id") == HELPFUL).row(0, named=True)
    assert helpful["ci_low"] > 0
    harmful = t1.filter(pl.col("step_id") == HARMFUL).row(0, named=True)
    # adjustment matters: raw differences understate both planted effects (confounded assignment)
    truth = world.true_effects.filter(pl.col("target") == "booked_call_within_7d")
    true_h = truth.filter(pl.col("step_id") == HARMFUL)["true_risk_difference"][0]
    true_g = truth.filter(pl.col("step_id") == HELPFUL)["true_risk_difference"][0]
    assert abs(harmful["effect"] - true_h) < abs(harmful["raw_diff"] - true_h)
    assert abs(helpful["effect"] - true_g) < abs(helpful["raw_diff"] - true_g)
    assert harmful["ci_low"] <= true_h <= harmful["ci_high"]
    assert helpful["sample_size_per_arm"] > 0

    recs = recommend.recommendations(effects)
    first = recs.filter(pl.col("target") == "booked_call_within_7d").row(0, named=True)
    assert first["step_id"] == HARMFUL and "tmpl_sms_urgent" in first["recommendation"]
    assert "per arm" in first["experiment"]
    report = recommend.report_markdown(effects, recs, as_of)
    assert "Nothing is changed automatically" in report and HARMFUL in report


@pytest.mark.parametrize("target", ["booked_call_within_7d", "conversion_within_30d"])
def test_champion_beats_baseline_and_trails_oracle(target):
    cfg, world, tables = _demo()
    cutoff = max(cfg.cutoffs)
    as_of = end_of_day(cutoff)
    feats = features.build_features(tables, as_of, cfg.feature_window)
    res = training.fit_and_evaluate(
        feats, labels.labels_for(cfg, tables, target, as_of), cfg, target, cutoff, world.truth
    )
    pr = {m: training.metric(res.metrics, m, "pr_auc") for m in ("candidate", "baseline", "oracle")}
    print(target, {k: round(v, 4) for k, v in pr.items()})
    assert pr["candidate"] >= cfg.gates.pr_auc_ratio_min * pr["baseline"]
    assert pr["oracle"] > pr["candidate"]
    assert training.promotion_gates(res.metrics, cfg.gates).passed
    # out of time with an embargo at least as long as the label window
    window = timedelta(days=cfg.target(target).window_days)
    train_ids = res.train_ids.join(feats, on=["org_id", "enrollment_id"])
    assert train_ids["first_engagement_at"].max() + window <= res.split.holdout_start
    assert res.holdout["first_engagement_at"].min() > res.split.holdout_start
    assert res.holdout["first_engagement_at"].max() + window <= as_of


def test_missing_feature_at_scoring_fails_unless_the_policy_says_zero():
    import polars as pl
    import pytest

    from leadconv_assets.training import MissingFeaturesError, matrix

    frame = pl.DataFrame({"a": [1.0, None], "b": [2, 3]})
    with pytest.raises(MissingFeaturesError, match=r"\['c'\]"):
        matrix(frame, ["a", "c", "b"])
    X = matrix(frame, ["a", "c", "b"], missing="zero")
    assert X[:, 1].tolist() == [0.0, 0.0] and X[0].tolist() == [1.0, 0.0, 2.0]
    assert matrix(frame, ["b", "a"]).shape == (2, 2)
