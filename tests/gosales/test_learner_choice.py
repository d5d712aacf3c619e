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
