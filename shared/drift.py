"""Population stability index (PSI) with bins fixed on the training baseline.

Conventions: PSI < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 significant.
Bins are the baseline's quantiles (fixed once), so PSI compares like with
like; it still grows with small samples, so report counts beside it.
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
    base = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    base, cur = base[np.isfinite(base)], cur[np.isfinite(cur)]
    if base.size == 0 or cur.size == 0:
        return float("nan")
    edges = bin_edges(base, n_bins)
    b = np.bincount(np.searchsorted(edges, base, side="right"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    b_share = np.maximum(b / b.sum(), eps)
    c_share = np.maximum(c / c.sum(), eps)
    return float(np.sum((c_share - b_share) * np.log(c_share / b_share)))


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
    """PSI per column: ``feature``, ``psi``, ``status``, ``n_baseline``, ``n_current``."""
    rows = []
    for col in columns:
        value = psi(baseline[col].to_numpy(), current[col].to_numpy(), n_bins)
        rows.append(
            {
                "feature": col,
                "psi": value,
                "status": psi_label(value),
                "n_baseline": baseline.height,
                "n_current": current.height,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"psi": pl.Float64})
