"""Candidate stage: one step ``leadconv_candidate`` with three outputs (``candidate_model``,
``holdout_metrics``, ``model_card``) and the gate checks of the candidate
(``promotion_gates``, ``leakage_gauntlet``: ERROR severity, not blocking — ``promoted_model``
decides on the same verdicts and records a refusal as a decision, so the run succeeds)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from leadconv_assets import candidate as lc_candidate
from leadconv_assets import training
from leadconv_assets.config import LeadconvConfig
from leadconv_assets.defs import COMMON, LOCATION, check, clean_in
from leadconv_assets.defs.reports import model_card_output
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    bind,
    md_table,
    numeric_metadata,
    permanent_errors_fail_at_once,
    warehouse_metadata,
)
from shared.tracking import MLflowTracker

HOLDOUT_COLUMNS = ("model", "n", "positives", "pr_auc", "auc", "brier_skill", "lift_at_10")


def leadconv_candidate(
    cfg: LeadconvConfig, context, tracker: MLflowTracker, features, labels, clean
):
    cutoff, target = LOCATION.partition(context)
    name, pk = LOCATION.model_name(target), str(context.partition_key)
    cand = lc_candidate.train_candidate(
        cfg, tracker, context, pk, name, target, cutoff, features, labels, clean
    )
    yield from candidate_outputs(cand)


def baseline_verdict(gates) -> str:
    """The ``pr_auc_vs_baseline`` state: pass, FAIL (bad model) or insufficient evidence."""
    g = next((g for g in gates.gates if g.name == "pr_auc_vs_baseline"), None)
    return "not measured" if g is None else g.result()


def candidate_outputs(cand: lc_candidate.Candidate):
    """The three outputs and two check results of one candidate."""
    gates = cand.gates
    yield dg.Output(
        cand.bundle,
        "candidate_model",
        metadata={
            **numeric_metadata(cand.summary),
            "baseline_pr_auc": training.metric(cand.metrics, "baseline", "pr_auc"),
            "oracle_pr_auc": training.metric(cand.metrics, "oracle", "pr_auc"),
            "pr_auc_diff": training.metric(cand.metrics, "candidate", "pr_auc_diff"),
            "pr_auc_diff_se": training.metric(cand.metrics, "candidate", "pr_auc_diff_se"),
            "learner": str(cand.bundle.get("learner", "")),
            **numeric_metadata(
                dict(cand.bundle.get("validation_pr_auc", {})), prefix="validation_pr_auc_"
            ),
            "baseline_verdict": baseline_verdict(gates),
            "mlflow_run": dg.MetadataValue.url(cand.link),
            "mlflow_run_id": cand.run_id,
            "gates": dg.MetadataValue.md(gates.to_markdown()),
            "champion_comparison": cand.champion_note,
        },
    )
    yield dg.Output(
        cand.metrics,
        "holdout_metrics",
        metadata={"metrics": dg.MetadataValue.md(md_table(cand.metrics.select(*HOLDOUT_COLUMNS)))},
    )
    yield model_card_output(cand)
    yield dg.AssetCheckResult(
        check_name="promotion_gates",
        asset_key=LOCATION.key("candidate_model"),
        passed=gates.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=gates.summary(),
        metadata={
            "gates": dg.MetadataValue.md(gates.to_markdown()),
            "failed": len(gates.failed),
            "baseline_verdict": baseline_verdict(gates),
        },
    )
    yield dg.AssetCheckResult(
        check_name="leakage_gauntlet",
        asset_key=LOCATION.key("candidate_model"),
        passed=cand.leakage.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=cand.leakage.summary(),
        metadata={"gauntlet": dg.MetadataValue.md(cand.leakage.to_markdown())},
    )


def build(cfg: LeadconvConfig, parts: dict[str, Any]) -> list:
    """The ``leadconv_candidate`` multi-asset on the training partitions."""
    return [
        dg.multi_asset(
            outs={
                "candidate_model": dg.AssetOut(
                    key_prefix=LOCATION.prefix,
                    kinds={"lightgbm", "mlflow"},
                    description="The better (validation PR-AUC, on the last slice of the training "
                    "period) of calibrated LightGBM and regularized logistic regression (fixed seeds), "
                    "trained before an out-of-time holdout with an embargo >= the label window; logged "
                    "to MLflow with the learner and both validation scores.",
                    **COMMON,
                ),
                "holdout_metrics": dg.AssetOut(
                    key_prefix=LOCATION.prefix,
                    kinds={"polars", "duckdb"},
                    metadata=warehouse_metadata("leadconv.holdout_metrics"),
                    description="Holdout metrics per model (candidate, baseline = rules baseline of "
                    "smoothed conversion rates per source x campaign, rule = training prevalence, "
                    "champion, oracle; the learner and its validation PR-AUCs; keyed by target and cutoff_date): PR-AUC, ROC-AUC, "
                    "Brier and Brier skill, calibration, lift and capture at 5/10/20%.",
                    **COMMON,
                ),
                "model_card": dg.AssetOut(
                    key_prefix=LOCATION.prefix,
                    kinds={"markdown"},
                    description="Model card per target and cutoff (markdown + JSON under reports/): data "
                    "and split, PR-AUC against the baseline and the oracle, calibration, lift, gates, "
                    "feature importance, snapshot, MLflow link. Written even when a gate fails.",
                    **COMMON,
                ),
            },
            ins={
                "features": dg.AssetIn(LOCATION.key("features")),
                "labels": dg.AssetIn(LOCATION.key("labels")),
                **clean_in(),
            },
            partitions_def=parts["training"],
            check_specs=[
                check(
                    "promotion_gates",
                    "candidate_model",
                    "Promotion gates: PR-AUC vs the rules baseline judged with the paired bootstrap "
                    "SE of the difference (pass / FAIL (bad model) / insufficient evidence), Brier skill "
                    "> brier_skill_min, enough holdout positives, the champion; lift@10% reported.",
                    blocking=False,
                ),
                check(
                    "leakage_gauntlet",
                    "candidate_model",
                    "Leakage: no enrollment in both training and holdout, a gap >= the label "
                    "window between them, and no PR-AUC above the oracle's beyond noise.",
                    blocking=False,
                ),
            ],
            name="leadconv_candidate",
            retry_policy=EXTERNAL_RETRY,  # logs its run and model to MLflow
        )(permanent_errors_fail_at_once(bind(leadconv_candidate, cfg))),
    ]
