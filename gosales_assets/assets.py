"""GoSales Dagster assets and checks: thin wiring over the pure modules.

Graph (``division × cutoff`` unless noted)::

    customers, transactions, install_base, ground_truth   (unpartitioned, validated)
        └─ feature_matrix ──┐   checks: schema, truncation_invariance (blocking)
        └─ labels ──────────┤   check: schema
                            ├─ candidate_model ─┐  checks: promotion_gates, leakage_gauntlet (blocking)
                            ├─ holdout_metrics  │  check: schema
                            └─ candidate_report │
                                 └─ model_card  └─ promoted_model ─ icp_scores (division only)  checks: schema, score_drift (WARN)
                                                        └─ whitespace (all divisions, unpartitioned)

The gates are blocking checks on ``candidate_model``: a failed gate skips
``promoted_model``, so the previous champion keeps serving, while
``holdout_metrics`` and ``model_card`` (not downstream of the candidate) still
show why.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dagster as dg
import polars as pl

from gosales_assets import inputs as gs_inputs
from gosales_assets import scoring as gs_scoring
from gosales_assets import training
from gosales_assets import whitespace as gs_whitespace
from gosales_assets.config import GosalesConfig
from gosales_assets.output_schemas import (
    HoldoutMetricsSchema,
    IcpScoresSchema,
    PromotionSchema,
    WhitespaceSchema,
)
from gosales_assets.retire import retire_divisions
from shared import lifecycle
from shared.dagster_helpers import (
    OWNERS,
    md_table,
    numeric_metadata,
    schema_check_result,
    warehouse_metadata,
)
from shared.drift import SIGNIFICANT, psi, psi_label
from shared.metrics import calibration_bins
from shared.modelcard import write_model_card
from shared.partitions import cutoff_multi_partitions, parse_partition_key, to_date
from shared.sources import SourceResource
from shared.tracking import MLflowTracker

PREFIX = ["gosales"]
GROUP = "gosales"
DIMS = ("cutoff", "division")
CODE_VERSION = "1"


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([*PREFIX, name])


def model_name(division: str) -> str:
    """Registered MLflow model name of a division."""
    return f"gosales_{division}"


def _partition(context: Any) -> tuple[date, str]:
    parts = parse_partition_key(context.partition_key, DIMS)
    return to_date(parts["cutoff"]), parts["division"]


def _drift_not_measured(reason: str) -> dg.AssetCheckResult:
    """A visible non-pass: drift that was not measured must not read as stable."""
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=reason,
        metadata={"measured": False, "reason": reason},
    )


def build_assets(cfg: GosalesConfig) -> tuple[list[Any], list[Any], dg.PartitionsDefinition]:
    """All gosales assets and checks for one configuration.

    Returns ``(assets, checks, partitions_def)``.
    """
    from gosales_assets import features as gs_features
    from gosales_assets import labels as gs_labels
    from gosales_assets import schemas as gs_schemas

    parts = cutoff_multi_partitions("division", cfg.divisions, cfg.cutoffs)
    division_parts = dg.StaticPartitionsDefinition(list(cfg.divisions))
    common = {"group_name": GROUP, "owners": OWNERS, "code_version": CODE_VERSION}
    raw_ins = {
        "customers": dg.AssetIn(key("customers")),
        "transactions": dg.AssetIn(key("transactions")),
        "install_base": dg.AssetIn(key("install_base")),
    }

    # --- validated inputs ---------------------------------------------------
    @dg.multi_asset(
        outs={
            "customers": dg.AssetOut(
                key_prefix=PREFIX,
                description="Customers, validated against the input contract.",
                metadata=warehouse_metadata("gosales.customers"),
                kinds={"polars", "duckdb"},
                **common,
            ),
            "transactions": dg.AssetOut(
                key_prefix=PREFIX,
                description="Transaction lines, validated (keys, dates, quantities, customers).",
                metadata=warehouse_metadata("gosales.transactions"),
                kinds={"polars", "duckdb"},
                **common,
            ),
            "install_base": dg.AssetOut(
                key_prefix=PREFIX,
                description="Install base (contract table `assets`); empty when the source has none.",
                kinds={"polars"},
                **common,
            ),
            "ground_truth": dg.AssetOut(
                key_prefix=PREFIX,
                description="True purchase probability per customer × division × cutoff (synthetic worlds only; empty for real data).",
                kinds={"polars"},
                **common,
            ),
        },
        name="gosales_inputs",
    )
    def gosales_inputs(context, source: SourceResource):
        """Read the source, validate every table, and only then write anything."""
        tables, described = gs_inputs.load_inputs(
            source.resolved_uri(), source.world_size, source.world_seed, cfg.window_months
        )
        as_of = gs_inputs.data_as_of(tables["transactions"])
        clean = gs_schemas.validate_inputs(
            {k: v for k, v in tables.items() if k != "ground_truth" and v is not None}, as_of
        )
        truth = tables.get("ground_truth")
        install = clean.get("assets")
        context.log.info(f"gosales inputs from {described}, as of {as_of}")
        meta = {"source": described, "as_of": as_of.isoformat()}
        yield dg.Output(clean["customers"], "customers", metadata=meta)
        yield dg.Output(clean["transactions"], "transactions", metadata=meta)
        yield dg.Output(
            install if install is not None else pl.DataFrame(), "install_base", metadata=meta
        )
        yield dg.Output(
            truth if truth is not None else pl.DataFrame(), "ground_truth", metadata=meta
        )

    # --- features and labels ------------------------------------------------
    @dg.asset(
        key=key("feature_matrix"),
        partitions_def=parts,
        ins=raw_ins,
        kinds={"polars"},
        description="One row per customer at the cutoff: RFM over 3/6/12/24 months (and 60-day-offset windows) "
        "for every division and the target, deltas, recency decay, tenure, cadence, trend, seasonality, "
        "division mix, install-base expiries — all strictly as of the cutoff.",
        **common,
    )
    def feature_matrix(context, customers, transactions, install_base) -> pl.DataFrame:
        cutoff, division = _partition(context)
        frame = gs_features.build_features(
            transactions, customers, install_base, cutoff, cfg.divisions, target_division=division
        )
        context.add_output_metadata(
            {"rows": frame.height, "features": len(gs_features.feature_columns(frame))}
        )
        return frame

    @dg.asset(
        key=key("labels"),
        partitions_def=parts,
        ins={"customers": raw_ins["customers"], "transactions": raw_ins["transactions"]},
        kinds={"polars"},
        description="1 if the customer bought into the division in (cutoff, cutoff + window]; only closed windows.",
        **common,
    )
    def labels(context, customers, transactions) -> pl.DataFrame:
        cutoff, division = _partition(context)
        frame = gs_labels.build_labels(
            transactions, customers, division, cutoff, cfg.window_for(division)
        )
        pos = int(frame["label"].sum())
        context.add_output_metadata(
            {"rows": frame.height, "positives": pos, "prevalence": pos / max(frame.height, 1)}
        )
        return frame

    # --- candidate, holdout metrics, report ----------------------------------
    @dg.multi_asset(
        outs={
            "candidate_model": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"lightgbm", "mlflow"},
                description="Calibrated LightGBM (+ logistic baseline) trained on pooled snapshots with "
                "customer-grouped splits; logged to MLflow (one run per partition).",
                **common,
            ),
            "holdout_metrics": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"polars", "duckdb"},
                metadata=warehouse_metadata("gosales.holdout_metrics"),
                description="Out-of-time holdout metrics per model (candidate, baseline, rule, champion, oracle).",
                **common,
            ),
            "candidate_report": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"python"},
                description="What the model card needs: features, importance, calibration bins, MLflow run.",
                **common,
            ),
        },
        ins={
            "feature_matrix": dg.AssetIn(key("feature_matrix")),
            "labels": dg.AssetIn(key("labels")),
            **raw_ins,
            "ground_truth": dg.AssetIn(key("ground_truth")),
        },
        partitions_def=parts,
        name="gosales_candidate",
    )
    def gosales_candidate(
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
        cutoff, division = _partition(context)
        window = cfg.window_for(division)
        champion_scorer, champion_cutoff, champion_note = lifecycle.champion_holdout_scorer(
            tracker, model_name(division), cutoff, training.matrix
        )
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
        cand, holdout, scores = ev.candidate, ev.holdout, ev.scores
        # kept with the metrics so the gate (and its re-check) can refuse to replace a newer champion
        metrics = ev.metrics.with_columns(
            champion_cutoff=pl.lit(
                None if champion_cutoff is None else champion_cutoff.isoformat(), pl.Utf8
            )
        )
        holdout_cutoff, overlap, snaps, features = (
            ev.holdout_cutoff,
            ev.overlap,
            ev.snapshots,
            cand.features,
        )
        tcfg = cfg.training
        gates = training.promotion_gates(metrics, cfg.gates, division)
        cand_row = metrics.filter(pl.col("model") == "candidate").to_dicts()[0]
        oracle_auc = (
            float(metrics.filter(pl.col("model") == "oracle")["auc"][0])
            if "oracle" in scores
            else float("nan")
        )
        bins = calibration_bins(holdout["label"].to_numpy(), scores["candidate"])

        with tracker.partition_run(
            context,
            "gosales",
            "gosales/candidate_model",
            context.partition_key,
            tags={
                "division": division,
                "cutoff": cutoff.isoformat(),
                "model_name": model_name(division),
            },
        ) as run:
            tracker.log_params(
                {
                    **tcfg.model_dump(),
                    "window_months": window,
                    "holdout_cutoff": holdout_cutoff,
                    "snapshots": ",".join(s.isoformat() for s in snaps),
                    "calibration_method": cand.calibration_method,
                    "best_iteration": cand.best_iteration,
                }
            )
            for row in metrics.to_dicts():
                tracker.log_metrics(
                    {k: v for k, v in row.items() if isinstance(v, float)},
                    prefix=f"{row['model']}_",
                )
            tracker.log_metrics(
                {"oracle_gap_auc": oracle_auc - cand_row["auc"], **cand.train_stats}
            )
            model_uri = tracker.log_model(cand.model)
            tracker.log_dict(
                {
                    "features": features,
                    "division": division,
                    "cutoff": cutoff.isoformat(),
                    "window_months": window,
                    "calibration_method": cand.calibration_method,
                },
                lifecycle.MODEL_META,
            )
            tracker.log_text(gates.to_markdown(), "gates.md")
            # the baseline score_drift compares today's scores with, should this model serve
            tracker.log_holdout_scores(scores["candidate"])
            run_id, link = run.info.run_id, tracker.run_link(run)

        bundle = {
            "candidate": cand,
            "model_uri": model_uri,
            "run_id": run_id,
            "division": division,
            "cutoff": cutoff,
            "window_months": window,
            "holdout_cutoff": holdout_cutoff,
            "train_holdout_overlap": overlap,
            "features": features,
        }
        summary = {
            k: cand_row[k]
            for k in ("auc", "pr_auc", "lift_at_10", "brier_skill", "calibration_mae")
        }
        yield dg.Output(
            bundle,
            "candidate_model",
            metadata={
                **numeric_metadata(summary),
                **numeric_metadata(cand.train_stats),
                "oracle_auc": oracle_auc,
                "calibration_method": cand.calibration_method,
                "mlflow_run": dg.MetadataValue.url(link),
                "mlflow_run_id": run_id,
                "gates": dg.MetadataValue.md(gates.to_markdown()),
                "champion": champion_note,
            },
        )
        yield dg.Output(
            metrics,
            "holdout_metrics",
            metadata={
                "metrics": dg.MetadataValue.md(
                    md_table(
                        metrics.select(
                            "model",
                            "n",
                            "positives",
                            "auc",
                            "pr_auc",
                            "lift_at_10",
                            "brier_skill",
                            "calibration_mae",
                        )
                    )
                )
            },
        )
        yield dg.Output(
            {
                "division": division,
                "cutoff": cutoff,
                "holdout_cutoff": holdout_cutoff,
                "window_months": window,
                "features": features,
                "calibration_method": cand.calibration_method,
                "importance": cand.importance,
                "calibration_bins": bins,
                "train_stats": cand.train_stats,
                "mlflow_run_id": run_id,
                "mlflow_link": link,
                "champion_note": champion_note,
                "best_iteration": cand.best_iteration,
            },
            "candidate_report",
        )

    # --- promotion ----------------------------------------------------------
    @dg.asset(
        key=key("promoted_model"),
        partitions_def=parts,
        ins={
            "candidate_model": dg.AssetIn(key("candidate_model")),
            "holdout_metrics": dg.AssetIn(key("holdout_metrics")),
        },
        kinds={"mlflow"},
        metadata=warehouse_metadata("gosales.model_registry"),
        description="Registers gosales_<division> in MLflow and moves the `champion` alias — only when every gate passes.",
        **common,
    )
    def promoted_model(
        context, tracker: MLflowTracker, candidate_model, holdout_metrics
    ) -> pl.DataFrame:
        cutoff, division = _partition(context)
        gates = training.promotion_gates(holdout_metrics, cfg.gates, division)
        return lifecycle.decide(
            context,
            tracker,
            "gosales",
            model_name(division),
            candidate_model,
            gates.passed,
            gates.summary(),
            {"division": division, "cutoff_date": cutoff},
        )

    # --- scoring ------------------------------------------------------------
    @dg.asset(
        key=key("icp_scores"),
        partitions_def=division_parts,
        ins=raw_ins,
        deps=[
            dg.AssetDep(
                key("promoted_model"),
                partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                    partition_dimension_name="division"
                ),
            )
        ],
        kinds={"polars", "duckdb"},
        metadata=warehouse_metadata("gosales.icp_scores"),
        # Re-score as soon as a new champion is promoted (a failed gate skips promoted_model,
        # so nothing re-scores then); evaluated by the location's automation sensor. Plain
        # eager() would wait forever: a division's scores depend on promoted_model at every
        # cutoff, and a cutoff whose gate failed never has one.
        automation_condition=dg.AutomationCondition.eager().without(
            ~dg.AutomationCondition.any_deps_missing()
        ),
        description="Every customer scored at the data's latest as-of date with the division's champion model "
        "(never at the training cutoff). Empty when no champion serves yet.",
        **common,
    )
    def icp_scores(
        context, tracker: MLflowTracker, customers, transactions, install_base
    ) -> pl.DataFrame:
        division = context.partition_key
        # a division dropped from the config must not keep showing in the published views
        for src, dest in retire_divisions(cfg.divisions):
            context.log.warning(f"division not in the config: moved {src} aside to {dest}")
        name = model_name(division)
        champ = tracker.champion(name)
        as_of = gs_inputs.data_as_of(transactions)
        if champ is None:
            context.log.warning(
                f"no champion for {name}: every candidate failed its gates; nothing scored"
            )
            context.add_output_metadata({"rows": 0, "champion": "none"})
            return pl.DataFrame(schema=gs_scoring.ICP_SCHEMA)
        out = gs_scoring.score_division(
            tracker,
            champ,
            division,
            as_of,
            customers,
            transactions,
            install_base,
            cfg.divisions,
            cfg.training.missing_features,
        )
        context.add_output_metadata(
            {
                "rows": out.height,
                "champion_version": champ.version,
                "mean_score": float(out["icp_score"].mean()),
                "as_of": as_of.isoformat(),
            }
        )
        return out

    @dg.asset(
        key=key("whitespace"),
        ins={
            "icp_scores": dg.AssetIn(key("icp_scores")),  # every division's partition
            "customers": raw_ins["customers"],
            "transactions": raw_ins["transactions"],
        },
        kinds={"polars", "duckdb"},
        metadata=warehouse_metadata("gosales.whitespace"),
        automation_condition=dg.AutomationCondition.eager(),  # re-rank when any division re-scores
        description="Next-best-action list: every (customer, division) not bought in the lookback, "
        "ranked by a blend of calibrated propensity, cross-division affinity lift and expected "
        "value, with a plain reason and each rep's first N marked in_capacity.",
        **common,
    )
    def whitespace(context, icp_scores, customers, transactions) -> pl.DataFrame:
        as_of = gs_inputs.data_as_of(transactions)
        if icp_scores.height == 0:
            raise ValueError(
                "gosales.whitespace: gosales.icp_scores is empty for every division (no champion "
                "serves yet); promote at least one division before ranking"
            )
        ranked = gs_whitespace.rank_whitespace(
            icp_scores, transactions, customers, as_of, cfg.whitespace
        )
        info = gs_whitespace.summary(ranked)
        context.add_output_metadata(
            {
                **{k: v for k, v in info.items() if k != "division_share_in_capacity"},
                "division_share_in_capacity": dg.MetadataValue.json(
                    info["division_share_in_capacity"]
                ),
                "as_of": as_of.isoformat(),
                "top": dg.MetadataValue.md(
                    md_table(
                        ranked.head(15).select(
                            "rank", "customer_name", "division", "score", "nba_reason"
                        )
                    )
                ),
            }
        )
        return ranked

    # --- model card ---------------------------------------------------------
    @dg.asset(
        key=key("model_card"),
        partitions_def=parts,
        ins={
            "holdout_metrics": dg.AssetIn(key("holdout_metrics")),
            "candidate_report": dg.AssetIn(key("candidate_report")),
        },
        kinds={"markdown"},
        description="Model card (markdown + JSON): data, features, metrics with the oracle gap, calibration curve, gates, MLflow link.",
        **common,
    )
    def model_card(context, holdout_metrics, candidate_report) -> dict:
        cutoff, division = _partition(context)
        gates = training.promotion_gates(holdout_metrics, cfg.gates, division)
        metric_names = [
            "auc",
            "pr_auc",
            "lift_at_5",
            "lift_at_10",
            "lift_at_20",
            "capture_at_10",
            "brier",
            "brier_skill",
            "calibration_mae",
        ]
        by_model = {r["model"]: r for r in holdout_metrics.to_dicts()}
        metrics = {m: {name: row[m] for name, row in by_model.items()} for m in metric_names}
        cand = by_model["candidate"]
        oracle_gap = (
            by_model["oracle"]["auc"] - cand["auc"] if "oracle" in by_model else float("nan")
        )
        card = {
            "title": f"{model_name(division)} — cutoff {cutoff}",
            "summary": f"Propensity to buy into **{division}** within {candidate_report['window_months']} months "
            f"of the cutoff. Gates: {gates.summary()}.",
            "intended_use": "Rank customers for cross-sell outreach in this division; probabilities are calibrated.",
            "limitations": "Trained on pooled snapshots up to the cutoff; judged out of time on held-out customers. "
            "Scores are associations, not causal effects of outreach.",
            "data": {
                "cutoff": cutoff.isoformat(),
                "holdout_cutoff": str(candidate_report["holdout_cutoff"]),
                "holdout_rows": cand["n"],
                "holdout_positives": cand["positives"],
                **candidate_report["train_stats"],
            },
            "metrics": metrics,
            "oracle_auc_gap": oracle_gap,
            "calibration_method": candidate_report["calibration_method"],
            "best_iteration": candidate_report["best_iteration"],
            "champion_comparison": candidate_report["champion_note"],
            "gates_markdown": gates.to_markdown(),
            "gates_passed": gates.passed,
            "calibration_markdown": md_table(candidate_report["calibration_bins"]),
            "features": candidate_report["features"],
            "top_features": candidate_report["importance"].head(15)["feature"].to_list(),
            "links": {"mlflow_run": candidate_report["mlflow_link"]},
        }
        md_path, json_path = write_model_card(
            "gosales", model_name(division), context.partition_key, card
        )
        from shared.modelcard import render_model_card

        context.add_output_metadata(
            {
                "card": dg.MetadataValue.md(render_model_card(card)),
                "markdown_path": str(md_path),
                "json_path": str(json_path),
                "oracle_auc_gap": oracle_gap,
            }
        )
        return {
            "markdown_path": str(md_path),
            "json_path": str(json_path),
            "gates_passed": gates.passed,
        }

    # --- checks -------------------------------------------------------------
    @dg.asset_check(
        asset=key("feature_matrix"),
        partitions_def=parts,  # without it a check step loads every partition of its asset
        blocking=True,
        description="Feature matrix matches its schema (unique customers, finite, no nulls).",
    )
    def feature_matrix_schema(feature_matrix: pl.DataFrame) -> dg.AssetCheckResult:
        return schema_check_result(
            feature_matrix,
            gs_schemas.FeatureMatrixSchema,
            "gosales.feature_matrix",
            ["customer_id"],
        )

    @dg.asset_check(
        asset=key("feature_matrix"),
        partitions_def=parts,  # without it a check step loads every partition of its asset
        blocking=True,
        additional_ins={k: v for k, v in raw_ins.items()},
        description="Leakage: features from the full data equal features from the data cut at the cutoff.",
    )
    def truncation_invariance(
        context, feature_matrix, customers, transactions, install_base
    ) -> dg.AssetCheckResult:
        cutoff, division = _partition(context)
        try:
            gs_features.assert_truncation_invariant(
                transactions, customers, install_base, cutoff, cfg.divisions, division
            )
        except AssertionError as err:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"differences": str(err)[:4000]},
            )
        return dg.AssetCheckResult(
            passed=True,
            metadata={"features_checked": len(gs_features.feature_columns(feature_matrix))},
        )

    @dg.asset_check(
        asset=key("labels"),
        partitions_def=parts,  # without it a check step loads every partition of its asset
        blocking=True,
        description="Labels match their schema (one 0/1 label per customer).",
    )
    def labels_schema(labels: pl.DataFrame) -> dg.AssetCheckResult:
        return schema_check_result(
            labels, gs_schemas.LabelsSchema, "gosales.labels", ["customer_id"]
        )

    @dg.asset_check(
        asset=key("holdout_metrics"),
        partitions_def=parts,  # without it a check step loads every partition of its asset
        blocking=True,
        description="Holdout metrics table matches its schema.",
    )
    def holdout_metrics_schema(holdout_metrics: pl.DataFrame) -> dg.AssetCheckResult:
        return schema_check_result(
            holdout_metrics, HoldoutMetricsSchema, "gosales.holdout_metrics", ["model"]
        )

    @dg.asset_check(
        asset=key("candidate_model"),
        partitions_def=parts,  # without it a check step loads every partition of its asset
        blocking=True,
        additional_ins={"holdout_metrics": dg.AssetIn(key("holdout_metrics"))},
        description="Promotion gates: absolute floors (AUC, lift@10%, calibration MAE), beat the rule, not worse than the champion.",
    )
    def promotion_gates(context, candidate_model, holdout_metrics) -> dg.AssetCheckResult:
        _, division = _partition(context)
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

    @dg.asset_check(
        asset=key("candidate_model"),
        partitions_def=parts,  # without it a check step loads every partition of its asset
        blocking=True,
        additional_ins={"holdout_metrics": dg.AssetIn(key("holdout_metrics"))},
        description="Leakage gauntlet: zero train/holdout customer overlap; AUC not above the oracle's beyond noise.",
    )
    def leakage_gauntlet(candidate_model, holdout_metrics) -> dg.AssetCheckResult:
        report = training.leakage_report(
            holdout_metrics, int(candidate_model["train_holdout_overlap"])
        )
        return dg.AssetCheckResult(
            passed=report.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=report.summary(),
            metadata={"gauntlet": dg.MetadataValue.md(report.to_markdown())},
        )

    @dg.asset_check(
        asset=key("icp_scores"),
        partitions_def=division_parts,
        blocking=True,
        description="icp_scores matches its schema (one score in [0, 1] per customer).",
    )
    def icp_scores_schema(icp_scores: pl.DataFrame) -> dg.AssetCheckResult:
        return schema_check_result(
            icp_scores, IcpScoresSchema, "gosales.icp_scores", ["customer_id"]
        )

    @dg.asset_check(
        asset=key("icp_scores"),
        partitions_def=division_parts,
        description="Drift (WARN): PSI of today's scores against the champion's scores on its "
        "out-of-time holdout (< 0.1 stable, 0.1-0.25 moderate, > 0.25 significant). A failure "
        "starts a retrain through the gosales_drift_retrain sensor.",
    )
    def score_drift(tracker: MLflowTracker, icp_scores: pl.DataFrame) -> dg.AssetCheckResult:
        # Not measured is not passed: a failed WARN check with measured=False says why.
        if icp_scores.height == 0:
            return _drift_not_measured("nothing scored")
        base = tracker.holdout_scores(icp_scores["run_id"][0])
        if base is None:
            return _drift_not_measured(
                "no holdout scores logged with this champion: drift not measured"
            )
        value = psi(base, icp_scores["icp_score"].to_numpy())
        return dg.AssetCheckResult(
            passed=value <= SIGNIFICANT,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"PSI {value:.3f} ({psi_label(value)})",
            metadata={
                "psi": value,
                "model_version": icp_scores["model_version"][0],
                "measured": True,
            },
        )

    @dg.asset_check(
        asset=key("whitespace"),
        blocking=True,
        description="whitespace matches its schema (unique ranks, signals in [0, 1], reasons <= 150 chars).",
    )
    def whitespace_schema(whitespace: pl.DataFrame) -> dg.AssetCheckResult:
        return schema_check_result(
            whitespace, WhitespaceSchema, "gosales.whitespace", ["customer_id", "division"]
        )

    @dg.asset_check(
        asset=key("promoted_model"),
        partitions_def=parts,  # without it a check step loads every partition of its asset
        blocking=True,
        description="Registry decision matches its schema.",
    )
    def promoted_model_schema(promoted_model: pl.DataFrame) -> dg.AssetCheckResult:
        return schema_check_result(promoted_model, PromotionSchema, "gosales.model_registry")

    assets = [
        gosales_inputs,
        feature_matrix,
        labels,
        gosales_candidate,
        promoted_model,
        icp_scores,
        whitespace,
        model_card,
    ]
    checks = [
        feature_matrix_schema,
        truncation_invariance,
        labels_schema,
        holdout_metrics_schema,
        promotion_gates,
        leakage_gauntlet,
        icp_scores_schema,
        score_drift,
        whitespace_schema,
        promoted_model_schema,
    ]
    return assets, checks, parts
