"""Population stability index (PSI) with bins fixed on the training baseline.

Conventions: PSI < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 significant.
Bins are the baseline's quantiles (fixed once), so PSI compares like with
like; it still grows with small samples: :func:`psi_p_value` says how likely a PSI this
large is from sampling alone, and :func:`psi_alarm` fires only on a PSI that is both
large and not explained by the sample sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

STABLE, SIGNIFICANT = 0.10, 0.25


def bin_edges(baseline: Any, n_bins: int = 10) -> np.ndarray:
    """Interior quantile edges of the baseline (duplicates removed for discrete data)."""
    base = np.asarray(baseline, dtype=float)
    base = base[np.isfinite(base)]
    if base.size == 0:
        return np.array([])
    qs = np.quantile(base, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.unique(qs)


def psi(baseline: Any, current: Any, n_bins: int = 10, eps: float = 1e-4) -> float:
    """PSI = Σ (c − b) · ln(c / b) over baseline-quantile bins.

    Args:
        baseline: values seen at training time (1-D).
        current: values seen now (1-D).
        n_bins: number of quantile bins fitted on the baseline.
        eps: floor on bin shares so empty bins do not give infinities.
    """
    base, cur = _finite(baseline), _finite(current)
    if base.size == 0 or cur.size == 0:
        return float("nan")
    edges = bin_edges(base, n_bins)
    return _psi_of_counts(_counts(edges, base), _counts(edges, cur), eps)


def _finite(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr)]


def _counts(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)


def _psi_of_counts(b: np.ndarray, c: np.ndarray, eps: float = 1e-4) -> float:
    b_share = np.maximum(b / b.sum(), eps)
    c_share = np.maximum(c / c.sum(), eps)
    return float(np.sum((c_share - b_share) * np.log(c_share / b_share)))


def psi_p_value(
    baseline: Any, current: Any, n_bins: int = 10, n_resamples: int = 199, seed: int = 0
) -> float:
    """P(PSI >= observed) when the current values come from the baseline's distribution.

    Monte Carlo under that null: ``n_resamples`` samples of the current size drawn from
    the baseline, each scored like the real one, ``p = (C + 1) / (n + 1)``. The χ²
    approximation of PSI does not hold for small samples (an empty bin adds ~0.7 through
    the ``eps`` floor), which is exactly where a bare threshold misfires: with 40 current
    values a PSI above 0.25 is common from sampling alone. NaN when nothing was measured.
    """
    base, cur = _finite(baseline), _finite(current)
    if base.size == 0 or cur.size == 0:
        return float("nan")
    edges = bin_edges(base, n_bins)
    b = _counts(edges, base)
    observed = _psi_of_counts(b, _counts(edges, cur))
    rng = np.random.default_rng(seed)
    null = [
        _psi_of_counts(b, _counts(edges, rng.choice(base, cur.size))) for _ in range(n_resamples)
    ]
    return float((np.sum(np.asarray(null) >= observed) + 1) / (n_resamples + 1))


def psi_alarm(value: float, p_value: float, alpha: float = 0.01) -> bool:
    """Drift worth acting on: PSI above ``SIGNIFICANT`` *and* p-value below ``alpha``."""
    return bool(value > SIGNIFICANT and p_value < alpha)


def psi_label(value: float) -> str:
    """``stable`` / ``moderate`` / ``significant`` by the usual conventions."""
    if np.isnan(value):
        return "unknown"
    if value < STABLE:
        return "stable"
    return "moderate" if value <= SIGNIFICANT else "significant"


def psi_frame(
    baseline: pl.DataFrame, current: pl.DataFrame, columns: Sequence[str], n_bins: int = 10
) -> pl.DataFrame:
    """PSI per column: ``feature``, ``psi``, ``status``, ``n_baseline``, ``n_current``,
    ``p_value`` (:func:`psi_p_value`) and ``alarm`` (:func:`psi_alarm`)."""
    rows = []
    for col in columns:
        b, c = baseline[col].to_numpy(), current[col].to_numpy()
        value, p_value = psi(b, c, n_bins), psi_p_value(b, c, n_bins)
        rows.append(
            {
                "feature": col,
                "psi": value,
                "status": psi_label(value),
                "n_baseline": baseline.height,
                "n_current": current.height,
                "p_value": p_value,
                "alarm": psi_alarm(value, p_value),
            }
        )
    return pl.DataFrame(rows, schema_overrides={"psi": pl.Float64, "p_value": pl.Float64})
