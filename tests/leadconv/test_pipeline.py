"""Materialize the whole leadconv location on the tiny world in a temporary home."""

from __future__ import annotations

import json
import os
import stat
import uuid

import dagster as dg
import polars as pl

from leadconv_assets import scores_db
from leadconv_assets.definitions import build_defs
from leadconv_assets.defs import model_name
from leadconv_assets.demo import TRAIN
from shared.home import home, reports_dir
from shared.storage import read_lake
from shared.tracking import MLflowTracker
from tests.leadconv.conftest import TINY_CUTOFF

SCORE_DAY = "2025-05-11"
# a lenient gate set for plumbing tests on the tiny world (18 T2 holdout positives): the
# Brier skill of a good model is within noise of 0 there
LENIENT = {"pr_auc_ratio_min": 0.5, "min_holdout_positives": 1, "brier_skill_min": -0.05}


def _run(job, instance, keys, partition=None, run_config=None):
    return job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey.from_user_string(k) for k in keys],
        partition_key=partition,
        run_config=run_config or {},
        raise_on_error=False,
    )


def _scores_meta(result) -> dict:
    mats = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["leadconv", "lead_scores"])
    ]
    return {k: getattr(v, "value", v) for k, v in mats[0].materialization.metadata.items()}


def test_location_materializes_end_to_end(salesml_home, tiny_cfg):
    defs = build_defs(tiny_cfg)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()

    res = _run(
        job, instance, ["leadconv/extract", "leadconv/clean", "leadconv/campaign_recommendations"]
    )
    assert res.success
    snaps = list((home() / "snapshots" / "leadconv").iterdir())
    assert len(snaps) == 1
    manifest = json.loads((snaps[0] / "manifest.json").read_text())
    assert manifest["row_counts"]["enrollments"] > 0 and manifest["content_hash"]
    assert not os.stat(snaps[0] / "outcomes.parquet").st_mode & stat.S_IWUSR  # immutable
    recs = [
        m
        for m in res.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["leadconv", "campaign_recommendations"])
    ][0]
    assert "Campaign recommendations" in recs.materialization.metadata["report"].value
    assert (reports_dir() / "leadconv" / "campaign_recommendations.md").exists()

    for target in tiny_cfg.targets:
        pk = f"{TINY_CUTOFF}|{target}"
        res = _run(job, instance, TRAIN, pk)
        checks = {e.asset_check_key.name: e.passed for e in res.get_asset_check_evaluations()}
        assert checks["schema"] and checks["truncation_invariance"], checks
        assert checks["leakage_gauntlet"], checks
        gates_passed = checks["promotion_gates"]
        # a failed gate fails the run only through the blocking check, and skips promotion
        failed_steps = {e.step_key for e in res.get_step_failure_events()}
        assert failed_steps <= {"leadconv_candidate"}, failed_steps
        champ = MLflowTracker().champion(model_name(target))
        assert (champ is not None) == gates_passed, target
        card = (
            reports_dir()
            / "leadconv"
            / model_name(target)
            / pk.replace("|", "__")
            / "model_card.md"
        )
        assert card.exists() and "pr_auc" in card.read_text()
        text = card.read_text()  # importance as a table, the charts as files beside the card
        assert "## Feature importance (top" in text
        assert (card.parent / "calibration_curve.png").read_bytes().startswith(b"\x89PNG")

    metrics = read_lake(["leadconv", "holdout_metrics"])
    assert set(metrics["model"]) >= {"candidate", "baseline", "oracle"}
    # house key columns: cutoff_date as a date, model in the shared vocabulary
    assert metrics.schema["cutoff_date"] == pl.Date and "cutoff" not in metrics.columns
    assert set(metrics["model"]) <= {"candidate", "baseline", "rule", "champion", "oracle"}
    promoted = read_lake(["leadconv", "promoted_model"])
    assert promoted.height >= 1, "the tiny world should promote at least one target"

    # daily scoring persists to the default DuckDB database; a re-run changes nothing
    res = _run(job, instance, ["leadconv/lead_scores"], SCORE_DAY)
    assert res.success
    meta = _scores_meta(res)
    assert meta["inserted"] > 0 and meta["split"] == "test"
    drift = [
        e for e in res.get_asset_check_evaluations() if e.asset_check_key.name == "score_drift"
    ]
    assert drift and any(k.startswith("psi_") for k in drift[0].metadata)
    unseen = [
        e
        for e in res.get_asset_check_evaluations()
        if e.asset_check_key.name == "unseen_categories"
    ]  # the champions keep their training categories: measured, the same world passes
    assert unseen and unseen[0].metadata["measured"].value is True, unseen[0].description
    assert unseen[0].passed and unseen[0].severity == dg.AssetCheckSeverity.WARN
    scores = scores_db.read_table(None)
    history = scores_db.read_table(None, "lead_score_history")
    assert scores.height == meta["inserted"] == history.height
    assert set(scores["label_col"]) <= set(tiny_cfg.targets)
    assert scores["score"].is_between(0, 1).all()
    trained = read_lake(["leadconv", "lead_scores"]).filter(pl.col("split") == "train")
    assert trained.height == 0  # split=test never writes rows the model was trained on

    res = _run(job, instance, ["leadconv/lead_scores"], SCORE_DAY)
    meta = _scores_meta(res)
    assert (meta["inserted"], meta["updated"], meta["history_appended"]) == (0, 0, 0)
    assert scores_db.read_table(None, "lead_score_history").height == history.height

    # dry run with split=all: counts what would change, writes nothing
    cfg = {"ops": {"leadconv__lead_scores": {"config": {"dry_run": True, "split": "all"}}}}
    res = _run(job, instance, ["leadconv/lead_scores"], SCORE_DAY, cfg)
    meta = _scores_meta(res)
    assert meta["dry_run"] and meta["inserted"] > 0
    assert scores_db.read_table(None).height == scores.height

    # the same partition into PostgreSQL (run config target_url from an env var), when the test server runs
    url = os.environ.get("SALESML_TEST_PG_URL")
    if not url:
        assert os.environ.get("CI") != "true", "CI must provide SALESML_TEST_PG_URL"
        return
    suffix = uuid.uuid4().hex[:8]
    table, history_table = f"lead_scores_{suffix}", f"lead_score_history_{suffix}"
    pg = {
        "target_url": {"env": "SALESML_TEST_PG_URL"},
        "table": table,
        "history_table": history_table,
    }
    try:
        for _ in range(2):
            res = _run(
                job,
                instance,
                ["leadconv/lead_scores"],
                SCORE_DAY,
                {"ops": {"leadconv__lead_scores": {"config": pg}}},
            )
            assert res.success
        meta = _scores_meta(res)
        assert (meta["inserted"], meta["updated"], meta["unchanged"]) == (0, 0, scores.height)
        assert meta["target_db"].startswith("postgresql") and "***" in meta["target_db"]
        assert scores_db.read_table(url, table).height == scores.height
        assert scores_db.read_table(url, history_table).height == scores.height
    finally:
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {history_table}"))
        engine.dispose()


def test_failed_gate_keeps_the_previous_champion(salesml_home):
    from tests.leadconv.conftest import tiny_config

    target = "qualified_within_14d"
    pk = f"{TINY_CUTOFF}|{target}"
    instance = dg.DagsterInstance.ephemeral()
    lenient = build_defs(tiny_config(gates=LENIENT))
    job = lenient.resolve_implicit_global_asset_job_def()
    assert _run(job, instance, ["leadconv/extract", "leadconv/clean"]).success
    assert _run(job, instance, TRAIN, pk).success
    first = MLflowTracker().champion(model_name(target))
    assert first is not None

    strict = build_defs(tiny_config(gates={"pr_auc_ratio_min": 10.0}))
    res = _run(strict.resolve_implicit_global_asset_job_def(), instance, TRAIN, pk)
    assert res.success  # a refusal is a decision, not a failed run
    gate = [
        e for e in res.get_asset_check_evaluations() if e.asset_check_key.name == "promotion_gates"
    ]
    assert gate and not gate[0].passed
    assert "pr_auc_vs_baseline" in (gate[0].description or "")
    assert gate[0].severity == dg.AssetCheckSeverity.ERROR
    decision = read_lake(["leadconv", "promoted_model"])  # the decision says why
    assert decision["promoted"].to_list() == [False]
    assert "pr_auc_vs_baseline" in decision["reason"][0]
    still = MLflowTracker().champion(model_name(target))
    assert still is not None and still.version == first.version
    # the re-trained candidate was also compared with the champion on the same holdout
    metrics = read_lake(["leadconv", "holdout_metrics"])
    assert "champion" in set(metrics["model"])
    card = reports_dir() / "leadconv" / model_name(target) / pk.replace("|", "__") / "model_card.md"
    assert "FAIL" in card.read_text()  # the card written by the failed candidate says why
    from shared.storage import query_warehouse

    decisions = query_warehouse("SELECT * FROM leadconv.model_decisions ORDER BY decided_at")
    assert decisions["promoted"].to_list() == [True, False]  # the refusal is recorded too
    assert "pr_auc_vs_baseline" in decisions["reason"][1]
    assert decisions["champion_version"][1] == first.version


def test_bad_scores_write_nothing_and_unmeasured_drift_does_not_pass(salesml_home, monkeypatch):
    import numpy as np

    from tests.leadconv.conftest import tiny_config

    target = "qualified_within_14d"
    instance = dg.DagsterInstance.ephemeral()
    defs = build_defs(tiny_config(gates=LENIENT))
    job = defs.resolve_implicit_global_asset_job_def()
    assert _run(job, instance, ["leadconv/extract", "leadconv/clean"]).success

    # no champion yet: the rules baseline serves, so drift was not measured — a failed warning
    res = _run(job, instance, ["leadconv/lead_scores"], SCORE_DAY)
    baseline_rows = scores_db.read_table(None)
    assert set(baseline_rows["model_version"]) == {"rules-baseline"}
    drift = [
        e for e in res.get_asset_check_evaluations() if e.asset_check_key.name == "score_drift"
    ]
    assert drift and not drift[0].passed
    assert drift[0].severity == dg.AssetCheckSeverity.WARN
    assert drift[0].metadata["measured"].value is False
    assert "not measured" in (drift[0].description or "")

    assert _run(job, instance, TRAIN, f"{TINY_CUTOFF}|{target}").success
    assert MLflowTracker().champion(model_name(target)) is not None

    class Broken:  # a scorer that returns NaN probabilities
        def predict_proba(self, X):
            p = np.full(len(X), np.nan)
            return np.column_stack([1 - p, p])

    monkeypatch.setattr(MLflowTracker, "load_model", lambda self, uri: Broken())
    res = _run(job, instance, ["leadconv/lead_scores"], SCORE_DAY)
    assert not res.success
    error = res.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "lead_scores" in error and "'score'" in error and "offending row" in error
    after = scores_db.read_table(None)  # nothing of the broken model was written
    assert after.sort(scores_db.KEY).equals(baseline_rows.sort(scores_db.KEY))
    assert scores_db.read_table(None, "lead_score_history").height == baseline_rows.height


def test_refused_target_is_served_by_the_rules_baseline_with_a_warning(salesml_home):
    from tests.leadconv.conftest import tiny_config

    # (every booked_call window of the tiny world has closed by the scoring day: its baseline
    # rows are all "train" rows, which split=test does not write)
    target = "conversion_within_30d"
    instance = dg.DagsterInstance.ephemeral()
    # no model can pass: PR-AUC must be 10x the rules baseline's
    defs = build_defs(tiny_config(gates={"pr_auc_ratio_min": 10.0}))
    job = defs.resolve_implicit_global_asset_job_def()
    assert _run(job, instance, ["leadconv/extract", "leadconv/clean"]).success
    res = _run(job, instance, TRAIN, f"{TINY_CUTOFF}|{target}")
    assert res.success and MLflowTracker().champion(model_name(target)) is None

    res = _run(job, instance, ["leadconv/lead_scores"], SCORE_DAY)
    assert res.success
    stored = scores_db.read_table(None).filter(pl.col("label_col") == target)
    assert stored.height > 0 and set(stored["model_version"]) == {"rules-baseline"}
    checks = {e.asset_check_key.name: e for e in res.get_asset_check_evaluations()}
    champ = checks["model_champion"]
    assert not champ.passed and champ.severity == dg.AssetCheckSeverity.WARN
    assert f"{target}: no model champion: served by the rules baseline" in champ.description
    assert champ.metadata[f"rows_{target}"].value > 0
    assert checks["schema"].passed
    assert _scores_meta(res)["champions"][target] == "rules-baseline"
