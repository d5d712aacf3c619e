"""One candidate per ``target × cutoff``: fit and evaluate (:func:`training.fit_and_evaluate`),
log everything to MLflow, and write the model card. No Dagster: the tracker and the run
context are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from leadconv_assets import training
from leadconv_assets.config import LeadconvConfig
from shared import lifecycle
from shared.dagster_helpers import md_table
from shared.gates import GateReport
from shared.modelcard import importance_rows, write_model_card
from shared.plots import model_card_plots

CARD_METRICS = [
    "pr_auc",
    "auc",
    "lift_at_10",
    "capture_at_10",
    "brier",
    "brier_skill",
    "calibration_mae",
]


@dataclass
class Candidate:
    """What the candidate step publishes: the model bundle, its holdout metrics, the gates,
    the leakage gauntlet, the model card and the MLflow run."""

    bundle: dict[str, Any]
    metrics: pl.DataFrame
    summary: dict[str, float]
    gates: GateReport
    leakage: GateReport
    card: dict[str, Any]
    card_paths: tuple[Any, Any]
    run_id: str
    link: str
    champion_note: str


def model_card_for(
    cfg: LeadconvConfig,
    model_name: str,
    target: str,
    cutoff: date,
    partition_key: str,
    metrics: pl.DataFrame,
    report: dict,
) -> tuple[dict, Any, Any]:
    """Build and write the model card of one candidate; returns ``(card, md_path, json_path)``."""
    gates = training.promotion_gates(metrics, cfg.gates)
    by_model = {r["model"]: r for r in metrics.to_dicts()}
    t = cfg.target(target)
    cand, base = by_model["candidate"], by_model["baseline"]
    importance = report["importance"]
    oracle = (
        f", oracle (true probabilities) {by_model['oracle']['pr_auc']:.4f}"
        if "oracle" in by_model
        else ""
    )
    card = {
        "title": f"{model_name} — cutoff {cutoff}",
        "summary": f"Probability that a lead's **{t.event}** happens within {t.window_days} days of its "
        f"first engagement, scored at the decision time (first engagement + {cfg.feature_window_hours} h). "
        f"Gates: {gates.summary()}.",
        "intended_use": "Prioritize open leads for follow-up; probabilities are calibrated.",
        "limitations": "Associations, not causal effects of campaign steps (see campaign_recommendations). "
        "Leads resolved before the decision time are not scored.",
        "data": {"snapshot": report["snapshot"], **report["split"], **report["stats"]},
        "metrics": {m: {n: r[m] for n, r in by_model.items()} for m in CARD_METRICS},
        "pr_auc_oracle_gap": by_model.get("oracle", {}).get("pr_auc", float("nan"))
        - cand["pr_auc"],
        "pr_auc_vs_baseline": cand["pr_auc"] / base["pr_auc"],
        "calibration_method": report["calibration_method"],
        "learner": report.get("learner"),
        "validation_pr_auc": report.get("validation_pr_auc"),
        "gates_markdown": gates.to_markdown(),
        "gates_passed": gates.passed,
        "calibration_markdown": md_table(report["calibration_bins"]),
        "importance": importance_rows(
            importance["feature"].to_list(), importance["gain"].to_list()
        ),
        "plots": model_card_plots(
            report["calibration_bins"],
            importance.select("feature", "gain"),
            "LightGBM gain, or |coefficient| without LightGBM",  # as feature_importance
        ),
        "features": report["features"],
        "top_features": importance.head(15)["feature"].to_list(),
        "links": {"mlflow_run": report["mlflow_link"]},
        "notes": [
            f"Learner chosen on the validation slice (inside training, before the holdout): "
            f"{report.get('learner')}; validation PR-AUC "
            + ", ".join(f"{k} {v:.4f}" for k, v in (report.get("validation_pr_auc") or {}).items())
            + ".",
            "Feature importance (LightGBM gain, or |coefficient| without LightGBM; top 10): "
            + ", ".join(
                f"`{f}` {share:.0%}"
                for f, share in importance.head(10).select("feature", "share").rows()
            ),
            f"Holdout PR-AUC: candidate {cand['pr_auc']:.4f}, rules baseline {base['pr_auc']:.4f}"
            f"{oracle}.",
        ],
    }
    md_path, json_path = write_model_card("leadconv", model_name, partition_key, card)
    return card, md_path, json_path


def learner_meta(choice: Any) -> dict[str, Any]:
    """Which learner won and every learner's PR-AUC on the validation slice (model meta)."""
    return {
        "learner": choice.learner,
        "validation_pr_auc": dict(choice.validation_pr_auc),
        "validation_rows": choice.validation_rows,
        "validation_positives": choice.validation_positives,
    }


def _log_run(
    tracker: Any,
    cfg: LeadconvConfig,
    res: Any,
    gates: GateReport,
    clean: dict,
    target: str,
    cutoff: date,
) -> str:
    """Log the params, metrics, model and artifacts of one fit to the active run; returns the model URI."""
    tracker.log_params(
        {
            **cfg.training.model_dump(),
            **res.split.describe(),
            "calibration_method": res.calibration_method,
            "snapshot": clean["snapshot"],
            "snapshot_hash": clean["content_hash"],
            "feature_window_hours": cfg.feature_window_hours,
        }
    )
    for row in res.metrics.to_dicts():
        tracker.log_metrics(
            {k: v for k, v in row.items() if isinstance(v, float)}, prefix=f"{row['model']}_"
        )
    tracker.log_metrics(res.stats)
    model_uri = tracker.log_model(res.candidate)
    tracker.log_dict(
        {
            "features": res.features,
            "target": target,
            "cutoff": cutoff.isoformat(),
            "window_days": cfg.target(target).window_days,
            "feature_window_hours": cfg.feature_window_hours,
            "calibration_method": res.calibration_method,
            "snapshot": clean["snapshot"],
            "categories": res.categories,
            **learner_meta(res.choice),
        },
        lifecycle.MODEL_META,
    )
    tracker.log_dict(
        {"keys": res.train_ids.select("org_id", "enrollment_id").rows()}, "train_ids.json"
    )
    tracker.log_text(gates.to_markdown(), "gates.md")
    tracker.log_holdout_scores(res.holdout["score_candidate"])
    tracker.log_text(md_table(res.importance, max_rows=100), "feature_importance.md")
    return model_uri


def train_candidate(
    cfg: LeadconvConfig,
    tracker: Any,
    run_context: Any,
    partition_key: str,
    model_name: str,
    target: str,
    cutoff: date,
    features: pl.DataFrame,
    labels: pl.DataFrame,
    clean: dict,
) -> Candidate:
    """Fit, evaluate against the champion, log to MLflow (one run per partition, started with
    ``run_context``) and write the model card of one ``target × cutoff`` candidate."""
    champion_scorer, champion_cutoff, champion_note = lifecycle.champion_holdout_scorer(
        tracker, model_name, cutoff, training.matrix
    )
    res = training.fit_and_evaluate(
        features, labels, cfg, target, cutoff, clean["truth"].get("truth"),
        champion_scorer=champion_scorer, champion_cutoff=champion_cutoff,
    )  # fmt: skip
    gates = training.promotion_gates(res.metrics, cfg.gates)
    tags = {"target": target, "cutoff": cutoff.isoformat(), "model_name": model_name}
    with tracker.partition_run(
        run_context, "leadconv", "leadconv/candidate_model", partition_key, tags=tags
    ) as run:
        model_uri = _log_run(tracker, cfg, res, gates, clean, target, cutoff)
        run_id, link = run.info.run_id, tracker.run_link(run)
    cand = res.metrics.filter(pl.col("model") == "candidate").to_dicts()[0]
    leakage = training.leakage_report(res.metrics, res.stats, cfg.target(target).window_days)
    bundle = {
        "model_uri": model_uri,
        "run_id": run_id,
        "target": target,
        "cutoff": cutoff,
        "features": res.features,
        "split": res.split.describe(),
        "calibration_method": res.calibration_method,
        **learner_meta(res.choice),
        # the gauntlet's verdict travels with the candidate: promoted_model decides on it
        "leakage_passed": leakage.passed,
        "leakage_summary": leakage.summary(),
    }
    report = {
        "split": res.split.describe(),
        "stats": res.stats,
        "importance": res.importance,
        "calibration_bins": res.calibration,
        "calibration_method": res.calibration_method,
        "features": res.features,
        "mlflow_link": link,
        "snapshot": clean["snapshot"],
        **learner_meta(res.choice),
    }
    card, md_path, json_path = model_card_for(
        cfg, model_name, target, cutoff, partition_key, res.metrics, report
    )
    return Candidate(
        bundle=bundle,
        metrics=res.metrics,
        summary={k: cand[k] for k in ("pr_auc", "auc", "lift_at_10", "brier_skill")},
        gates=gates,
        leakage=leakage,
        card=card,
        card_paths=(md_path, json_path),
        run_id=run_id,
        link=link,
        champion_note=champion_note,
    )
