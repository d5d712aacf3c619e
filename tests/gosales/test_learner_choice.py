"""Model choice is part of training: the candidate is the better of calibrated LightGBM and
the regularized logistic regression on the calibration slice (neither fitted on it)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from gosales_assets.config import TrainingConfig
from gosales_assets.training import train_candidate

FEATURES = [f"x{i}" for i in range(6)]


def _frame(truth: str, n: int = 6000, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    if truth == "linear":  # a linear logit: logistic regression is the right model
        logit = -1.5 + x[:, 0] - 0.8 * x[:, 1] + 0.6 * x[:, 2]
    else:  # an interaction no linear model can see
        logit = -1.0 + 2.5 * np.sign(x[:, 0] * x[:, 1])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    groups = np.array(["fit", "early_stop", "calibration"])[rng.integers(0, 3, n)]
    return pl.DataFrame(
        {**{f: x[:, i] for i, f in enumerate(FEATURES)}, "label": y, "group": groups}
    )


@pytest.mark.parametrize(
    ("truth", "expected"), [("linear", "logistic"), ("interaction", "lightgbm")]
)
def test_the_better_learner_on_the_validation_slice_is_the_candidate(truth, expected):
    cfg = TrainingConfig(n_estimators=150, min_child_samples=20)
    cand = train_candidate(_frame(truth), FEATURES, cfg)
    stats = cand.train_stats
    assert cand.learner == expected, stats
    winner, loser = (expected, "lightgbm" if expected == "logistic" else "logistic")
    assert stats[f"validation_auc_{winner}"] >= stats[f"validation_auc_{loser}"]
    p = cand.predict(_frame(truth, n=500, seed=9))
    assert ((p > 0) & (p < 1)).all()  # the chosen learner is calibrated and serves
    assert cand.importance["feature"][0] in FEATURES[:3]  # its own importance, truth first


def test_a_training_group_without_positives_is_insufficient_evidence_not_a_crash():
    """A division too sparse to fit (no positive in the calibration group): the candidate is
    the labelled prior rate and the gates refuse it as "insufficient evidence"."""
    from gosales_assets.config import GateConfig
    from gosales_assets.training import NO_MODEL, evaluate, promotion_gates

    train = _frame("linear").with_columns(
        label=pl.when(pl.col("group") == "calibration").then(0).otherwise(pl.col("label"))
    )
    cand = train_candidate(train, FEATURES, TrainingConfig(n_estimators=50))
    assert cand.learner == NO_MODEL and cand.train_stats["calibration_positives"] == 0
    holdout = _frame("linear", n=800, seed=11)
    p = cand.predict(holdout)
    expected = (train["label"].sum() + 1) / (train.height + 2)
    assert np.allclose(p, expected) and 0 < expected < 1
    scores = {"candidate": p, "rule": holdout["x0"].to_numpy()}
    metrics = evaluate(holdout, scores).with_columns(
        training_min_group_positives=pl.when(pl.col("model") == "candidate").then(0.0),
        champion_cutoff=pl.lit(None, pl.Utf8),
    )
    report = promotion_gates(metrics, GateConfig(), "software")
    assert not report.passed and report.insufficient_evidence
    assert [g.name for g in report.failed] == ["training_positives"]
    assert report.summary().startswith("insufficient evidence")


def test_no_positive_at_all_still_gives_a_two_column_prior():
    train = _frame("linear").with_columns(label=pl.lit(0))
    cand = train_candidate(train, FEATURES, TrainingConfig(n_estimators=50))
    assert cand.learner == "prior"
    assert np.allclose(cand.predict(train.head(3)), 1 / (train.height + 2))
