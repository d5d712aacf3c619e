"""Calibrated probabilities stay strictly inside (0, 1) without worsening calibration."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from gosales_assets.training import bound_isotonic
from shared.calibration import fit_calibrator
from shared.metrics import calibration_mae


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=40, max_value=400),
    seed=st.integers(min_value=0, max_value=2**16),
    slope=st.floats(min_value=0.5, max_value=8.0),
)
def test_isotonic_outputs_are_strictly_inside_0_1(n, seed, slope):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1))
    y = (rng.random(n) < 1 / (1 + np.exp(-slope * x[:, 0]))).astype(int)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    model = LogisticRegression().fit(x, y)
    cal, method = fit_calibrator(model, x, y, method="isotonic")
    assert method == "isotonic"
    before = cal.predict_proba(x)[:, 1]
    eps = bound_isotonic(cal, n)
    assert eps == 1 / (2 * (n + 1))
    after = cal.predict_proba(x)[:, 1]
    assert (after > 0).all() and (after < 1).all()
    # clipping moves each probability by at most eps, so the MAE moves by at most eps
    assert np.abs(after - before).max() <= eps + 1e-12
    assert calibration_mae(y, after) <= calibration_mae(y, before) + eps + 1e-12
    # far outside the calibration range, too
    extreme = cal.predict_proba(np.array([[-1e6], [1e6]]))[:, 1]
    assert (extreme > 0).all() and (extreme < 1).all()
