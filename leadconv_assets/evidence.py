"""The noise-aware ``pr_auc_vs_baseline`` gate: evidence, not luck.

On one holdout, ``d = PR-AUC(candidate) - PR-AUC(rules baseline)`` is measured with its paired
bootstrap standard error ``se`` (``shared.metrics.paired_bootstrap_difference``: the same
resampled rows for both models). With ``margin = (pr_auc_ratio_min - 1) * baseline`` (the
business floor, +5% relative by default) and ``z = evidence_z``:

* **insufficient evidence** — fewer than ``min_holdout_positives`` holdout positives, no
  standard error, ``se > max_pr_auc_se``, or the interval ``d ± z·se`` cannot tell a model that
  reaches the floor from one that does not. Fails (nothing is promoted on it) but is not a
  verdict on the model: more holdout data, not a new model, is what it asks for;
* **bad model** — ``d + z·se < margin``: the candidate is short of the floor beyond noise;
* **pass** — the observed ratio reaches ``pr_auc_ratio_min`` and ``d - z·se > min(0, margin)``:
  better than the baseline beyond noise (with a floor below 1, not worse than it allows).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import polars as pl

from shared.gates import INSUFFICIENT, Gate, metric_of
from shared.metrics import paired_bootstrap_difference, pr_auc

if TYPE_CHECKING:
    from leadconv_assets.config import GateConfig

# INSUFFICIENT: one wording for every location, from shared.gates
BAD_MODEL = "bad model"
NAME = "pr_auc_vs_baseline"


def paired_pr_auc_columns(
    y: Any, p_candidate: Any, p_baseline: Any, gates: GateConfig, seed: int
) -> dict[str, float]:
    """``pr_auc_diff`` (candidate - baseline) and its paired bootstrap ``pr_auc_diff_se``."""
    diff, se = paired_bootstrap_difference(
        pr_auc, y, p_candidate, p_baseline, n_boot=gates.bootstrap_n, seed=seed
    )
    return {"pr_auc_diff": diff, "pr_auc_diff_se": se}


def verdict(
    cand: float, base: float, diff: float, se: float, positives: float, gates: GateConfig
) -> tuple[str, str]:
    """``(verdict, reason)``: verdict one of ``pass``, :data:`BAD_MODEL`, :data:`INSUFFICIENT`."""
    z = gates.evidence_z
    if math.isnan(positives) or positives < gates.min_holdout_positives:
        return INSUFFICIENT, (
            f"{positives:.0f} holdout positives < {gates.min_holdout_positives}: too few to judge"
        )
    if any(math.isnan(v) for v in (cand, base, diff)) or math.isnan(se):
        return INSUFFICIENT, "no paired standard error measured: not compared"
    if se > gates.max_pr_auc_se:
        return INSUFFICIENT, f"paired SE {se:.4f} > max_pr_auc_se {gates.max_pr_auc_se:.4f}"
    margin = (gates.pr_auc_ratio_min - 1) * base
    lo, hi = diff - z * se, diff + z * se
    ratio = cand / base if base > 0 else math.inf
    interval = f"difference {diff:+.4f}, {z:g} SE interval [{lo:+.4f}, {hi:+.4f}]"
    if ratio >= gates.pr_auc_ratio_min and lo > min(0.0, margin):
        return "pass", f"{interval} clears {min(0.0, margin):+.4f}"
    if hi < margin:
        return BAD_MODEL, f"{interval} is below the floor {margin:+.4f} beyond noise"
    return INSUFFICIENT, f"{interval} cannot tell whether the floor {margin:+.4f} is reached"


def baseline_gate(metrics: pl.DataFrame, gates: GateConfig) -> Gate:
    """The ``pr_auc_vs_baseline`` gate from a holdout-metrics frame (rows ``candidate`` with
    ``pr_auc``, ``positives``, ``pr_auc_diff``, ``pr_auc_diff_se``; ``baseline`` with ``pr_auc``).
    Its value is the ratio candidate / baseline; ``verdict`` names the state."""
    cand = metric_of(metrics, "candidate", "pr_auc")
    base = metric_of(metrics, "baseline", "pr_auc")
    diff = metric_of(metrics, "candidate", "pr_auc_diff")
    se = metric_of(metrics, "candidate", "pr_auc_diff_se")
    positives = metric_of(metrics, "candidate", "positives")
    state, reason = verdict(cand, base, diff, se, positives, gates)
    ratio = cand / base if base and not math.isnan(base) else math.nan
    detail = f"candidate {cand:.4f} / rules baseline {base:.4f}; {reason}"
    return Gate(
        NAME,
        ratio,
        ">=",
        gates.pr_auc_ratio_min,
        state == "pass",
        detail,
        verdict={"pass": "", BAD_MODEL: f"FAIL ({BAD_MODEL})"}.get(state, state),
    )
