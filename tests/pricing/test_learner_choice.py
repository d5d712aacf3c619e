"""Model choice is part of pricing training: the point candidate is the better of LightGBM
and ridge on the validation slice, by the squared error both are trained for."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pricing_assets.config import ModelSettings
from pricing_assets.features import FEATURES
from pricing_assets.justify import top_drivers
from pricing_assets.models import fit_point_models, point_metrics


def _lines(truth: str, n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    if truth == "linear":  # a linear discount: ridge is the right model
        mean = 0.20 + 0.04 * x[:, 1] - 0.03 * x[:, 2] + 0.02 * x[:, 4]
    else:  # an interaction no linear model can see
        mean = 0.20 + 0.08 * np.sign(x[:, 1] * x[:, 2])
    x[rng.random(n) < 0.2, -1] = np.nan  # missing customer context, as on new customers
    frame = {f: x[:, i] for i, f in enumerate(FEATURES)}
    return pl.DataFrame(
        {
            **frame,
            "discount": mean + rng.normal(0, 0.03, n),
            "product_family": rng.choice(["a", "b"], n),
            "customer_tier": rng.choice(["gold", "silver"], n),
            "deal_id": np.arange(n) // 3,
        }
    )


@pytest.mark.parametrize(("truth", "expected"), [("linear", "ridge"), ("interaction", "lightgbm")])
def test_the_lower_validation_mse_learner_is_the_point_candidate(truth, expected):
    settings = ModelSettings(n_estimators=150, rf_estimators=20)
    point = fit_point_models(_lines(truth, 3000, 1), settings, validation=_lines(truth, 1000, 2))
    other = "lightgbm" if expected == "ridge" else "ridge"
    assert point.learner == expected, point.validation_mse
    assert point.validation_mse[expected] < point.validation_mse[other]
    holdout = _lines(truth, 1000, 3)
    metrics = point_metrics(point, holdout)
    assert metrics["model"][0] == expected  # the chosen learner first, with the rule comparison
    y = holdout["discount"].to_numpy()
    assert np.isclose(metrics["mse"][0], np.mean((point.predict(holdout) - y) ** 2))
    assert metrics["mse_vs_rule_diff"][0] < 0  # it beats the segment median on either truth
    drivers = top_drivers(point, holdout.with_row_index("order_line_id").head(40))
    # the chosen learner's own additive explanation sums to its prediction
    np.testing.assert_allclose(drivers["predicted_discount"], point.predict(holdout.head(40)))
    assert drivers["driver_1"].is_in(FEATURES[1:5]).mean() > 0.9  # the planted drivers


def test_without_validation_rows_lightgbm_stays_the_candidate():
    point = fit_point_models(
        _lines("linear", 800, 4), ModelSettings(n_estimators=50, rf_estimators=10)
    )
    assert point.learner == "lightgbm" and point.validation_mse is None
