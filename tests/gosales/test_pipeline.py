"""GoSales end to end through Dagster on a temporary home with the tiny world."""

from __future__ import annotations

import hashlib

import dagster as dg
import polars as pl

from gosales_assets.definitions import build_defs
from gosales_assets.demo import TRAIN
from gosales_assets.inputs import OUTPUTS
from gosales_assets.location import LOCATION
from shared.storage import query_warehouse, read_lake
from shared.tracking import MLflowTracker
from tests.gosales.conftest import tiny_config

model_name = LOCATION.model_name

PARTITIONED = TRAIN  # one division × cutoff: the demo's list
INPUTS = [f"gosales/{name}" for name in OUTPUTS]


def _run(
    defs: dg.Definitions, keys: list[str], partition_key=None, instance=None
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        asset_selection=[dg.AssetKey.from_user_string(k) for k in keys],
        partition_key=partition_key,
        raise_on_error=False,
        instance=instance or dg.DagsterInstance.ephemeral(),
    )


def _pipeline(cfg, source) -> tuple[dg.Definitions, list[dg.ExecuteInProcessResult]]:
    defs = build_defs(cfg, source_uri=str(source))
    results = [_run(defs, INPUTS)]
    division = cfg.divisions[0]
    pk = dg.MultiPartitionKey({"cutoff": cfg.cutoffs[0].isoformat(), "division": division})
    results.append(_run(defs, PARTITIONED, pk))
    results.append(_run(defs, ["gosales/icp_scores"], division))
    return defs, results


def _checksum(frame: pl.DataFrame) -> str:
    stable = frame.drop("run_id").sort("customer_id")
    return hashlib.sha256(stable.write_csv().encode()).hexdigest()


def test_full_partition_promotes_and_scores(salesml_home, tiny_world, tiny_source):
    cfg = tiny_config(tiny_world)
    _, results = _pipeline(cfg, tiny_source)
    assert all(r.success for r in results), [r.get_step_failure_events() for r in results]
    checks = {
        e.asset_check_key.name: e.passed for r in results for e in r.get_asset_check_evaluations()
    }
    assert (
        checks["truncation_invariance"] and checks["promotion_gates"] and checks["leakage_gauntlet"]
    )
    drift = [
        e for r in results for e in r.get_asset_check_evaluations() if e.check_name == "score_drift"
    ]
    assert drift and "psi" in drift[0].metadata  # measured against the champion's holdout
    division = cfg.divisions[0]

    metrics = query_warehouse("SELECT * FROM gosales.holdout_metrics")
    assert set(metrics["model"]) >= {"candidate", "baseline", "rule", "oracle"}
    champ = MLflowTracker().champion(model_name(division))
    assert champ is not None and champ.version == "1"

    scores = query_warehouse("SELECT * FROM gosales.icp_scores")
    assert scores.height == tiny_world.customers.height
    assert scores["icp_score"].is_between(0, 1).all()
    assert scores["as_of_date"][0] == tiny_world.as_of  # scored at the latest as-of date
    assert scores["cutoff_date"][0] == cfg.cutoffs[0]  # ... by the model trained at the cutoff
    card = read_lake(["gosales", "promoted_model"])
    assert card["promoted"].to_list() == [True]
    reports = salesml_home / "reports" / "gosales" / model_name(division)
    (card_md,) = reports.glob("*/model_card.md")
    text = card_md.read_text()  # importance as a table, the plots as files beside the card
    assert (
        "## Feature importance (top" in text and "![Cumulative gains](cumulative_gains.png)" in text
    )
    assert {p.name for p in card_md.parent.glob("*.png")} >= {
        "calibration_curve.png",
        "cumulative_gains.png",
    }

    trends = _run(build_defs(cfg, source_uri=str(tiny_source)), ["gosales/holdout_trends"])
    assert trends.success
    table = query_warehouse("SELECT * FROM gosales.holdout_trends")
    assert table.height == 1 and table["division"][0] == division
    assert 0 < table["oracle_gap"][0] < 0.2  # gap measured against the truth
    meta = trends.get_asset_materialization_events()[0].materialization.metadata
    assert "data:image/png;base64," in meta["trends"].value and f"auc_{division}" in meta
    (schema,) = trends.get_asset_check_evaluations()
    assert schema.check_name == "holdout_trends_schema" and schema.passed

    # whitespace ranks over every division's scores (divisions without a model champion are
    # served by the labelled rule baseline)
    defs = build_defs(cfg, source_uri=str(tiny_source))
    for other in cfg.divisions[1:]:
        assert _run(defs, ["gosales/icp_scores"], other).success
    ranked = _run(defs, ["gosales/whitespace"])
    assert ranked.success
    assert all(e.passed for e in ranked.get_asset_check_evaluations())
    ws = query_warehouse("SELECT * FROM gosales.whitespace ORDER BY rank")
    assert ws.height > 0 and division in set(ws["division"])
    served = query_warehouse("SELECT division_name, model_version FROM gosales.icp_scores")
    by_division = dict(served.unique().iter_rows())
    assert by_division.pop(division) == "1"  # the champion serves its division ...
    assert set(by_division.values()) == {"rule-baseline"}  # ... the rule, labelled, the others
    assert ws["rank"].to_list() == list(range(1, ws.height + 1))


def test_failed_gate_is_a_decision_and_keeps_no_champion(salesml_home, tiny_world, tiny_source):
    cfg = tiny_config(tiny_world, auc_min=0.999, floors="block")  # unreachable, blocking floor
    _, results = _pipeline(cfg, tiny_source)
    # a refusal is a decision, not a failure: every run succeeds ...
    assert all(r.success for r in results), [r.get_step_failure_events() for r in results]
    gate = [
        e
        for e in results[1].get_asset_check_evaluations()
        if e.asset_check_key.name == "promotion_gates"
    ]
    # ... while the gate check tells the truth about the partition (failed, ERROR severity)
    assert gate and not gate[0].passed and gate[0].severity == dg.AssetCheckSeverity.ERROR
    assert "auc" in gate[0].description
    decision = read_lake(["gosales", "promoted_model"])  # the promotion asset shows why
    assert decision["promoted"].to_list() == [False] and "auc" in decision["reason"][0]
    meta = next(
        m.materialization.metadata
        for m in results[1].get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["gosales", "promoted_model"])
    )
    assert meta["promoted"].value is False and "auc" in meta["reason"].value
    assert read_lake(["gosales", "holdout_metrics"]).height > 0  # metrics still say why
    assert MLflowTracker().champion(model_name(cfg.divisions[0])) is None
    # no model serves: the calibrated rule does, labelled as such, with a WARN check saying so
    scores = read_lake(["gosales", "icp_scores"])
    assert scores.height == tiny_world.customers.height
    assert set(scores["model_version"]) == {"rule-baseline"}
    assert scores["icp_score"].is_between(0, 1).all() and scores["run_id"].to_list()[0] == ""
    warn = {e.check_name: e for r in results for e in r.get_asset_check_evaluations()}
    assert warn["model_champion"].passed is False
    assert warn["model_champion"].severity == dg.AssetCheckSeverity.WARN
    decisions = query_warehouse("SELECT * FROM gosales.model_decisions")
    assert decisions["promoted"].to_list() == [False]  # the refusal is a recorded decision
    assert "auc" in decisions["reason"][0]


def test_same_seed_gives_identical_scores(tmp_path, monkeypatch, tiny_world, tiny_source):
    sums = []
    for i in range(2):
        monkeypatch.setenv("SALESML_HOME", str(tmp_path / f"home{i}"))
        _, results = _pipeline(tiny_config(tiny_world), tiny_source)
        assert all(r.success for r in results)
        sums.append(_checksum(read_lake(["gosales", "icp_scores"])))
    assert sums[0] == sums[1]


def test_bad_input_fails_with_a_clear_error_and_writes_nothing(salesml_home, tiny_world, tmp_path):
    from shared.sources import write_folder

    bad = tiny_world.transactions.with_columns(
        quantity=pl.when(pl.col("transaction_id") == tiny_world.transactions["transaction_id"][3])
        .then(-4)
        .otherwise(pl.col("quantity"))
    )
    src = write_folder(tmp_path / "bad", {**tiny_world.tables(), "transactions": bad})
    defs = build_defs(tiny_config(tiny_world), source_uri=str(src))
    result = _run(defs, INPUTS)
    assert not result.success
    message = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "transactions" in message and "quantity" in message
    assert not (salesml_home / "lake" / "gosales").exists()


def test_a_division_too_sparse_to_fit_is_refused_as_insufficient_evidence(
    salesml_home, tiny_world, tmp_path
):
    """Only two customers ever bought the division: no training group can hold a positive
    in each of fit / early stop / calibration. The run succeeds, the refusal is recorded as
    "insufficient evidence" and the labelled rule keeps serving."""
    from shared.sources import write_folder

    cfg = tiny_config(tiny_world)
    division = cfg.divisions[0]
    tx = tiny_world.transactions
    buyers = tx.filter(pl.col("division") == division)["customer_id"].unique().sort()[:2]
    sparse = tx.filter((pl.col("division") != division) | pl.col("customer_id").is_in(buyers))
    src = write_folder(tmp_path / "sparse", {**tiny_world.tables(), "transactions": sparse})
    _, results = _pipeline(cfg, src)
    assert all(r.success for r in results), [r.get_step_failure_events() for r in results]
    decision = read_lake(["gosales", "promoted_model"])
    assert decision["promoted"].to_list() == [False]
    assert decision["reason"][0].startswith("insufficient evidence")
    assert "training_positives" in decision["reason"][0]
    meta = next(
        m.materialization.metadata
        for m in results[1].get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["gosales", "candidate_model"])
    )
    assert meta["learner"].value == "prior"
    assert MLflowTracker().champion(model_name(division)) is None
    assert set(read_lake(["gosales", "icp_scores"])["model_version"]) == {"rule-baseline"}


def test_a_holdout_without_positives_is_refused_not_crashed(salesml_home, tiny_world, tiny_source):
    """The tiny world's ``training`` division has no positive among its holdout customers:
    every AUC there is "not measured" (null), and the run still ends in a recorded refusal."""
    cfg = tiny_config(tiny_world)
    defs = build_defs(cfg, source_uri=str(tiny_source))
    assert _run(defs, INPUTS).success
    pk = dg.MultiPartitionKey({"cutoff": cfg.cutoffs[0].isoformat(), "division": "training"})
    result = _run(defs, PARTITIONED, pk)
    assert result.success, [e.event_specific_data.error for e in result.get_step_failure_events()]
    decision = read_lake(["gosales", "promoted_model"])
    assert decision["promoted"].to_list() == [False]
    assert decision["reason"][0].startswith("insufficient evidence")
