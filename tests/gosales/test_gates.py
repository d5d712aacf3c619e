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
