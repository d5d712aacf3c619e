"""Always serve something honest: a target without a model champion is scored by the rules
baseline, labelled as such end to end (frame, SQL ``lead_scores``, the WARN check)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from leadconv_assets import clean, extract, scores_db, scoring
from leadconv_assets.defs import model_name
from tests.leadconv.conftest import tiny_config

AS_OF = datetime(2025, 5, 11, 23, 59, 59)


class NoChampions:
    """A tracker in which every candidate was refused: no target has a champion."""

    def champion(self, name):
        return None


def _tables(world):
    tables, _ = clean.clean_tables(extract.quality_gates(world.tables()))
    return tables


def test_targets_without_champion_are_served_by_the_rules_baseline(tiny_world, target):
    cfg = tiny_config()
    scored = scoring.score_leads(cfg, NoChampions(), _tables(tiny_world), AS_OF, 90, model_name)
    frame = scored.scores
    assert set(frame["label_col"]) == set(cfg.targets)  # every target served
    assert (frame["model_version"] == scoring.RULES_BASELINE).all()
    assert (frame["run_id"] == scoring.RULES_BASELINE).all()
    assert frame["score"].is_between(0, 1).all() and frame["score"].n_unique() > 3
    assert scored.notes == {t: scoring.RULES_BASELINE for t in cfg.targets}
    # rows whose closed window fitted the baseline are train rows, the open ones test rows
    assert {"train", "test"} == set(frame["split"])
    assert frame.filter(~pl.col("window_closed"))["split"].unique().to_list() == ["test"]

    verdict = scoring.champion_verdict(scored, list(cfg.targets))
    assert not verdict.passed
    for t in cfg.targets:
        assert f"{t}: no model champion: served by the rules baseline" in verdict.description
    assert verdict.metadata["rules_baseline_targets"] == sorted(cfg.targets)
    # drift of a baseline-served target is not measured (and therefore not passed)
    assert not scoring.drift_verdict(scored.drift, scored.unmeasured).measured

    url, table, history = target
    out, res = scoring.write_scores(url, frame, table=table, history_table=history)
    assert res.inserted == frame.height > 0
    stored = scores_db.read_table(url, table)
    assert stored.height == frame.height
    assert set(stored["model_version"]) == {scoring.RULES_BASELINE}
    assert set(stored["label_col"]) == set(cfg.targets)


def test_no_closed_window_means_not_served_and_said_so(tiny_world):
    cfg = tiny_config(split={"holdout_days": 30, "calibration_frac": 0.25, "train_days_back": 1})
    early = datetime(2025, 1, 3)  # hardly any window has closed yet
    scored = scoring.score_leads(cfg, NoChampions(), _tables(tiny_world), early, 90, model_name)
    verdict = scoring.champion_verdict(scored, list(cfg.targets))
    assert not verdict.passed
    unserved = [t for t, n in scored.notes.items() if n != scoring.RULES_BASELINE]
    assert unserved, scored.notes
    for t in unserved:
        assert "not scored" in scored.no_champion[t] or "no leads" in scored.no_champion[t]
        assert t not in set(scored.scores["label_col"])
