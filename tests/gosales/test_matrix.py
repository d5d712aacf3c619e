"""One feature-matrix builder with an explicit missing-feature policy."""

from __future__ import annotations

import polars as pl
import pytest

from gosales_assets.config import TrainingConfig
from gosales_assets.training import matrix


def _frame() -> pl.DataFrame:
    return pl.DataFrame({"customer_id": [1, 2], "f_a": [1.0, 2.0], "cat_x": [1.0, 0.0]})


def test_missing_features_fail_naming_every_column():
    with pytest.raises(KeyError, match=r"2 feature columns.*'f_b', 'f_c'"):
        matrix(_frame(), ["f_a", "f_b", "f_c"])


def test_zero_policy_scores_missing_features_as_zero():
    out = matrix(_frame(), ["f_a", "f_b"], missing="zero")
    assert out.tolist() == [[1.0, 0.0], [2.0, 0.0]]


def test_absent_one_hot_category_is_zero_not_missing():
    out = matrix(_frame(), ["cat_x", "cat_y"])
    assert out.tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_policy_is_configured_and_defaults_to_error():
    assert TrainingConfig().missing_features == "error"
    assert TrainingConfig(missing_features="zero").missing_features == "zero"
    with pytest.raises(ValueError, match="missing_features"):
        TrainingConfig(missing_features="mean")
