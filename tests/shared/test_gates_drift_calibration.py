"""Gates, PSI and calibration."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from shared.calibration import choose_method, fit_calibrator
from shared.drift import psi, psi_label
from shared.gates import GateReport, coverage_tolerance, gate, skipped_gate
from shared.metrics import calibration_mae


def test_gate_report_reasons_and_roundtrip():
    report = GateReport(
        [
            gate("auc", 0.65, ">=", 0.70),
            gate("lift", 3.0, ">=", 2.0),
            skipped_gate("champ", "none yet"),
        ]
    )
    assert not report.passed
    assert report.reasons() == ["auc: 0.65 >= 0.7 -> FAIL"]
    assert GateReport.from_dict(report.to_dict()).to_dict() == report.to_dict()
    assert not gate("x", math.nan, ">=", 0).passed


def test_a_named_verdict_shows_in_sentence_markdown_and_roundtrip():
    import dataclasses

    g = dataclasses.replace(
        gate("evidence", 1.2, ">=", 1.05), passed=False, verdict="insufficient evidence"
    )
    report = GateReport.of([g, gate("ok", 1.0, ">=", 0.5)])
    assert "-> insufficient evidence" in g.sentence() and "FAIL" not in g.sentence()
    assert (
        "**insufficient evidence**" in report.to_markdown() and "FAIL" not in report.to_markdown()
    )
    assert not report.passed and report.failed == [g]
    assert GateReport.from_dict(report.to_dict()) == report
    assert gate("plain", 0.1, ">=", 0.5).result() == "FAIL"


def test_coverage_tolerance_widens_for_small_holdouts():
    lo_big, hi_big = coverage_tolerance(100_000, 0.9, 0.02)
    lo_small, hi_small = coverage_tolerance(100, 0.9, 0.02)
    assert (lo_big, hi_big) == (0.88, 0.92)
    assert lo_small < 0.88 and hi_small > 0.92


def test_psi_zero_for_same_distribution_and_large_for_shift():
    rng = np.random.default_rng(1)
    base = rng.normal(size=20_000)
    assert psi(base, rng.normal(size=20_000)) < 0.01
    shifted = psi(base, rng.normal(loc=1.0, size=20_000))
    assert shifted > 0.25 and psi_label(shifted) == "significant"


def test_calibration_fixes_a_miscalibrated_model():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6000, 3))
    p = 1 / (1 + np.exp(-(X[:, 0] * 2 - 1)))
    y = (rng.uniform(size=6000) < p).astype(int)
    model = LogisticRegression(C=1e-4).fit(
        X[:3000], y[:3000]
    )  # over-regularized: squashed probabilities
    raw = model.predict_proba(X[4000:])[:, 1]
    cal, method = fit_calibrator(model, X[3000:4000], y[3000:4000])
    fixed = cal.predict_proba(X[4000:])[:, 1]
    assert method == choose_method(int(y[3000:4000].sum()))
    assert calibration_mae(y[4000:], fixed) < calibration_mae(y[4000:], raw)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_sigmoid_calibration_is_monotone(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 2))
    y = (rng.uniform(size=400) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    if y[200:].sum() in (0, 200):
        return
    model = LogisticRegression().fit(X[:200], y[:200])
    cal, _ = fit_calibrator(model, X[200:], y[200:], method="sigmoid")
    grid = np.column_stack([np.linspace(-3, 3, 50), np.zeros(50)])
    raw, out = model.predict_proba(grid)[:, 1], cal.predict_proba(grid)[:, 1]
    order = np.argsort(raw)
    assert np.all(np.diff(out[order]) >= -1e-12) or np.all(np.diff(out[order]) <= 1e-12)
