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


def _recent_contacts_from(tables, source: str, since: datetime):
    """``tables`` with the contacts first enrolled after ``since`` given a new ``source_channel``
    (a lead source started after training)."""
    first = tables["enrollments"].group_by("org_id", "contact_id").agg(pl.col("enrolled_at").min())
    keys = first.filter(pl.col("enrolled_at") > since).select("org_id", "contact_id")
    keys = keys.with_columns(_new=pl.lit(True))
    contacts = (
        tables["contacts"]
        .join(keys, on=["org_id", "contact_id"], how="left")
        .with_columns(
            source_channel=pl.when(pl.col("_new"))
            .then(pl.lit(source))
            .otherwise(pl.col("source_channel"))
        )
        .drop("_new")
    )
    return {**tables, "contacts": contacts}


def test_unseen_category_values_are_counted_and_warned(tiny_world):
    cfg = tiny_config()
    tables = _tables(tiny_world)
    scored = scoring.score_leads(cfg, NoChampions(), tables, AS_OF, 90, model_name)
    ok, table = scoring.unseen_verdict(scored, 0.05)
    assert ok.measured and ok.passed, ok.description  # same world, nothing new
    assert set(table["column"]) >= {"source_channel", "campaign"}

    # a new lead source for contacts first enrolled after the conversion baseline's training
    # period ends (as_of - 30 d = 2025-04-11); the 7 d and 14 d baselines were fitted on them
    changed = _recent_contacts_from(tables, "TikTok Ads", datetime(2025, 4, 12))
    scored = scoring.score_leads(cfg, NoChampions(), changed, AS_OF, 90, model_name)
    verdict, table = scoring.unseen_verdict(scored, 0.05)
    assert verdict.measured and not verdict.passed
    src = table.filter(pl.col("column") == "source_channel")
    by_target = dict(zip(src["target"], src["unseen"], strict=True))
    assert by_target["booked_call_within_7d"] == by_target["qualified_within_14d"] == 0
    t3 = src.filter(pl.col("target") == "conversion_within_30d").row(0, named=True)
    assert t3["share"] > 0.05 and t3["examples"] == "tiktok_ads"  # the value as encoded
    assert verdict.metadata["worst_column"] == "source_channel"
    assert verdict.metadata["worst_target"] == "conversion_within_30d"
    line = verdict.metadata["unseen_conversion_within_30d__source_channel"]
    assert "tiktok_ads" in line and " of " in line
    assert t3["share"] == t3["unseen"] / t3["rows"]  # a share of the scored leads
    # a higher threshold passes the same counts
    assert scoring.unseen_verdict(scored, 0.99)[0].passed


def test_nothing_scored_means_unseen_not_measured():
    verdict, table = scoring.unseen_verdict(scoring.Scored(pl.DataFrame()), 0.05)
    assert not verdict.passed and not verdict.measured and table.height == 0
    assert "not measured" in verdict.description


def _ids_as_a_real_source_spells_them(world) -> dict[str, pl.DataFrame]:
    """The world with integer org and contact ids and enrollment ids with leading zeros."""
    org = pl.col("org_id").str.strip_prefix("org").cast(pl.Int64)
    out = {}
    for name, frame in world.tables().items():
        frame = frame.with_columns(org_id=org)
        if "contact_id" in frame.columns:
            frame = frame.with_columns(pl.col("contact_id").str.strip_prefix("c").cast(pl.Int64))
        if "enrollment_id" in frame.columns:  # "e0000001" -> "0000001"
            frame = frame.with_columns(pl.col("enrollment_id").str.strip_prefix("e"))
        out[name] = frame
    return out


def test_leading_zero_and_integer_ids_survive_source_features_scores_and_sql(
    tiny_world, target, tmp_path
):
    from shared.sources import write_duckdb

    raw = _ids_as_a_real_source_spells_them(tiny_world)
    assert raw["enrollments"].schema["org_id"] == pl.Int64
    src = tmp_path / "source.duckdb"
    write_duckdb(src, raw)
    read = extract.read_source(f"duckdb:///{src}")
    assert read["contacts"].schema["contact_id"] == pl.Int64  # integers in the source
    tables, _ = clean.clean_tables(extract.quality_gates(read))
    assert tables["enrollments"]["enrollment_id"].str.starts_with("0").all()

    cfg = tiny_config()
    scored = scoring.score_leads(cfg, NoChampions(), tables, AS_OF, 90, model_name)
    frame = scored.scores
    assert frame.height > 0 and frame.schema["org_id"] == frame.schema["enrollment_id"] == pl.Utf8
    assert frame["enrollment_id"].str.starts_with("0").all()
    assert set(frame["org_id"]) <= {"1", "2", "3", "4"}
    known = set(raw["enrollments"]["enrollment_id"])
    assert set(frame["enrollment_id"]) <= known  # the source's spelling, zeros kept

    url, table, history = target
    scoring.write_scores(url, frame, table=table, history_table=history)
    stored = scores_db.read_table(url, table)
    assert stored.schema["enrollment_id"] == pl.Utf8
    assert stored["enrollment_id"].str.starts_with("0").all()
    assert sorted(stored["enrollment_id"]) == sorted(frame["enrollment_id"])
    assert set(stored["org_id"]) == set(frame["org_id"])


def test_served_rules_baseline_is_measured_after_the_fact_on_the_tiny_world():
    from leadconv_assets import serving_measure

    table, score_at, verdict = serving_measure.measure(tiny_config(), "tiny", 7)
    assert set(table["served"]) == {scoring.RULES_BASELINE} and verdict.measured
    assert (table["judged_rows"] > 0).all() and (table["positives"] > 0).all()
    # better than the base rate, not better than the truth
    assert (table["pr_auc_rules_baseline"] > table["observed_rate"]).all()
    assert (table["pr_auc_rules_baseline"] < table["pr_auc_oracle"]).all()


def test_a_step_variant_training_never_sent_is_counted(tiny_world):
    tables = _tables(tiny_world)
    steps, ev, enr = tables["campaign_steps"], tables["engagement_logs"], tables["enrollments"]
    old = steps.row(0, named=True)
    new_step = {**old, "step_id": f"{old['step_id']}_v2", "prompt_variant_id": "v2"}
    late = enr.filter(pl.col("enrolled_at") > datetime(2025, 4, 12)).select(
        "org_id", "enrollment_id", _late=pl.lit(True)
    )
    ev = (
        ev.join(late, on=["org_id", "enrollment_id"], how="left")
        .with_columns(
            step_id=pl.when(pl.col("_late") & (pl.col("step_id") == old["step_id"]))
            .then(pl.lit(new_step["step_id"]))
            .otherwise(pl.col("step_id"))
        )
        .drop("_late")
    )
    changed = {
        **tables,
        "engagement_logs": ev,
        "campaign_steps": pl.concat([steps, pl.DataFrame([new_step], schema=steps.schema)]),
    }
    scored = scoring.score_leads(tiny_config(), NoChampions(), changed, AS_OF, 90, model_name)
    _, table = scoring.unseen_verdict(scored, 0.05)
    t3 = table.filter((pl.col("column") == "step") & (pl.col("target") == "conversion_within_30d"))
    assert t3["unseen"][0] > 0 and new_step["step_id"] in t3["examples"][0]
    t1 = table.filter((pl.col("column") == "step") & (pl.col("target") == "booked_call_within_7d"))
    assert t1["unseen"][0] == 0  # the 7-day baseline was fitted on those leads


def test_a_csv_source_keeps_leading_zeros_in_ids(tiny_world, tmp_path):
    from shared.sources import write_folder

    raw = _ids_as_a_real_source_spells_them(tiny_world)
    write_folder(tmp_path / "src", raw, fmt="csv")
    read = extract.read_source(str(tmp_path / "src"))
    enr = read["enrollments"]
    assert enr.schema["enrollment_id"] == pl.Utf8  # not inferred as an integer
    assert sorted(enr["enrollment_id"]) == sorted(raw["enrollments"]["enrollment_id"])
    tables = extract.quality_gates(read)
    assert tables["outcomes"]["enrollment_id"].str.starts_with("0").all()
    assert set(tables["contacts"]["org_id"]) <= {"1", "2", "3", "4"}  # integers as text
