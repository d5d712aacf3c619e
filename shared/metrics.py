"""The one metrics module: classification, ranking, calibration and interval metrics.

Inputs are 1-D array-likes of equal length ``n``: ``y`` true labels in {0, 1}
(or real targets for regression), ``p`` predicted probabilities in [0, 1] (or
predictions). Where scikit-learn has the metric we call it; what it lacks
(lift/capture at a fraction, equal-mass calibration error, interval coverage,
binomial intervals) is written here and tested against a reference
computation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
from scipy import stats
from sklearn import metrics as skm


def _arrays(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=float).ravel()
    p_arr = np.asarray(p, dtype=float).ravel()
    if y_arr.shape != p_arr.shape:
        raise ValueError(f"y and p differ in length: {y_arr.shape[0]} vs {p_arr.shape[0]}")
    if y_arr.size == 0:
        raise ValueError("metrics need at least one row")
    return y_arr, p_arr


def _both_classes(y: np.ndarray) -> bool:
    return 0 < y.sum() < y.size


def roc_auc(y: Any, p: Any) -> float:
    """Area under the ROC curve (scikit-learn); NaN when only one class is present."""
    y_arr, p_arr = _arrays(y, p)
    return float(skm.roc_auc_score(y_arr, p_arr)) if _both_classes(y_arr) else math.nan


def pr_auc(y: Any, p: Any) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn).

    NaN when there are no positives.
    """
    y_arr, p_arr = _arrays(y, p)
    return float(skm.average_precision_score(y_arr, p_arr)) if y_arr.sum() > 0 else math.nan


def _top_mask(p: np.ndarray, frac: float) -> np.ndarray:
    """Boolean mask of the top ``ceil(frac * n)`` rows by score.

    Ties are broken by row order (stable sort), so the result is deterministic.
    """
    if not 0 < frac <= 1:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    k = max(1, math.ceil(frac * p.size))
    order = np.argsort(-p, kind="stable")
    mask = np.zeros(p.size, dtype=bool)
    mask[order[:k]] = True
    return mask


def lift_at(y: Any, p: Any, frac: float) -> float:
    """Positive rate among the top ``frac`` of rows by score, divided by the base rate."""
    y_arr, p_arr = _arrays(y, p)
    base = y_arr.mean()
    if base == 0:
        return math.nan
    return float(y_arr[_top_mask(p_arr, frac)].mean() / base)


def capture_at(y: Any, p: Any, frac: float) -> float:
    """Share of all positives found in the top ``frac`` of rows by score."""
    y_arr, p_arr = _arrays(y, p)
    total = y_arr.sum()
    if total == 0:
        return math.nan
    return float(y_arr[_top_mask(p_arr, frac)].sum() / total)


GAINS_FRACS = tuple(round(0.05 * k, 2) for k in range(1, 21))


def gains_table(
    y: Any, scores: dict[str, Any], fracs: tuple[float, ...] = GAINS_FRACS
) -> pl.DataFrame:
    """Cumulative gains (capture) curve per model: ``model, frac, capture``, one row per model
    and top fraction of rows by score (:func:`capture_at`); a random order captures ``frac``."""
    return pl.DataFrame(
        [
            {"model": name, "frac": f, "capture": capture_at(y, p, f)}
            for name, p in scores.items()
            for f in fracs
        ],
        schema={"model": pl.Utf8, "frac": pl.Float64, "capture": pl.Float64},
    )


def brier(y: Any, p: Any) -> float:
    """Mean squared error of probabilities (scikit-learn ``brier_score_loss``)."""
    y_arr, p_arr = _arrays(y, p)
    return float(skm.brier_score_loss(y_arr, p_arr))


def brier_skill(y: Any, p: Any) -> float:
    """Brier skill score ``1 - BS / (pi (1 - pi))`` against the base-rate forecast.

    > 0 means better than always predicting the prevalence ``pi``; NaN when
    only one class is present.
    """
    y_arr, p_arr = _arrays(y, p)
    pi = y_arr.mean()
    ref = pi * (1 - pi)
    return float(1 - brier(y_arr, p_arr) / ref) if ref > 0 else math.nan


def calibration_bins(y: Any, p: Any, n_bins: int = 10) -> pl.DataFrame:
    """Equal-mass reliability table.

    Rows are sorted by ``p`` and split into ``n_bins`` groups of (nearly) equal
    size; equal-width bins leave most bins empty for rare events and make
    binned errors biased for well-calibrated models.

    Returns:
        ``bin`` (0..n_bins-1), ``n``, ``p_min``, ``p_max``, ``mean_pred``,
        ``observed_rate``, ``abs_gap``.
    """
    y_arr, p_arr = _arrays(y, p)
    order = np.argsort(p_arr, kind="stable")
    chunks = np.array_split(order, min(n_bins, y_arr.size))
    rows = [
        {
            "bin": i,
            "n": int(idx.size),
            "p_min": float(p_arr[idx].min()),
            "p_max": float(p_arr[idx].max()),
            "mean_pred": float(p_arr[idx].mean()),
            "observed_rate": float(y_arr[idx].mean()),
        }
        for i, idx in enumerate(chunks)
        if idx.size
    ]
    return pl.DataFrame(rows).with_columns(
        abs_gap=(pl.col("mean_pred") - pl.col("observed_rate")).abs()
    )


def calibration_mae(y: Any, p: Any, n_bins: int = 10) -> float:
    """Row-weighted mean absolute gap between predicted and observed rate over equal-mass bins."""
    bins = calibration_bins(y, p, n_bins)
    n = bins["n"].to_numpy()
    return float((bins["abs_gap"].to_numpy() * n).sum() / n.sum())


def calibration_mae_noise(p: Any, n_bins: int = 10) -> float:
    """Expected :func:`calibration_mae` of a *perfectly calibrated* model scoring ``p``.

    In: probabilities ``p`` (n,), the bins of :func:`calibration_bins`. Out: the MAE
    that sampling noise alone produces, by the normal approximation of each bin's
    observed rate, ``E|rate - mean p| = sqrt(2/pi) * sqrt(sum p(1-p)) / n_bin``
    (row-weighted over bins). A quality bound on calibration MAE should scale with it:
    a holdout of 4,000 rows at 25% prevalence has about 0.017 of pure noise.
    """
    p_arr = np.asarray(p, dtype=float)
    order = np.argsort(p_arr, kind="stable")
    chunks = [c for c in np.array_split(order, min(n_bins, p_arr.size)) if c.size]
    noise = [
        math.sqrt(2 / math.pi) * math.sqrt(float((p_arr[c] * (1 - p_arr[c])).sum())) / c.size
        for c in chunks
    ]
    sizes = np.array([c.size for c in chunks], dtype=float)
    return float((np.array(noise) * sizes).sum() / sizes.sum())


def classification_summary(
    y: Any,
    p: Any,
    fracs: tuple[float, ...] = (0.05, 0.10, 0.20),
    probabilistic: bool = True,
) -> dict[str, float]:
    """Every classification metric salesml reports, as a flat ``{name: float}``.

    ``probabilistic=False`` is for ranking scores that are not probabilities (a
    recency/frequency rule): Brier, Brier skill, calibration MAE and mean
    prediction are then NaN, ranking metrics are computed as usual.
    """
    y_arr, p_arr = _arrays(y, p)
    nan = float("nan")
    out: dict[str, float] = {
        "n": float(y_arr.size),
        "positives": float(y_arr.sum()),
        "prevalence": float(y_arr.mean()),
        "auc": roc_auc(y_arr, p_arr),
        "pr_auc": pr_auc(y_arr, p_arr),
        "brier": brier(y_arr, p_arr) if probabilistic else nan,
        "brier_skill": brier_skill(y_arr, p_arr) if probabilistic else nan,
        "calibration_mae": calibration_mae(y_arr, p_arr) if probabilistic else nan,
        "mean_pred": float(p_arr.mean()) if probabilistic else nan,
    }
    for f in fracs:
        pct = round(f * 100)
        out[f"lift_at_{pct}"] = lift_at(y_arr, p_arr, f)
        out[f"capture_at_{pct}"] = capture_at(y_arr, p_arr, f)
    return out


# --- regression and intervals -------------------------------------------------


def rmse(y: Any, pred: Any) -> float:
    """Root mean squared error (scikit-learn)."""
    y_arr, p_arr = _arrays(y, pred)
    return float(skm.root_mean_squared_error(y_arr, p_arr))


def mae(y: Any, pred: Any) -> float:
    """Mean absolute error (scikit-learn)."""
    y_arr, p_arr = _arrays(y, pred)
    return float(skm.mean_absolute_error(y_arr, p_arr))


def pinball(y: Any, pred: Any, alpha: float) -> float:
    """Mean pinball (quantile) loss at level ``alpha`` (scikit-learn)."""
    y_arr, p_arr = _arrays(y, pred)
    return float(skm.mean_pinball_loss(y_arr, p_arr, alpha=alpha))


def interval_coverage(y: Any, lower: Any, upper: Any) -> float:
    """Share of rows with ``lower <= y <= upper``."""
    y_arr, lo = _arrays(y, lower)
    _, hi = _arrays(y, upper)
    return float(((y_arr >= lo) & (y_arr <= hi)).mean())


def binomial_interval(k: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval for a proportion ``k / n``."""
    if n <= 0:
        return (0.0, 1.0)
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=conf, method="exact")
    return (float(ci.low), float(ci.high))


def binomial_acceptance(target: float, n: int, conf: float = 0.99) -> tuple[float, float]:
    """Range of observed proportions consistent with a true rate ``target`` at size ``n``.

    The central ``conf`` interval of Binomial(n, target) / n: a correct model
    lands inside it with probability at least ``conf``.
    """
    if n <= 0:
        return (0.0, 1.0)
    lo, hi = stats.binom.interval(conf, n, target)
    return (float(lo / n), float(hi / n))


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of an ROC AUC estimate.

    Used to widen gate tolerances on small holdouts (comparing two AUCs on
    the same rows, this is conservative: their errors are positively
    correlated).
    """
    if n_pos <= 0 or n_neg <= 0 or math.isnan(auc):
        return math.nan
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    return float(math.sqrt(max(var, 0.0)))


def bootstrap_standard_error(
    metric: Any, y: Any, p: Any, n_boot: int = 200, seed: int = 0
) -> float:
    """Standard error of ``metric(y, p)`` by resampling rows with replacement.

    For metrics without a closed-form error (PR-AUC as average precision). Fixed
    ``seed``: the same inputs give the same value. Resamples where the metric is
    undefined (NaN, e.g. no positives drawn) are dropped; NaN if fewer than half remain.
    """
    y_arr, p_arr = _arrays(y, p)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, y_arr.size, y_arr.size)
        values.append(metric(y_arr[idx], p_arr[idx]))
    finite = np.asarray([v for v in values if not math.isnan(v)])
    if finite.size < n_boot / 2:
        return math.nan
    return float(finite.std(ddof=1))


def _cluster_rows(groups: Any, n: int) -> list[np.ndarray]:
    """Row indices per cluster (each row its own cluster when ``groups`` is None)."""
    if groups is None:
        return [np.array([i]) for i in range(n)]
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def paired_bootstrap_difference(
    metric: Any,
    y: Any,
    p_a: Any,
    p_b: Any,
    *,
    groups: Any = None,
    n_boot: int = 400,
    seed: int = 0,
) -> tuple[float, float]:
    """``metric(y, p_a) - metric(y, p_b)`` on the same rows and its bootstrap standard error.

    Paired: each resample draws the same rows (or whole ``groups``, e.g. the lines of one
    deal, when given) for both models, so the error of the difference is not inflated by
    the noise the two share. For metrics without a closed-form paired error (PR-AUC,
    lift); scipy.stats.bootstrap resamples rows only, not clusters, hence by hand.
    Out: ``(difference, se)``; se is NaN when fewer than half the resamples are defined.
    """
    y_arr = np.asarray(y, dtype=np.float64)
    a, b = np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)
    diff = float(metric(y_arr, a) - metric(y_arr, b))
    clusters = _cluster_rows(groups, y_arr.size)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(clusters), len(clusters))
        idx = np.concatenate([clusters[i] for i in pick]) if groups is not None else pick
        values.append(metric(y_arr[idx], a[idx]) - metric(y_arr[idx], b[idx]))
    finite = np.asarray([v for v in values if not math.isnan(v)])
    se = float(finite.std(ddof=1)) if finite.size >= n_boot / 2 else math.nan
    return diff, se


def paired_loss_difference(loss_a: Any, loss_b: Any, groups: Any = None) -> tuple[float, float]:
    """Mean of ``loss_a - loss_b`` per row (e.g. absolute errors of two models on the same
    holdout) and its cluster-robust standard error.

    With ``groups`` (e.g. ``deal_id``), rows of one group are not independent: the error
    is the sandwich (ratio-estimator) one over group totals, which reduces to
    ``std(d) / sqrt(n)`` when every row is its own group. Out: ``(mean difference, se)``;
    se is NaN with fewer than two groups.
    """
    d = np.asarray(loss_a, dtype=np.float64) - np.asarray(loss_b, dtype=np.float64)
    if d.size == 0:
        return math.nan, math.nan
    mean = float(d.mean())
    if groups is None:
        return mean, float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    totals = np.bincount(inverse, weights=d - mean)
    g = totals.size
    if g < 2:
        return mean, math.nan
    return mean, float(math.sqrt(g / (g - 1) * np.sum(totals**2)) / d.size)
