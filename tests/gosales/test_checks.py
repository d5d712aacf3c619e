"""Checks that measured nothing must not read as passed."""

from __future__ import annotations

import polars as pl
import pytest

from gosales_assets.config import load_config
from gosales_assets.defs import build_assets


class _NoBaseline:
    def holdout_scores(self, run_id):
        return None


@pytest.fixture(scope="module")
def score_drift():
    _, checks, _ = build_assets(load_config())
    return next(c for c in checks if any(k.name == "score_drift" for k in c.check_keys))


@pytest.mark.parametrize(
    ("scores", "reason"),
    [
        (pl.DataFrame({"run_id": [], "icp_score": []}), "nothing scored"),
        (
            pl.DataFrame({"run_id": ["r1"], "icp_score": [0.3], "model_version": ["1"]}),
            "drift not measured",
        ),
    ],
)
def test_score_drift_not_measured_is_a_visible_non_pass(score_drift, scores, reason):
    result = score_drift(tracker=_NoBaseline(), icp_scores=scores)
    assert result.passed is False
    assert result.severity.value == "WARN"
    assert result.metadata["measured"].value is False
    assert reason in result.metadata["reason"].value
