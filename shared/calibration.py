"""Probability calibration of an already-fitted classifier.

Platt scaling (sigmoid) below about ``isotonic_min_positives`` positives in the
calibration set, isotonic regression above: isotonic is a step function with
as many steps as the data allow and overfits small calibration sets.
scikit-learn 1.9 removed ``cv="prefit"``; a fitted model is wrapped in
:class:`sklearn.frozen.FrozenEstimator` instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

METHODS = ("sigmoid", "isotonic")


def choose_method(n_positives: int, isotonic_min_positives: int = 1000) -> str:
    """``isotonic`` when there are enough positives to support it, else ``sigmoid``."""
    return "isotonic" if n_positives >= isotonic_min_positives else "sigmoid"


def fit_calibrator(
    fitted_model: Any,
    X_cal: Any,
    y_cal: Any,
    method: str = "auto",
    isotonic_min_positives: int = 1000,
) -> tuple[CalibratedClassifierCV, str]:
    """Calibrate ``fitted_model`` on a held-out calibration set.

    Args:
        fitted_model: a fitted classifier with ``predict_proba``.
        X_cal: calibration features (rows not used to fit the model), shape (n, k).
        y_cal: calibration labels in {0, 1}, shape (n,).
        method: ``auto`` (by volume), ``sigmoid`` or ``isotonic``.
        isotonic_min_positives: volume threshold for ``auto``.

    Returns:
        The calibrated classifier (its ``predict_proba`` gives calibrated
        probabilities) and the method used.
    """
    y = np.asarray(y_cal).ravel()
    if method == "auto":
        method = choose_method(int(y.sum()), isotonic_min_positives)
    if method not in METHODS:
        raise ValueError(f"calibration method must be auto, sigmoid or isotonic, got {method!r}")
    if y.sum() == 0 or y.sum() == y.size:
        raise ValueError("calibration set needs both classes; widen the calibration slice")
    cal = CalibratedClassifierCV(FrozenEstimator(fitted_model), method=method)
    cal.fit(X_cal, y)
    return cal, method
