"""shared.metrics against scikit-learn and hand-computed references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from shared import metrics as M


@pytest.fixture
def sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=2000)
    y = (rng.uniform(size=2000) < p).astype(int)
    return y, p


def test_auc_pr_brier_match_sklearn(sample):
    y, p = sample
    assert M.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p))
    assert M.pr_auc(y, p) == pytest.approx(skm.average_precision_score(y, p))
    assert M.brier(y, p) == pytest.approx(skm.brier_score_loss(y, p))
    assert M.rmse(y, p) == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)))
    assert M.mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p))
    assert M.pinball(y, p, 0.9) == pytest.approx(skm.mean_pinball_loss(y, p, alpha=0.9))


def test_lift_and_capture_reference():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    # top 20% = 2 rows (0.9, 0.8): 1 positive of 3; base rate 0.3
    assert M.capture_at(y, p, 0.2) == pytest.approx(1 / 3)
    assert M.lift_at(y, p, 0.2) == pytest.approx((1 / 2) / 0.3)
    assert M.capture_at(y, p, 1.0) == pytest.approx(1.0)


def test_brier_skill_zero_for_base_rate_forecast(sample):
    y, _ = sample
    assert M.brier_skill(y, np.full(y.size, y.mean())) == pytest.approx(0.0, abs=1e-12)
    assert M.brier_skill(y, y.astype(float)) == pytest.approx(1.0)


def test_calibration_mae_equal_mass(sample):
    y, p = sample
    bins = M.calibration_bins(y, p, 10)
    assert bins.height == 10 and set(bins["n"].to_list()) == {200}
    order = np.argsort(p, kind="stable")
    ref = np.mean([abs(p[i].mean() - y[i].mean()) for i in np.array_split(order, 10)])
    assert M.calibration_mae(y, p) == pytest.approx(ref)
    # a calibrated forecast has a small error, a shifted one a large error
    assert M.calibration_mae(y, p) < 0.05
    assert M.calibration_mae(y, np.clip(p + 0.2, 0, 1)) > 0.15


def test_single_class_gives_nan_not_zero():
    assert math.isnan(M.roc_auc([0, 0, 0], [0.1, 0.2, 0.3]))
    assert math.isnan(M.pr_auc([0, 0], [0.1, 0.2]))
    assert math.isnan(M.lift_at([0, 0], [0.1, 0.2], 0.5))


def test_interval_coverage_and_binomial():
    y = np.arange(10.0)
    assert M.interval_coverage(y, y - 1, y + 1) == 1.0
    assert M.interval_coverage(y, y + 0.5, y + 1) == 0.0
    lo, hi = M.binomial_interval(90, 100, 0.95)
    assert lo < 0.9 < hi
    alo, ahi = M.binomial_acceptance(0.9, 10_000, 0.99)
    assert 0.89 < alo < 0.9 < ahi < 0.91


def test_auc_standard_error_shrinks_with_n():
    assert M.auc_standard_error(0.8, 1000, 9000) < M.auc_standard_error(0.8, 50, 450)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=5, max_size=200), st.floats(0.01, 1.0))
def test_capture_is_monotone_in_fraction(ps, frac):
    p = np.array(ps)
    y = (p > 0.5).astype(int)
    if y.sum() == 0:
        return
    assert M.capture_at(y, p, frac) <= M.capture_at(y, p, min(1.0, frac + 0.2)) + 1e-12


def test_bootstrap_standard_error_matches_the_analytic_one_for_a_mean():
    rng = np.random.default_rng(1)
    p = rng.normal(size=1000)
    y = np.zeros_like(p)

    def mean(_y, v):
        return float(np.mean(v))

    se = M.bootstrap_standard_error(mean, y, p, n_boot=400, seed=3)
    assert se == pytest.approx(p.std(ddof=1) / math.sqrt(p.size), rel=0.15)
    assert se == M.bootstrap_standard_error(mean, y, p, n_boot=400, seed=3)  # deterministic


def test_bootstrap_standard_error_of_pr_auc(sample):
    y, p = sample
    small = M.bootstrap_standard_error(M.pr_auc, y[:200], p[:200])
    large = M.bootstrap_standard_error(M.pr_auc, y, p)
    assert 0 < large < small < 0.1
    assert math.isnan(M.bootstrap_standard_error(M.pr_auc, np.zeros(50), p[:50]))


def test_calibration_mae_noise_matches_simulated_perfect_models():
    """The noise estimate equals the mean MAE of perfectly calibrated simulated labels,
    and twice it is above the 99.9% quantile (what test_quality's bound relies on)."""
    from shared.metrics import calibration_mae, calibration_mae_noise

    rng = np.random.default_rng(0)
    for n, a, b in [(4000, 2, 6), (1000, 2, 2)]:
        p = rng.beta(a, b, n)
        maes = [calibration_mae((rng.uniform(size=n) < p).astype(int), p) for _ in range(300)]
        noise = calibration_mae_noise(p)
        assert abs(np.mean(maes) - noise) < 0.1 * noise
        assert np.quantile(maes, 0.999) < 2 * noise
    # a model off by 0.08 everywhere is outside test_quality's bound
    p = rng.beta(2, 6, 4000)
    y = (rng.uniform(size=4000) < p).astype(int)
    assert calibration_mae(y, np.clip(p + 0.08, 0, 1)) > 0.01 + 2.5 * calibration_mae_noise(p)


def test_stable_hash_is_fixed_text_based_and_uniform():
    from shared.hashing import stable_bucket, stable_unit_hash

    u = stable_unit_hash([1, "1", "0001", 2], seed=7)
    assert u[0] == u[1] and u[2] != u[0] and u[3] != u[0]
    # pinned values: a change of library or platform must not move a split
    assert stable_unit_hash([42], seed=7)[0] == pytest.approx(float(stable_unit_hash(["42"], 7)[0]))
    assert stable_unit_hash(range(5), 0).round(6).tolist() == [
        0.557743,
        0.0421,
        0.232199,
        0.900445,
        0.638819,
    ]
    big = stable_unit_hash(range(20_000), seed=3)
    assert big.min() >= 0.0 and big.max() < 1.0 and abs(big.mean() - 0.5) < 0.01
    folds = stable_bucket(range(20_000), 3, 5)
    assert set(folds.tolist()) == {0, 1, 2, 3, 4}
    assert np.bincount(folds).min() > 3_800


def test_paired_loss_difference_without_groups_is_the_standard_error_of_the_mean():
    rng = np.random.default_rng(3)
    a, b = rng.exponential(1.0, 500), rng.exponential(1.1, 500)
    mean, se = M.paired_loss_difference(a, b)
    d = a - b
    assert mean == pytest.approx(d.mean())
    assert se == pytest.approx(d.std(ddof=1) / np.sqrt(d.size))


def test_paired_loss_difference_widens_for_correlated_groups():
    """Rows of one deal share their error: the clustered SE is the SE over deals, not rows."""
    rng = np.random.default_rng(4)
    deal_effect = np.repeat(rng.normal(0, 1, 100), 10)  # 100 deals x 10 lines
    d = deal_effect + rng.normal(0, 0.1, 1000)
    groups = np.repeat(np.arange(100), 10)
    _, naive = M.paired_loss_difference(d, np.zeros_like(d))
    _, clustered = M.paired_loss_difference(d, np.zeros_like(d), groups)
    per_deal = d.reshape(100, 10).mean(axis=1)
    assert clustered == pytest.approx(per_deal.std(ddof=1) / 10, rel=0.05)
    assert clustered > 2.5 * naive


def test_paired_bootstrap_difference_is_paired_and_clusters():
    """Two near-identical models: the paired SE of their AUC difference is far below
    either AUC's own SE; cluster resampling is exercised and finite."""
    rng = np.random.default_rng(5)
    y = (rng.random(2000) < 0.2).astype(int)
    p = y * 0.3 + rng.random(2000)
    q = p + rng.normal(0, 0.01, 2000)
    diff, se = M.paired_bootstrap_difference(M.roc_auc, y, p, q, n_boot=200)
    assert diff == pytest.approx(M.roc_auc(y, p) - M.roc_auc(y, q))
    assert se < 0.2 * M.auc_standard_error(M.roc_auc(y, p), int(y.sum()), int((1 - y).sum()))
    _, se_g = M.paired_bootstrap_difference(
        M.pr_auc, y, p, q, groups=np.arange(2000) // 4, n_boot=100
    )
    assert np.isfinite(se_g) and se_g > 0
