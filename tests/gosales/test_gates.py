"""GoSales promotion gates on hand-made holdout metrics: the champion rules."""

from __future__ import annotations

from datetime import date

import polars as pl

from gosales_assets.config import GateConfig
from gosales_assets.training import promotion_gates


def _metrics(champion_auc: float | None, champion_cutoff: str | None) -> pl.DataFrame:
    base = {"division": "software", "cutoff_date": date(2023, 9, 30), "n": 4000.0}
    rows = [
        {
            **base,
            "model": "candidate",
            "auc": 0.80,
            "auc_se": 0.01,
            "auc_vs_rule_se": 0.01,  # paired standard errors of the differences
            "auc_vs_champion_se": 0.01,
            "positives": 400.0,
            "lift_at_10": 3.0,
            "calibration_mae": 0.02,
        },
        {
            **base,
            "model": "rule",
            "auc": 0.70,
            "auc_se": None,
            "positives": 400.0,
            "lift_at_10": 2.0,
            "calibration_mae": None,
        },
    ]
    if champion_auc is not None:
        rows.append(
            {
                **base,
                "model": "champion",
                "auc": champion_auc,
                "auc_se": None,
                "positives": 400.0,
                "lift_at_10": 3.0,
                "calibration_mae": 0.02,
            }
        )
    return pl.DataFrame(rows).with_columns(champion_cutoff=pl.lit(champion_cutoff, pl.Utf8))


def test_candidate_close_to_an_older_champion_passes():
    assert promotion_gates(_metrics(0.805, "2023-06-30"), GateConfig(), "software").passed


def test_candidate_clearly_worse_than_the_champion_fails():
    report = promotion_gates(_metrics(0.85, "2023-06-30"), GateConfig(), "software")
    assert not report.passed and "auc_vs_champion" in report.summary()


def test_an_older_candidate_never_replaces_a_newer_champion():
    # a backfill of 2023-09-30 while the 2023-12-31 model serves: not compared, refused
    report = promotion_gates(_metrics(None, "2023-12-31"), GateConfig(), "software")
    assert not report.passed
    assert "later cutoff (2023-12-31)" in report.summary()


def _holdout(n: int, intercept: float, slope: float, seed: int):
    """A holdout drawn from known probabilities: ``p = sigmoid(intercept + slope * z)``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(intercept + slope * z)))
    y = (rng.random(n) < p).astype(int)
    rule = z + rng.normal(scale=1.5, size=n)  # a weaker ranking of the same signal
    return pl.DataFrame({"label": y}), p, rule, rng


WORLDS = {
    # name: (intercept, slope) -> base rate, oracle AUC
    "strong": (-2.2, 1.5),  # ~15% positives, oracle AUC ~0.85
    "weak_common": (-1.2, 0.5),  # ~25% positives, oracle AUC ~0.63
    "weak_sparse": (-3.6, 0.7),  # ~3% positives, oracle AUC ~0.69
}


def _verdict(holdout, scores, **cfg):
    from gosales_assets.training import evaluate

    metrics = evaluate(holdout, scores).with_columns(
        cutoff_date=pl.lit(date(2023, 9, 30)), champion_cutoff=pl.lit(None, pl.Utf8)
    )
    return promotion_gates(metrics, GateConfig(**cfg), "any")


def test_true_probabilities_pass_wherever_the_evidence_suffices():
    """The oracle scored as the candidate passes on strong and weak-signal holdouts (AUC
    0.63-0.85, the seed's absolute floors only WARN); repeated over seeds, never refused."""
    for name, (a, b) in WORLDS.items():
        for seed in range(3):
            holdout, p, rule, _ = _holdout(6000, a, b, seed)
            report = _verdict(holdout, {"candidate": p, "rule": rule})
            assert report.passed, (name, seed, report.summary())


def test_bad_models_fail_and_thin_evidence_is_said_so():
    import numpy as np

    for name, (a, b) in WORLDS.items():
        holdout, p, rule, rng = _holdout(6000, a, b, 11)
        shuffled = _verdict(holdout, {"candidate": rng.permutation(p), "rule": rule})
        assert not shuffled.passed and not shuffled.insufficient_evidence, name
        constant = _verdict(holdout, {"candidate": np.full(p.size, p.mean()), "rule": rule})
        assert not constant.passed, name
    holdout, p, rule, _ = _holdout(400, -3.0, 1.0, 5)  # ~20 positives: AUC SE ~0.06
    thin = _verdict(holdout, {"candidate": p, "rule": rule})
    assert not thin.passed and thin.insufficient_evidence
    assert thin.summary().startswith("insufficient evidence")
