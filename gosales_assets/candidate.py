"""One gosales candidate, from training to what its assets publish (no Dagster here).

:func:`evaluate` trains and judges the candidate out of time against the rule, the
champion and the oracle; :func:`log_run` logs it into the active MLflow run;
:func:`bundle` and :func:`report` are the payloads of ``candidate_model`` and
``candidate_report``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from gosales_assets import training
from gosales_assets.config import GosalesConfig
from shared.gates import GateReport, metric_of
from shared.metrics import calibration_bins, gains_table

SUMMARY_METRICS = ("auc", "pr_auc", "lift_at_10", "brier_skill", "calibration_mae")
TABLE_COLUMNS = ("model", "n", "positives", *SUMMARY_METRICS)


@dataclass
class CandidateResult:
    """A trained and judged candidate of one ``cutoff × division``."""

    ev: Any  # training.fit_and_evaluate's result
    cutoff: date
    division: str
    window_months: int
    window_reason: str  # configured, or widened for a sparse division (labels.choose_window)
    metrics: pl.DataFrame  # holdout metrics, with the champion's cutoff
    gates: GateReport
    oracle_auc: float
    oracle_gates: GateReport | None  # the gates' verdict on the true probabilities, or None
    bins: pl.DataFrame
    champion_note: str

    @property
    def candidate(self) -> Any:
        return self.ev.candidate

    @property
    def summary(self) -> dict[str, float]:
        """The candidate's headline metrics; NaN where not measured (one-class holdout)."""
        return {k: metric_of(self.metrics, "candidate", k) for k in SUMMARY_METRICS}


def evaluate(
    cfg: GosalesConfig,
    cutoff: date,
    division: str,
    *,
    feature_matrix: pl.DataFrame,
    labels: pl.DataFrame,
    customers: pl.DataFrame,
    transactions: pl.DataFrame,
    install_base: pl.DataFrame,
    ground_truth: pl.DataFrame,
    champion_scorer: Callable[..., Any] | None,
    champion_cutoff: date | None,
    champion_note: str,
) -> CandidateResult:
    """Train, then evaluate out of time against rule / champion / oracle."""
    window_choice = cfg.label_window(transactions, customers, division, cutoff)
    window = window_choice.months
    ev = training.fit_and_evaluate(
        customers=customers,
        transactions=transactions,
        install_base=install_base,
        ground_truth=ground_truth,
        cutoff=cutoff,
        division=division,
        divisions=cfg.divisions,
        window_months=window,
        cfg=cfg.training,
        feature_matrix=feature_matrix,
        labels=labels,
        champion_scorer=champion_scorer,
    )
    if champion_scorer is not None and "champion" not in ev.scores:
        champion_note += ": not compared (its features are no longer built)"
    # kept with the metrics so the gate (and its re-check) can refuse to replace a newer champion
    metrics = ev.metrics.with_columns(
        champion_cutoff=pl.lit(
            None if champion_cutoff is None else champion_cutoff.isoformat(), pl.Utf8
        )
    )
    # an AUC is null (not measured) on a holdout with one class: NaN, not a crash
    oracle_auc = metric_of(metrics, "oracle", "auc") if "oracle" in ev.scores else float("nan")
    return CandidateResult(
        ev=ev,
        cutoff=cutoff,
        division=division,
        window_months=window,
        window_reason=window_choice.reason,
        metrics=metrics,
        gates=training.promotion_gates(metrics, cfg.gates, division),
        oracle_auc=oracle_auc,
        oracle_gates=training.oracle_gate_report(ev.holdout, ev.scores, cfg.gates, division),
        bins=calibration_bins(ev.holdout["label"].to_numpy(), ev.scores["candidate"]),
        champion_note=champion_note,
    )


def log_run(
    tracker: Any, result: CandidateResult, training_params: dict[str, Any], meta_artifact: str
) -> str:
    """Log params, metrics, model, meta (as ``meta_artifact``), gates and holdout scores
    into the active MLflow run; returns the model's URI."""
    cand, ev = result.candidate, result.ev
    tracker.log_params(
        {
            **training_params,
            "window_months": result.window_months,
            "holdout_cutoff": ev.holdout_cutoff,
            "snapshots": ",".join(s.isoformat() for s in ev.snapshots),
            "calibration_method": cand.calibration_method,
            "best_iteration": cand.best_iteration,
            "learner": cand.learner,
        }
    )
    for row in result.metrics.to_dicts():
        tracker.log_metrics(
            {k: v for k, v in row.items() if isinstance(v, float)}, prefix=f"{row['model']}_"
        )
    tracker.log_metrics(
        {"oracle_gap_auc": result.oracle_auc - result.summary["auc"], **cand.train_stats}
    )
    model_uri = tracker.log_model(cand.model)
    tracker.log_dict(
        {
            "features": cand.features,
            "division": result.division,
            "cutoff": result.cutoff.isoformat(),
            "window_months": result.window_months,
            "calibration_method": cand.calibration_method,
        },
        meta_artifact,
    )
    tracker.log_text(result.gates.to_markdown(), "gates.md")
    # the baseline score_drift compares today's scores with, should this model serve
    tracker.log_holdout_scores(ev.scores["candidate"])
    return model_uri


def bundle(result: CandidateResult, model_uri: str, run_id: str) -> dict[str, Any]:
    """The ``candidate_model`` payload promotion registers."""
    return {
        "candidate": result.candidate,
        "model_uri": model_uri,
        "run_id": run_id,
        "division": result.division,
        "cutoff": result.cutoff,
        "window_months": result.window_months,
        "holdout_cutoff": result.ev.holdout_cutoff,
        "train_holdout_overlap": result.ev.overlap,
        "features": result.candidate.features,
    }


def report(result: CandidateResult, run_id: str, link: str) -> dict[str, Any]:
    """The ``candidate_report`` payload the model card reads."""
    cand = result.candidate
    return {
        "division": result.division,
        "cutoff": result.cutoff,
        "holdout_cutoff": result.ev.holdout_cutoff,
        "window_months": result.window_months,
        "window_reason": result.window_reason,
        "features": cand.features,
        "calibration_method": cand.calibration_method,
        "learner": cand.learner,
        "importance": cand.importance,
        "calibration_bins": result.bins,
        # capture curves of the models a sales team would compare (not the logistic baseline)
        "gains": gains_table(
            result.ev.holdout["label"].to_numpy(),
            {k: v for k, v in result.ev.scores.items() if k in ("candidate", "rule", "oracle")},
        ),
        "train_stats": cand.train_stats,
        "mlflow_run_id": run_id,
        "mlflow_link": link,
        "champion_note": result.champion_note,
        "best_iteration": cand.best_iteration,
        "oracle_gates": None if result.oracle_gates is None else result.oracle_gates.summary(),
    }
