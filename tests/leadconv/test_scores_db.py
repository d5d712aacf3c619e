"""lead_scores upsert: idempotency, history, dry run, split and transactional failure (DuckDB and PostgreSQL)."""

from __future__ import annotations

import polars as pl
import pytest

from leadconv_assets import scores_db
from tests.leadconv.conftest import scores_frame as _frame


def _upsert(target, frame, **kw):
    url, table, history = target
    return scores_db.upsert_scores(url, frame, table=table, history_table=history, **kw)


def _read(target):
    url, table, history = target
    return scores_db.read_table(url, table), scores_db.read_table(url, history)


def test_dry_run_writes_nothing(target):
    res = _upsert(target, _frame([0.1, 0.2, 0.3]), dry_run=True)
    assert (res.inserted, res.updated, res.history_appended, res.dry_run) == (3, 0, 0, True)
    scores, history = _read(target)
    assert scores.height == 0 and history.height == 0


def test_upsert_is_idempotent_and_keeps_history(target):
    first = _upsert(target, _frame([0.1, 0.2, 0.3]))
    assert (first.inserted, first.updated, first.history_appended) == (3, 0, 3)
    again = _upsert(target, _frame([0.1, 0.2, 0.3]))
    assert (again.inserted, again.updated, again.unchanged, again.history_appended) == (0, 0, 3, 0)
    before_scores, before_history = _read(target)

    changed = _frame([0.1, 0.25, 0.3, 0.9], version="2", run="r2")  # one new lead, all re-scored
    dry = _upsert(target, changed, dry_run=True)
    assert (dry.inserted, dry.updated) == (1, 3)
    assert _read(target)[0].sort("enrollment_id").equals(before_scores.sort("enrollment_id"))

    res = _upsert(target, changed)
    assert (res.inserted, res.updated, res.history_appended) == (1, 3, 4)
    scores, history = _read(target)
    assert scores.height == 4 and history.height == before_history.height + 4
    row = scores.filter(pl.col("enrollment_id") == "e1").row(0, named=True)
    assert row["score"] == pytest.approx(0.25) and row["model_version"] == "2"
    # history is append-only: the first version of e1 is still there
    e1 = history.filter(pl.col("enrollment_id") == "e1").sort("model_version")
    assert e1["score"].to_list() == pytest.approx([0.2, 0.25])
    assert sorted(e1["change"].to_list()) == ["insert", "update"]


@pytest.mark.parametrize("how", ["constraint", "injected"])
def test_failure_mid_write_leaves_tables_unchanged(target, how):
    _upsert(target, _frame([0.1, 0.2, 0.3]))
    before_scores, before_history = _read(target)
    if how == "constraint":  # history rows go in first, then the upsert breaks the CHECK
        bad = _frame([0.5, 0.6, 1.5])
        with pytest.raises(Exception, match="(?i)check"):
            _upsert(target, bad)
    else:
        with pytest.raises(RuntimeError, match="injected"):
            _upsert(target, _frame([0.5, 0.6, 0.7]), fail_before_commit=True)
    scores, history = _read(target)
    assert scores.sort("enrollment_id").equals(before_scores.sort("enrollment_id"))
    assert history.height == before_history.height


def test_split_selection():
    frame = _frame([0.1, 0.2, 0.3])
    assert scores_db.select_split(frame, "all").height == 3
    assert scores_db.select_split(frame, "test").height == 2
    assert scores_db.select_split(frame, "train")["enrollment_id"].to_list() == ["e2"]
    with pytest.raises(ValueError):
        scores_db.select_split(frame, "holdout")  # type: ignore[arg-type]


def test_duplicate_keys_and_bad_names_are_refused(tmp_path):
    url = f"duckdb:///{tmp_path / 's.duckdb'}"
    frame = _frame([0.1, 0.2])
    with pytest.raises(ValueError, match="duplicate key"):
        scores_db.upsert_scores(url, pl.concat([frame, frame]))
    with pytest.raises(ValueError, match="invalid table name"):
        scores_db.upsert_scores(url, frame, table="lead_scores; DROP TABLE x")
