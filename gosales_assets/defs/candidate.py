"""Stage ``candidate``: the candidate model, its holdout metrics and its report, with
the promotion-gates and leakage-gauntlet checks and the holdout schema check.

The gate checks show each verdict (ERROR severity: a refused partition's check is
failed) without blocking: a refusal is a decision, taken and recorded by
``promoted_model`` from the same gates, so the run succeeds and the previous champion
keeps serving.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from gosales_assets import candidate as gs_candidate
from gosales_assets import training
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, RAW, bind, ins
from gosales_assets.location import LOCATION
from gosales_assets.output_schemas import HoldoutMetricsSchema
from shared import lifecycle
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    contract_column_schema,
    md_table,
    numeric_metadata,
    permanent_errors_fail_at_once,
    schema_check_result,
    warehouse_metadata,
)
from shared.tracking import MLflowTracker


def gosales_candidate(
    cfg: GosalesConfig,
    context,
    tracker: MLflowTracker,
    feature_matrix,
    labels,
    customers,
    transactions,
    install_base,
    ground_truth,
):
    """Train, evaluate out of time against rule/champion/oracle, log to MLflow."""
    cutoff, division = LOCATION.partition(context)
    name = LOCATION.model_name(division)
    scorer, champion_cutoff, note = lifecycle.champion_holdout_scorer(
        tracker, name, cutoff, training.matrix
    )
    result = gs_candidate.evaluate(
        cfg,
        cutoff,
        division,
        feature_matrix=feature_matrix,
        labels=labels,
        customers=customers,
        transactions=transactions,
        install_base=install_base,
        ground_truth=ground_truth,
        champion_scorer=scorer,
        champion_cutoff=champion_cutoff,
        champion_note=note,
    )
    tags = {"division": division, "cutoff": cutoff.isoformat(), "model_name": name}
    with tracker.partition_run(
        context, LOCATION.name, "gosales/candidate_model", context.partition_key, tags=tags
    ) as run:
        uri = gs_candidate.log_run(tracker, result, cfg.training.model_dump(), lifecycle.MODEL_META)
        run_id, link = run.info.run_id, tracker.run_link(run)
    yield dg.Output(
        gs_candidate.bundle(result, uri, run_id),
        "candidate_model",
        metadata=_candidate_metadata(result, run_id, link),
    )
    table = md_table(result.metrics.select(*gs_candidate.TABLE_COLUMNS))
    per_model = {
        f"{row['model']}_{m}": row[m]
        for row in result.metrics.to_dicts()
        for m in ("auc", "pr_auc", "lift_at_10")
    }
    yield dg.Output(
        result.metrics,
        "holdout_metrics",
        # the table for reading, every model's headline metrics as numbers for the UI plots
        metadata={"metrics": dg.MetadataValue.md(table), **numeric_metadata(per_model)},
    )
    yield dg.Output(gs_candidate.report(result, run_id, link), "candidate_report")


def _candidate_metadata(result: gs_candidate.CandidateResult, run_id: str, link: str) -> dict:
    cand = result.candidate
    return {
        **numeric_metadata(result.summary),
        **numeric_metadata(cand.train_stats),
        "oracle_auc": result.oracle_auc,
        # would the true probabilities pass these gates on this holdout? (evidence, not model)
        "oracle_gates": "not measured (no ground truth)"
        if result.oracle_gates is None
        else result.oracle_gates.summary(),
        "window_months": result.window_months,
        "window_reason": result.window_reason,
        "calibration_method": cand.calibration_method,
        "learner": cand.learner,
        "mlflow_run": dg.MetadataValue.url(link),
        "mlflow_run_id": run_id,
        "gates": dg.MetadataValue.md(result.gates.to_markdown()),
        "champion": result.champion_note,
    }


def holdout_metrics_schema(holdout_metrics: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(
        holdout_metrics, HoldoutMetricsSchema, LOCATION.table("holdout_metrics"), ["model"]
    )


def promotion_gates(
    cfg: GosalesConfig, context, candidate_model, holdout_metrics
) -> dg.AssetCheckResult:
    _, division = LOCATION.partition(context)
    report = training.promotion_gates(holdout_metrics, cfg.gates, division)
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.summary(),
        metadata={
            "gates": dg.MetadataValue.md(report.to_markdown()),
            "failed": len(report.failed),
        },
    )


def leakage_gauntlet(candidate_model, holdout_metrics) -> dg.AssetCheckResult:
    report = training.leakage_report(holdout_metrics, int(candidate_model["train_holdout_overlap"]))
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.summary(),
        metadata={"gauntlet": dg.MetadataValue.md(report.to_markdown())},
    )


def build(cfg: GosalesConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    out = {"key_prefix": LOCATION.prefix, **COMMON}
    outs = {
        "candidate_model": dg.AssetOut(
            kinds={"lightgbm", "mlflow"},
            description="Calibrated LightGBM (+ logistic baseline) trained on pooled snapshots with "
            "customer-grouped splits; logged to MLflow (one run per partition).",
            **out,
        ),
        "holdout_metrics": dg.AssetOut(
            kinds={"polars", "duckdb"},
            metadata={
                **warehouse_metadata(LOCATION.table("holdout_metrics")),
                **contract_column_schema(HoldoutMetricsSchema),
            },
            description="Out-of-time holdout metrics per model (candidate, baseline, rule, champion, oracle).",
            **out,
        ),
        "candidate_report": dg.AssetOut(
            kinds={"python"},
            description="What the model card needs: features, importance, calibration bins, MLflow run.",
            **out,
        ),
    }
    candidate, holdout = LOCATION.key("candidate_model"), LOCATION.key("holdout_metrics")
    # partitions_def on every check: without it a check step loads every partition of its asset
    gate_check = {
        "partitions_def": parts,
        "blocking": False,  # promoted_model decides on the same gates; a refusal is no failure
        "additional_ins": ins("holdout_metrics"),
    }
    return [
        dg.multi_asset(
            outs=outs,
            ins=ins("feature_matrix", "labels", *RAW, "ground_truth"),
            partitions_def=parts,
            name="gosales_candidate",
            retry_policy=EXTERNAL_RETRY,  # logs its run and model to MLflow
        )(permanent_errors_fail_at_once(bind(gosales_candidate, cfg))),
        dg.asset_check(
            asset=holdout,
            partitions_def=parts,
            blocking=True,
            description="Holdout metrics table matches its schema.",
        )(holdout_metrics_schema),
        dg.asset_check(
            asset=candidate,
            description="Promotion gates: absolute floors (AUC, lift@10%, calibration MAE), beat the rule, not worse than the champion.",
            **gate_check,
        )(bind(promotion_gates, cfg)),
        dg.asset_check(
            asset=candidate,
            description="Leakage gauntlet: zero train/holdout customer overlap; AUC not above the oracle's beyond noise.",
            **gate_check,
        )(leakage_gauntlet),
    ]
