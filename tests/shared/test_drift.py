"""shared.drift: PSI with its sampling noise."""

from __future__ import annotations

import numpy as np

from shared.drift import psi


def test_psi_p_value_calibrates_without_drift_and_is_tiny_with_it():
    """Same distribution: a PSI from 40 values is often above 0.25 by chance, yet its
    p-value is below 0.01 for about 1% of stationary samples and never alarms that often.
    A real shift alarms."""
    from shared.drift import psi_alarm, psi_p_value

    rng = np.random.default_rng(0)
    base = rng.normal(size=5000)
    samples = [rng.normal(size=40) for _ in range(100)]
    small = np.array([psi(base, s) for s in samples])
    assert np.mean(small > 0.25) > 0.2  # the bare threshold alarms on noise
    pvals = np.array([psi_p_value(base, s, seed=i) for i, s in enumerate(samples)])
    assert np.mean(pvals < 0.01) <= 0.04
    assert sum(psi_alarm(v, p) for v, p in zip(small, pvals, strict=True)) <= 4
    shifted = rng.normal(loc=1.0, size=2000)
    value, p = psi(base, shifted), psi_p_value(base, shifted)
    assert value > 0.25 and p == 1 / 200 and psi_alarm(value, p)
