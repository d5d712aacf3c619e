"""lead_scores is validated before it is written; drift that measured nothing does not pass."""

from __future__ import annotations

import math

import pytest

from leadconv_assets import scoring
from shared.validation import DataContractError
from tests.leadconv.conftest import scores_frame


def _read(target):
    from leadconv_assets import scores_db

    url, table, history = target
    return scores_db.read_table(url, table), scores_db.read_table(url, history)


def _write(target, frame):
    url, table, history = target
    return scoring.write_scores(url, frame, table=table, history_table=history)


def _with_window(frame):
    import polars as pl

    return frame.with_columns(window_closed=pl.lit(False))


def test_broken_scores_write_nothing_and_name_table_column_rows(target):
    import polars as pl

    _write(target, _with_window(scores_frame([0.1, 0.2, 0.3])))
    before, before_history = _read(target)
    bad = _with_window(scores_frame([0.5, float("nan"), 0.7])).with_columns(
        model_version=pl.Series([None, "2", "2"], dtype=pl.Utf8)
    )
    with pytest.raises(DataContractError) as err:
        _write(target, bad)
    text = str(err.value)
    assert target[1] in text and "score" in text and "model_version" in text
    assert "e1" in text and "e0" in text  # the offending rows
    after, after_history = _read(target)
    assert after.sort("enrollment_id").equals(before.sort("enrollment_id"))
    assert after_history.height == before_history.height


def test_drift_that_measured_nothing_is_a_visible_non_pass():
    none = scoring.drift_verdict({}, {"t1": "no champion", "t2": "no champion"})
    assert not none.passed and not none.measured
    assert none.metadata["measured"] is False and "no champion" in none.description
    no_base = scoring.drift_verdict({}, {"t1": "no champion holdout scores"})
    assert not no_base.passed and not no_base.measured
    nan = scoring.drift_verdict({"t1": math.nan}, {})
    assert not nan.passed and not nan.measured


def test_drift_judges_what_was_measured():
    ok = scoring.drift_verdict({"t1": 0.05}, {"t2": "no champion"})
    assert ok.passed and ok.measured and ok.metadata["psi_t1"] == 0.05
    assert "t2: no champion" in ok.metadata["not_measured"]
    assert not scoring.drift_verdict({"t1": 0.4}, {}).passed
    partial = scoring.drift_verdict({"t1": 0.05}, {"t2": "no champion holdout scores"})
    assert not partial.passed and partial.measured
