"""Leadconv promotion gates on hand-made holdout metrics (no training)."""

from __future__ import annotations

import polars as pl

from leadconv_assets.config import GateConfig
from leadconv_assets.training import champion_gate, promotion_gates


def _metrics(champion: float | None, se: float = 0.02) -> pl.DataFrame:
    rows = [
        {
            "model": "candidate",
            "pr_auc": 0.30,
            "pr_auc_se": se,
            "pr_auc_diff": 0.05,
            "pr_auc_diff_se": 0.02,
            "brier_skill": 0.05,
            "positives": 80.0,
            "lift_at_10": 2.5,
        },
        {
            "model": "baseline",
            "pr_auc": 0.25,
            "pr_auc_se": None,
            "brier_skill": 0.03,
            "positives": 80.0,
            "lift_at_10": 2.0,
        },
    ]
    if champion is not None:
        rows.append(
            {
                "model": "champion",
                "pr_auc": champion,
                "pr_auc_se": None,
                "brier_skill": 0.05,
                "positives": 80.0,
                "lift_at_10": 2.4,
            }
        )
    return pl.DataFrame(rows)


def test_candidate_within_one_standard_error_of_the_champion_passes():
    g = champion_gate(_metrics(champion=0.31), GateConfig())
    assert g.passed and not g.skipped
    assert g.threshold == 0.31 - 0.02


def test_candidate_clearly_worse_than_the_champion_fails_the_report():
    report = promotion_gates(_metrics(champion=0.35), GateConfig())
    assert not report.passed
    assert any("pr_auc_vs_champion" in r for r in report.reasons())


def test_no_champion_or_disabled_gate_is_skipped_not_failed():
    assert champion_gate(_metrics(champion=None), GateConfig()).skipped
    disabled = champion_gate(_metrics(champion=0.9), GateConfig(beat_champion=False))
    assert disabled.skipped
    assert promotion_gates(_metrics(champion=None), GateConfig()).passed


def test_an_older_candidate_never_replaces_a_newer_champion():
    m = _metrics(champion=None).with_columns(
        cutoff_date=pl.lit("2025-05-31"), champion_cutoff=pl.lit("2025-06-30")
    )
    g = champion_gate(m, GateConfig())
    assert not g.passed and not g.skipped
    assert "later cutoff" in g.detail
    same = m.with_columns(champion_cutoff=pl.lit("2025-05-31"))
    assert champion_gate(same, GateConfig()).skipped  # same cutoff, no champion row: skipped


def test_the_newer_champion_rule_holds_even_with_the_comparison_disabled():
    m = _metrics(champion=None).with_columns(
        cutoff_date=pl.lit("2025-05-31"), champion_cutoff=pl.lit("2025-06-30")
    )
    assert not champion_gate(m, GateConfig(beat_champion=False)).passed


def test_brier_skill_gate_allows_the_holdouts_noise():
    """Weak-signal truth (skill ~0 in expectation, often negative on one holdout) passes
    within one bootstrap SE; a miscalibrated model clearly worse than the base rate fails."""
    import numpy as np

    from leadconv_assets.config import GateConfig
    from leadconv_assets.training import _brier_gate
    from shared.metrics import bootstrap_standard_error, brier_skill

    def gate_for(y, p):
        skill = brier_skill(y, p)
        se = bootstrap_standard_error(brier_skill, y, p, n_boot=100)
        frame = pl.DataFrame(
            {"model": ["candidate"], "brier_skill": [skill], "brier_skill_se": [se]}
        )
        return _brier_gate(frame, GateConfig())

    passes, bare = 0, 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        p = rng.uniform(0.02, 0.06, 1500)
        y = (rng.random(1500) < p).astype(int)
        passes += gate_for(y, p).passed
        bare += brier_skill(y, p) > 0
    assert passes >= 17 and passes > bare  # the bare "> 0" refuses the truth more often
    rng = np.random.default_rng(99)
    p = rng.uniform(0.02, 0.06, 1500)
    y = (rng.random(1500) < p).astype(int)
    assert not gate_for(y, np.full(1500, 0.3)).passed
