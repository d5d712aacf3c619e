"""Lead-conversion Dagster assets and checks: thin wiring over the pure modules.

Graph::

    extract (read-only source → quality gates → immutable snapshot)
      └─ clean (rules with counts)
           ├─ features ──┐  target × cutoff; checks: schema, truncation_invariance
           ├─ labels ────┤  target × cutoff; check: schema (an open window is never labeled)
           │             └─ leadconv_candidate (one step, three outputs):
           │                  candidate_model   checks: promotion_gates, leakage_gauntlet
           │                  holdout_metrics
           │                  model_card
           │                    └─ promoted_model (registers leadconv_<target>; champion only if gates pass)
           ├─ campaign_recommendations (adjusted effects; the report as metadata)
           └─ lead_scores (daily; each target's champion → SQL upsert + history)
                          checks: schema (blocking), score_drift (warning)

Every check is a blocking ``check_spec`` evaluated inside the step that
produces its asset (a plain ``@asset_check`` on a partitioned asset would load
every partition). A failed gate fails the candidate step after its outputs are
written, so ``promoted_model`` is skipped (the previous champion keeps
serving) while ``holdout_metrics`` and ``model_card`` show why.
"""

import os
from datetime import date, timedelta
from typing import Any

import dagster as dg
import polars as pl

from leadconv_assets import features as lc_features
from leadconv_assets import labels as lc_labels
from leadconv_assets import recommend as lc_recommend
from leadconv_assets import schemas as lc_schemas
from leadconv_assets import scores_db, training
from leadconv_assets import scoring as lc_scoring
from leadconv_assets.config import LeadconvConfig, end_of_day
from leadconv_assets.defs import features as stage_features
from leadconv_assets.defs import inputs as stage_inputs
from shared import lifecycle
from shared.dagster_helpers import (
    OWNERS,
    md_table,
    numeric_metadata,
    schema_check_result,
    warehouse_metadata,
)
from shared.drift import psi
from shared.home import reports_dir
from shared.modelcard import render_model_card, write_model_card
from shared.partitions import cutoff_multi_partitions, parse_partition_key, to_date
from shared.tracking import MLflowTracker

PREFIX = ["leadconv"]
GROUP = "leadconv"
DIMS = ("cutoff", "target")
CODE_VERSION = "1"
SCORES_URL_ENV = "SALESML_LEADCONV_SCORES_URL"


class LeadScoresConfig(dg.Config):
    """Run options of ``lead_scores``; unset values come from the leadconv config (``scoring``)."""

    split: str | None = None  # all | test | train
    dry_run: bool | None = None
    target_url: str | None = None
    days_back: int | None = None
    table: str = "lead_scores"
    history_table: str = "lead_score_history"


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([*PREFIX, name])


def model_name(target: str) -> str:
    """Registered MLflow model name of a target."""
    return f"leadconv_{target}"


def _partition(context: Any) -> tuple[date, str]:
    parts = parse_partition_key(context.partition_key, DIMS)
    return to_date(parts["cutoff"]), parts["target"]


def model_card_for(
    cfg: LeadconvConfig,
    target: str,
    cutoff: date,
    partition_key: str,
    metrics: pl.DataFrame,
    report: dict,
) -> tuple[dict, Any, Any]:
    """Build and write the model card of one candidate; returns ``(card, md_path, json_path)``."""
    gates = training.promotion_gates(metrics, cfg.gates)
    names = [
        "pr_auc",
        "auc",
        "lift_at_10",
        "capture_at_10",
        "brier",
        "brier_skill",
        "calibration_mae",
    ]
    by_model = {r["model"]: r for r in metrics.to_dicts()}
    t = cfg.target(target)
    card = {
        "title": f"{model_name(target)} — cutoff {cutoff}",
        "summary": f"Probability that a lead's **{t.event}** happens within {t.window_days} days of its "
        f"first engagement, scored at the decision time (first engagement + {cfg.feature_window_hours} h). "
        f"Gates: {gates.summary()}.",
        "intended_use": "Prioritize open leads for follow-up; probabilities are calibrated.",
        "limitations": "Associations, not causal effects of campaign steps (see campaign_recommendations). "
        "Leads resolved before the decision time are not scored.",
        "data": {"snapshot": report["snapshot"], **report["split"], **report["stats"]},
        "metrics": {m: {n: r[m] for n, r in by_model.items()} for m in names},
        "pr_auc_oracle_gap": by_model.get("oracle", {}).get("pr_auc", float("nan"))
        - by_model["candidate"]["pr_auc"],
        "pr_auc_vs_baseline": by_model["candidate"]["pr_auc"] / by_model["baseline"]["pr_auc"],
        "calibration_method": report["calibration_method"],
        "gates_markdown": gates.to_markdown(),
        "gates_passed": gates.passed,
        "calibration_markdown": md_table(report["calibration_bins"]),
        "features": report["features"],
        "top_features": report["importance"].head(15)["feature"].to_list(),
        "links": {"mlflow_run": report["mlflow_link"]},
        "notes": [
            "Feature importance (LightGBM gain share, top 10): "
            + ", ".join(
                f"`{f}` {share:.0%}"
                for f, share in report["importance"].head(10).select("feature", "share").rows()
            ),
            "Holdout PR-AUC: candidate "
            + f"{by_model['candidate']['pr_auc']:.4f}, baseline {by_model['baseline']['pr_auc']:.4f}"
            + (
                f", oracle (true probabilities) {by_model['oracle']['pr_auc']:.4f}"
                if "oracle" in by_model
                else ""
            )
            + ".",
        ],
    }
    md_path, json_path = write_model_card("leadconv", model_name(target), partition_key, card)
    return card, md_path, json_path


def build_assets(cfg: LeadconvConfig) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """All leadconv assets and checks; returns ``(assets, checks, partitions)``."""
    parts = cutoff_multi_partitions("target", list(cfg.targets), cfg.cutoffs)
    daily = dg.DailyPartitionsDefinition(start_date=cfg.scoring_start.isoformat())
    common = {"group_name": GROUP, "owners": OWNERS, "code_version": CODE_VERSION}
    clean_in = {"clean": dg.AssetIn(key("clean"))}

    stages = {"training": parts, "daily": daily}

    # --- candidate ---------------------------------------------------------------
    @dg.multi_asset(
        outs={
            "candidate_model": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"lightgbm", "mlflow"},
                description="Calibrated LightGBM and a logistic-regression baseline (fixed seeds) trained "
                "before an out-of-time holdout with an embargo >= the label window; logged to MLflow.",
                **common,
            ),
            "holdout_metrics": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"polars", "duckdb"},
                metadata=warehouse_metadata("leadconv.holdout_metrics"),
                description="Holdout metrics per model (candidate, baseline, rule = training prevalence, champion, oracle; keyed by target and cutoff_date): "
                "PR-AUC, ROC-AUC, Brier and Brier skill, calibration, lift and capture at 5/10/20%.",
                **common,
            ),
            "model_card": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"markdown"},
                description="Model card per target and cutoff (markdown + JSON under reports/): data and "
                "split, PR-AUC against the baseline and the oracle, calibration, lift, gates, feature "
                "importance, snapshot, MLflow link. Written even when a gate fails.",
                **common,
            ),
        },
        ins={
            "features": dg.AssetIn(key("features")),
            "labels": dg.AssetIn(key("labels")),
            **clean_in,
        },
        partitions_def=parts,
        check_specs=[
            dg.AssetCheckSpec(
                "promotion_gates",
                asset=key("candidate_model"),
                blocking=True,
                description="Promotion gates: PR-AUC >= pr_auc_ratio_min x the logistic baseline on the "
                "same holdout, Brier skill > brier_skill_min, enough holdout positives; lift@10% reported.",
            ),
            dg.AssetCheckSpec(
                "leakage_gauntlet",
                asset=key("candidate_model"),
                blocking=True,
                description="Leakage: no enrollment in both training and holdout, a gap >= the label "
                "window between them, and no PR-AUC above the oracle's beyond noise.",
            ),
        ],
        name="leadconv_candidate",
    )
    def leadconv_candidate(context, tracker: MLflowTracker, features, labels, clean):
        cutoff, target = _partition(context)
        truth = clean["truth"].get("truth")
        champion_scorer, champion_cutoff, champion_note = lifecycle.champion_holdout_scorer(
            tracker, model_name(target), cutoff, training.matrix
        )
        res = training.fit_and_evaluate(
            features,
            labels,
            cfg,
            target,
            cutoff,
            truth,
            champion_scorer=champion_scorer,
            champion_cutoff=champion_cutoff,
        )
        gates = training.promotion_gates(res.metrics, cfg.gates)
        with tracker.partition_run(
            context,
            "leadconv",
            "leadconv/candidate_model",
            str(context.partition_key),
            tags={"target": target, "cutoff": cutoff.isoformat(), "model_name": model_name(target)},
        ) as run:
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
                    {k: v for k, v in row.items() if isinstance(v, float)},
                    prefix=f"{row['model']}_",
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
                },
                lifecycle.MODEL_META,
            )
            tracker.log_dict(
                {"keys": res.train_ids.select("org_id", "enrollment_id").rows()}, "train_ids.json"
            )
            tracker.log_text(gates.to_markdown(), "gates.md")
            tracker.log_holdout_scores(res.holdout["score_candidate"])
            tracker.log_text(md_table(res.importance, max_rows=100), "feature_importance.md")
            run_id, link = run.info.run_id, tracker.run_link(run)
        cand = res.metrics.filter(pl.col("model") == "candidate").to_dicts()[0]
        summary = {k: cand[k] for k in ("pr_auc", "auc", "lift_at_10", "brier_skill")}
        bundle = {
            "model_uri": model_uri,
            "run_id": run_id,
            "target": target,
            "cutoff": cutoff,
            "features": res.features,
            "split": res.split.describe(),
            "calibration_method": res.calibration_method,
        }
        yield dg.Output(
            bundle,
            "candidate_model",
            metadata={
                **numeric_metadata(summary),
                "baseline_pr_auc": training.metric(res.metrics, "baseline", "pr_auc"),
                "oracle_pr_auc": training.metric(res.metrics, "oracle", "pr_auc"),
                "mlflow_run": dg.MetadataValue.url(link),
                "mlflow_run_id": run_id,
                "gates": dg.MetadataValue.md(gates.to_markdown()),
                "champion_comparison": champion_note,
            },
        )
        yield dg.Output(
            res.metrics,
            "holdout_metrics",
            metadata={
                "metrics": dg.MetadataValue.md(
                    md_table(
                        res.metrics.select(
                            "model", "n", "positives", "pr_auc", "auc", "brier_skill", "lift_at_10"
                        )
                    )
                )
            },
        )
        report = {
            "split": res.split.describe(),
            "stats": res.stats,
            "importance": res.importance,
            "calibration_bins": res.calibration,
            "calibration_method": res.calibration_method,
            "features": res.features,
            "mlflow_link": link,
            "snapshot": clean["snapshot"],
        }
        card, md_path, json_path = model_card_for(
            cfg, target, cutoff, str(context.partition_key), res.metrics, report
        )
        yield dg.Output(
            {
                "markdown_path": str(md_path),
                "json_path": str(json_path),
                "gates_passed": gates.passed,
            },
            "model_card",
            metadata={
                "card": dg.MetadataValue.md(render_model_card(card)),
                "markdown_path": str(md_path),
                "gates_passed": gates.passed,
            },
        )
        yield dg.AssetCheckResult(
            check_name="promotion_gates",
            asset_key=key("candidate_model"),
            passed=gates.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=gates.summary(),
            metadata={
                "gates": dg.MetadataValue.md(gates.to_markdown()),
                "failed": len(gates.failed),
            },
        )
        leak = training.leakage_report(res.metrics, res.stats, cfg.target(target).window_days)
        yield dg.AssetCheckResult(
            check_name="leakage_gauntlet",
            asset_key=key("candidate_model"),
            passed=leak.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=leak.summary(),
            metadata={"gauntlet": dg.MetadataValue.md(leak.to_markdown())},
        )

    # --- promotion ---------------------------------------------------------------
    @dg.asset(
        key=key("promoted_model"),
        partitions_def=parts,
        ins={
            "candidate_model": dg.AssetIn(key("candidate_model")),
            "holdout_metrics": dg.AssetIn(key("holdout_metrics")),
        },
        kinds={"mlflow"},
        metadata=warehouse_metadata("leadconv.model_registry"),
        description="Registers leadconv_<target> in MLflow and moves the `champion` alias — only when "
        "every gate passes (PR-AUC >= 1.05 x baseline, Brier skill > 0).",
        **common,
    )
    def promoted_model(context, tracker: MLflowTracker, candidate_model, holdout_metrics):
        cutoff, target = _partition(context)
        gates = training.promotion_gates(holdout_metrics, cfg.gates)
        return lifecycle.decide(
            context,
            tracker,
            "leadconv",
            model_name(target),
            candidate_model,
            gates.passed,
            gates.summary(),
            {"target": target, "cutoff": cutoff},
        )

    # --- recommendations ---------------------------------------------------------
    @dg.asset(
        key=key("campaign_recommendations"),
        ins=clean_in,
        kinds={"polars", "markdown"},
        metadata=warehouse_metadata("leadconv.campaign_effects"),
        description="Effect of every campaign step variant on every target, adjusted for who received it "
        "(AIPW, 95% intervals), underperformers ranked by effect x volume, concrete prompt / delay / channel "
        "edits and the A/B sample size to confirm each. A report for a person: nothing changes automatically.",
        **common,
    )
    def campaign_recommendations(context, clean: dict) -> pl.DataFrame:
        tables, as_of = clean["tables"], clean["as_of"]
        lbl = {t: lc_labels.labels_for(cfg, tables, t, as_of) for t in cfg.targets}
        effects = lc_recommend.estimate_effects(tables, lbl, as_of, cfg.scoring.days_back)
        recs = lc_recommend.recommendations(effects, cfg.scoring.days_back)
        report = lc_recommend.report_markdown(effects, recs, as_of)
        folder = reports_dir() / "leadconv"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "campaign_recommendations.md").write_text(report)
        worst = (
            effects.filter(pl.col("rank_worst") == 1).select("target", "step_id").rows()
            if effects.height
            else []
        )
        context.add_output_metadata(
            {
                "report": dg.MetadataValue.md(report),
                "recommendations": recs.height,
                "worst_per_target": dg.MetadataValue.json({t: s for t, s in worst}),
                "report_path": str(folder / "campaign_recommendations.md"),
            }
        )
        return effects.with_columns(as_of=pl.lit(as_of)) if effects.height else effects

    # --- scoring -----------------------------------------------------------------
    @dg.asset(
        key=key("lead_scores"),
        partitions_def=daily,
        ins=clean_in,
        deps=[dg.AssetDep(key("promoted_model"), partition_mapping=dg.AllPartitionMapping())],
        kinds={"polars", "sql"},
        metadata=warehouse_metadata("leadconv.lead_scores_daily"),
        check_specs=[
            dg.AssetCheckSpec(
                "schema",
                asset=key("lead_scores"),
                blocking=True,
                description="Scores match the lead_scores contract (unique key, score in [0, 1]).",
            ),
            dg.AssetCheckSpec(
                "score_drift",
                asset=key("lead_scores"),
                description="PSI of today's scores against the champion's holdout scores, per target "
                "(< 0.1 stable, 0.1-0.25 moderate, > 0.25 significant: retrain). Warning only.",
            ),
        ],
        description="Enrollments first engaged in the last 90 days (not resolved before their decision "
        "time) scored with each target's champion, upserted into lead_scores keyed on (org_id, "
        "enrollment_id, label_col) with an append-only lead_score_history, in one transaction. Target DB: "
        f"config scoring.target_url, ${SCORES_URL_ENV} or a DuckDB file under the home. Split all/test/"
        "train (default test = rows the model was not trained on); dry_run counts without writing.",
        **common,
    )
    def lead_scores(context, config: LeadScoresConfig, tracker: MLflowTracker, clean: dict):
        day = to_date(context.partition_key)
        split = config.split or cfg.scoring.split
        dry_run = cfg.scoring.dry_run if config.dry_run is None else config.dry_run
        days_back = config.days_back or cfg.scoring.days_back
        tables = clean["tables"]
        as_of = min(end_of_day(day), clean["as_of"])
        feats = lc_features.build_features(tables, as_of, cfg.feature_window).filter(
            pl.col("first_engagement_at") > as_of - timedelta(days=days_back)
        )
        frames, notes, drift, unmeasured = [], {}, {}, {}
        for target in cfg.targets:
            name = model_name(target)
            champ = tracker.champion(name)
            if champ is None:
                notes[target] = unmeasured[target] = "no champion"
                continue
            meta = tracker.load_dict(champ.run_id, lifecycle.MODEL_META)
            train_keys = tracker.load_dict(champ.run_id, "train_ids.json")["keys"]
            lbl = lc_labels.labels_for(cfg, tables, target, as_of).filter(
                ~pl.col("resolved_before_decision")
            )
            rows = feats.join(
                lbl.select("org_id", "enrollment_id", "window_closed"),
                on=["org_id", "enrollment_id"],
            )
            if rows.height == 0:
                notes[target] = unmeasured[target] = "no leads to score"
                continue
            model = tracker.load_model(champ.model_uri)
            p = model.predict_proba(
                training.matrix(rows, meta["features"], cfg.scoring.missing_features)
            )[:, 1]
            trained = pl.DataFrame(
                train_keys, schema={"org_id": pl.Utf8, "enrollment_id": pl.Utf8}, orient="row"
            ).with_columns(_trained=pl.lit(True))
            frames.append(
                rows.select("org_id", "enrollment_id", "window_closed")
                .with_columns(
                    label_col=pl.lit(target),
                    score=pl.Series(p).clip(0, 1),
                    model_name=pl.lit(name),
                    model_version=pl.lit(champ.version),
                    run_id=pl.lit(champ.run_id),
                    scored_at=pl.lit(as_of),
                )
                .join(trained, on=["org_id", "enrollment_id"], how="left")
                .with_columns(
                    split=pl.when(pl.col("_trained"))
                    .then(pl.lit("train"))
                    .otherwise(pl.lit("test"))
                )
                .drop("_trained")
            )
            notes[target] = f"v{champ.version}"
            base = tracker.holdout_scores(champ.run_id)
            if base is None:
                unmeasured[target] = "no champion holdout scores"
            else:
                drift[target] = psi(base, p)
        scored = pl.concat(frames) if frames else pl.DataFrame(schema=lc_scoring.SCORES_SCHEMA)
        chosen = scores_db.select_split(scored, split)  # type: ignore[arg-type]
        url = (
            config.target_url
            or cfg.scoring.target_url
            or os.environ.get(SCORES_URL_ENV)
            or scores_db.default_url()
        )
        # validate first: a frame that breaks the contract raises and writes nothing
        out, result = lc_scoring.write_scores(
            url,
            chosen,
            table=config.table,
            history_table=config.history_table,
            dry_run=dry_run,
        )
        counts = {
            k: v
            for k, v in result.to_dict().items()
            if isinstance(v, int) and not isinstance(v, bool)
        }
        yield dg.Output(
            out,
            metadata={
                **numeric_metadata(counts),
                "dry_run": dry_run,
                "split": split,
                "target_db": result.target,
                "champions": dg.MetadataValue.json(notes),
                "as_of": as_of.isoformat(),
            },
        )
        yield schema_check_result(
            out,
            lc_schemas.LeadScoresSchema,
            "leadconv.lead_scores",
            ["org_id", "enrollment_id", "label_col"],
            asset_key=key("lead_scores"),
            check_name="schema",
        )
        verdict = lc_scoring.drift_verdict(drift, unmeasured)
        yield dg.AssetCheckResult(
            check_name="score_drift",
            asset_key=key("lead_scores"),
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=verdict.description,
            metadata=verdict.metadata,
        )

    assets = [
        *stage_inputs.build(cfg, stages),
        *stage_features.build(cfg, stages),
        leadconv_candidate,
        promoted_model,
        campaign_recommendations,
        lead_scores,
    ]
    checks: list[Any] = []  # every check is a blocking check_spec evaluated inside its asset
    return assets, checks, {"training": parts, "daily": daily}
