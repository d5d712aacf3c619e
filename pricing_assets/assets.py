"""Pricing Dagster assets and checks: thin wiring over the pure modules.

Graph (``bu_id × cutoff`` unless noted; key strings ``"<bu_id>|<cutoff>"``)::

    order_lines, quotes, line_truth, quote_truth     (pricing_inputs; unpartitioned, validated)
        └─ line_features                              check: schema (blocking)
             └─ point_model, range_model,             checks: point_beats_rule, coverage,
                win_probability, model_metrics          no_crossing (blocking); win_calibration,
                (pricing_training: one MLflow run)      drift (WARN)
                  ├─ justify
                  └─ promoted_model ─ price_recs_line, price_recs_deal   checks: schema (blocking)

The gates are blocking checks on the models: a failed gate skips
``promoted_model`` and the recommendations, so the previous champion keeps
serving, while ``model_metrics`` and ``justify`` still show why.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import polars as pl

from pricing_assets import inputs as pr_inputs
from pricing_assets import schemas as pr_schemas
from pricing_assets import training
from pricing_assets.config import PricingConfig
from pricing_assets.features import FEATURES, build_line_features
from pricing_assets.justify import driver_importance, top_drivers
from pricing_assets.recommend import coverage_summary
from shared.dagster_helpers import (
    OWNERS,
    md_table,
    numeric_metadata,
    schema_check_result,
    warehouse_metadata,
)
from shared.drift import psi_label
from shared.gates import Gate, GateReport, champion_gate
from shared.metrics import calibration_bins
from shared.modelcard import write_model_card
from shared.partitions import cutoff_multi_partitions, parse_partition_key, to_date
from shared.sources import SourceResource
from shared.tracking import MLflowTracker

PREFIX = ["pricing"]
GROUP = "pricing"
DIM = "bu_id"
DIMS = ("bu_id", "cutoff")
CODE_VERSION = "1"
MODEL_TYPES = ("point", "quantile", "win_prob")


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([*PREFIX, name])


def model_name(bu_id: str) -> str:
    """Registered MLflow model name of a business unit."""
    return f"pricing_recs_{bu_id}"


def _partition(context: Any) -> tuple[date, str]:
    parts = parse_partition_key(context.partition_key, DIMS)
    return to_date(parts["cutoff"]), parts["bu_id"]


def log_model(tracker: MLflowTracker, model: Any, name: str) -> str:
    """Log a pricing model in the active MLflow run; returns its model URI.

    cloudpickle, not the tracker's default skops: skops cannot serialize the
    range/win wrappers around MAPIE and LightGBM objects.
    """
    return tracker.log_model(
        model,
        name,
        serialization="cloudpickle",
        pip_requirements=["scikit-learn", "lightgbm", "mapie", "polars", "numpy"],
    )


def _empty(frame: pl.DataFrame | None) -> pl.DataFrame:
    return frame if frame is not None else pl.DataFrame()


def line_features_schema():
    """Pandera schema of ``line_features`` (feature columns are numeric, context may be missing)."""
    import pandera.polars as pa

    cols = {c: pa.Column(float, nullable=True) for c in FEATURES}
    cols.update(
        {
            "order_line_id": pa.Column(str, unique=True),
            "discount": pa.Column(float, pa.Check.in_range(0.0, 1.0, include_max=False)),
            "split": pa.Column(str, pa.Check.isin(["train", "calibration", "holdout"])),
        }
    )
    return pa.DataFrameSchema(cols)


CROSSING_METRICS = ("crossing_rows", "crossing_share")


def metrics_check_result(report: GateReport, names: list[str]) -> dg.AssetCheckResult:
    """Blocking check result of the gates ``names`` of ``report``.

    A gate the check expects but the report does not contain fails the check
    (naming it): an empty selection never passes.
    """
    chosen = [g for g in report.gates if g.name in names]
    missing = [n for n in names if n not in {g.name for g in chosen}]
    sub = GateReport.of(chosen)
    passed = sub.passed and not missing and bool(chosen)
    description = sub.summary() if chosen else ""
    if missing:
        description = f"expected gate(s) not evaluated: {missing}. {description}".strip()
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "gates": dg.MetadataValue.md(sub.to_markdown()),
            "missing_gates": ", ".join(missing),
        },
    )


def drift_check_result(model_metrics: pl.DataFrame) -> dg.AssetCheckResult:
    """WARN drift check from the ``drift`` rows (PSI) of ``model_metrics``.

    Nothing measured (no drift rows, or only NaN PSI) is its own state: a failed
    check with ``measured: False`` and the reason, never a pass.
    """
    d = model_metrics.filter(pl.col("component") == "drift").select(
        feature=pl.col("model"), psi=pl.col("value")
    )
    d = d.filter(pl.col("psi").is_not_nan())
    if not d.height:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description="drift not measured: model_metrics has no finite PSI rows",
            metadata={"measured": False, "reason": "no drift rows in model_metrics"},
        )
    d = d.with_columns(status=pl.col("psi").map_elements(psi_label, return_dtype=pl.Utf8))
    worst = float(d["psi"].max())
    return dg.AssetCheckResult(
        passed=bool(worst <= 0.25),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"measured": True, "max_psi": worst, "psi": dg.MetadataValue.md(md_table(d))},
    )


def newer_champion_rule(cutoff: date, champion_cutoff: date | str | None) -> Gate:
    """The newer-champion rule of :func:`shared.lifecycle.champion_gate` for one candidate.

    Fails when the serving champion was trained at a later cutoff than ``cutoff`` (a
    backfill of an older cutoff never takes ``champion`` from a newer model). The
    beat-the-champion half needs the champion re-applied to this holdout, which the
    pricing artifacts cannot do yet (encoders are not stored with the model): until
    then that half is reported as skipped, visibly.
    """
    frame = pl.DataFrame(
        {
            "model": ["candidate"],
            "cutoff_date": [cutoff.isoformat()],
            "champion_cutoff": [None if champion_cutoff is None else str(champion_cutoff)[:10]],
        }
    )
    return champion_gate(frame, "mae", higher_is_better=False)


def build_assets(cfg: PricingConfig) -> tuple[list[Any], list[Any], dg.PartitionsDefinition]:
    """All pricing assets and checks for one configuration: ``(assets, checks, partitions_def)``."""
    parts = cutoff_multi_partitions(DIM, cfg.business_units, cfg.cutoffs)
    common = {"group_name": GROUP, "owners": OWNERS, "code_version": CODE_VERSION}

    # --- validated inputs ---------------------------------------------------
    @dg.multi_asset(
        outs={
            "order_lines": dg.AssetOut(
                key_prefix=PREFIX,
                description="Order lines, validated against the input contract (prices, quantity, "
                "sell <= list, known bu_id, unique keys). Bad lines fail the run with a count and examples.",
                metadata=warehouse_metadata("pricing.order_lines"),
                kinds={"polars", "duckdb"},
                **common,
            ),
            "quotes": dg.AssetOut(
                key_prefix=PREFIX,
                description="Closed quotes (won/lost), validated against the input contract.",
                metadata=warehouse_metadata("pricing.quotes"),
                kinds={"polars", "duckdb"},
                **common,
            ),
            "line_truth": dg.AssetOut(
                key_prefix=PREFIX,
                description="True 5/10/50/90/95% discount quantiles per order line (synthetic worlds only; empty for real data).",
                kinds={"polars"},
                **common,
            ),
            "quote_truth": dg.AssetOut(
                key_prefix=PREFIX,
                description="True win probability per quote and its logit pieces (synthetic worlds only; empty for real data).",
                kinds={"polars"},
                **common,
            ),
        },
        name="pricing_inputs",
    )
    def pricing_inputs(context, source: SourceResource):
        """Read the source, validate every table, and only then write anything."""
        tables, described = pr_inputs.load_inputs(
            source.resolved_uri(), source.world_size, source.world_seed
        )
        as_of = pr_inputs.data_as_of(tables["order_lines"])
        clean = pr_schemas.validate_inputs(
            {"order_lines": tables["order_lines"], "quotes": tables["quotes"]},
            cfg.business_units,
            as_of,
        )
        context.log.info(f"pricing inputs from {described}, as of {as_of}")
        meta = {"source": described, "as_of": as_of.isoformat()}
        yield dg.Output(clean["order_lines"], "order_lines", metadata=meta)
        yield dg.Output(clean["quotes"], "quotes", metadata=meta)
        yield dg.Output(_empty(tables.get("line_truth")), "line_truth", metadata=meta)
        yield dg.Output(_empty(tables.get("quote_truth")), "quote_truth", metadata=meta)

    # --- features -------------------------------------------------------------
    @dg.asset(
        key=key("line_features"),
        partitions_def=parts,
        ins={"order_lines": dg.AssetIn(key("order_lines"))},
        kinds={"polars"},
        description="Every line of the business unit dated <= cutoff: discount target, quantity, log(quantity+1), "
        "encodings fitted on training rows only, trailing 30/180-day customer context strictly before the line's "
        "date, and the split (train / calibration / holdout).",
        **common,
    )
    def line_features(context, order_lines: pl.DataFrame) -> pl.DataFrame:
        cutoff, bu = _partition(context)
        h = cfg.bu(bu).horizons
        frame = build_line_features(order_lines, bu, cutoff, h.holdout_days, h.calibration_days)
        counts = dict(frame.group_by("split").len().iter_rows())
        context.add_output_metadata(
            {"rows": frame.height, **{f"{k}_rows": int(v) for k, v in counts.items()}}
        )
        return frame

    # --- training: one op, one MLflow run -------------------------------------
    @dg.multi_asset(
        outs={
            "point_model": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"lightgbm", "mlflow"},
                description="LightGBM discount point model with a RandomForest baseline and a segment-median rule.",
                **common,
            ),
            "range_model": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"lightgbm", "mlflow"},
                description="LightGBM 5/50/95% quantile models conformalized with MAPIE (CQR) on a time-ordered "
                "calibration slice, per family (Mondrian) where a family has >= 200 calibration rows.",
                **common,
            ),
            "win_probability": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"lightgbm", "mlflow"},
                description="P(win | quote, discount): LightGBM (monotone in discount) + logistic baseline.",
                **common,
            ),
            "model_metrics": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"polars", "duckdb"},
                metadata=warehouse_metadata("pricing.model_metrics"),
                description="Out-of-time metrics (long format): point MAE/RMSE vs baseline and rule, coverage "
                "overall and per family, truth comparisons, win AUC/PR-AUC/F1/Brier/calibration vs oracle, drift PSI.",
                **common,
            ),
        },
        ins={
            "line_features": dg.AssetIn(key("line_features")),
            "quotes": dg.AssetIn(key("quotes")),
            "line_truth": dg.AssetIn(key("line_truth")),
            "quote_truth": dg.AssetIn(key("quote_truth")),
        },
        partitions_def=parts,
        name="pricing_training",
    )
    def pricing_training(
        context, tracker: MLflowTracker, line_features, quotes, line_truth, quote_truth
    ):
        """Train, evaluate out of time against baseline/rule/truth, log one MLflow run."""
        cutoff, bu = _partition(context)
        bcfg = cfg.bu(bu)
        res = training.fit_partition(line_features, quotes, bcfg, cutoff, line_truth, quote_truth)
        gates = training.promotion_gates(res.metrics, bcfg)
        with tracker.partition_run(
            context,
            "pricing",
            "pricing/pricing_training",
            context.partition_key,
            tags={"bu_id": bu, "cutoff": cutoff.isoformat(), "model_name": model_name(bu)},
        ) as run:
            tracker.log_params({**bcfg.model.model_dump(), "rho": res.rho, "cutoff": cutoff})
            for r in res.metrics.to_dicts():
                tracker.log_metrics(
                    {r["metric"]: r["value"]}, prefix=f"{r['component']}_{r['model']}_"
                )
            uris = {
                "point": log_model(tracker, res.point.lgbm, "point"),
                "quantile": log_model(tracker, res.range, "quantile"),
                "win_prob": log_model(tracker, res.win, "win_prob"),
            }
            tracker.log_text(gates.to_markdown(), "gates.md")
            tracker.log_text(md_table(res.coverage), "coverage_by_family.md")
            run_id, link = run.info.run_id, tracker.run_link(run)
        common_meta = {"mlflow_run": dg.MetadataValue.url(link), "mlflow_run_id": run_id}
        point_summary = {
            f"{m}_mae": res.metric("point", m, "mae")
            for m in ("lightgbm", "random_forest", "segment_median")
        }
        yield dg.Output(
            {"model": res.point, "model_uri": uris["point"], "run_id": run_id, "bu_id": bu},
            "point_model",
            metadata={**numeric_metadata(point_summary), **common_meta},
        )
        yield dg.Output(
            {
                "model": res.range,
                "model_uri": uris["quantile"],
                "run_id": run_id,
                "rho": res.rho,
                "coverage": res.coverage,
                "bu_id": bu,
            },
            "range_model",
            metadata={
                "coverage": res.metric("range", "cqr_lightgbm", "coverage"),
                "coverage_raw_quantiles": res.metric(
                    "range", "cqr_lightgbm", "coverage_raw_quantiles"
                ),
                "within_deal_correlation": res.rho,
                "coverage_by_family": dg.MetadataValue.md(md_table(res.coverage)),
                **common_meta,
            },
        )
        yield dg.Output(
            {"model": res.win, "model_uri": uris["win_prob"], "run_id": run_id, "bu_id": bu},
            "win_probability",
            metadata={
                "roc_auc": res.metric("win", "lightgbm", "roc_auc"),
                "oracle_roc_auc": res.metric("win", "oracle", "roc_auc"),
                "logistic_roc_auc": res.metric("win", "logistic", "roc_auc"),
                **common_meta,
            },
        )
        yield dg.Output(
            res.metrics,
            "model_metrics",
            metadata={
                "gates": dg.MetadataValue.md(gates.to_markdown()),
                "metrics": dg.MetadataValue.md(
                    md_table(res.metrics.select("component", "model", "metric", "value"), 80)
                ),
            },
        )
        write_model_card(
            "pricing",
            model_name(bu),
            str(context.partition_key),
            {
                "title": f"{model_name(bu)} — cutoff {cutoff}",
                "summary": "Discount point model, conformal 90% range and win probability for one business unit.",
                "data": {
                    "bu_id": bu,
                    "cutoff": cutoff.isoformat(),
                    "holdout_lines": res.holdout.height,
                },
                "metrics": {
                    r["metric"]: {r["model"]: r["value"]}
                    for r in res.metrics.filter(pl.col("component") != "drift").to_dicts()
                },
                "gates_markdown": gates.to_markdown(),
                "features": FEATURES,
                "links": {"mlflow": link},
            },
        )

    # --- justification ----------------------------------------------------------
    @dg.asset(
        key=key("justify"),
        partitions_def=parts,
        ins={
            "point_model": dg.AssetIn(key("point_model")),
            "line_features": dg.AssetIn(key("line_features")),
        },
        kinds={"lightgbm", "polars", "duckdb"},
        metadata=warehouse_metadata("pricing.justify"),
        description="Per holdout line, the top 3 drivers of the point prediction from LightGBM's own "
        "feature contributions (pred_contrib), with a one-line explanation.",
        **common,
    )
    def justify(context, point_model, line_features) -> pl.DataFrame:
        cutoff, bu = _partition(context)
        hold = line_features.filter(pl.col("split") == "holdout")
        model = point_model["model"]
        out = top_drivers(model.lgbm, hold, model.features).with_columns(
            bu_id=pl.lit(bu), cutoff_date=pl.lit(cutoff)
        )
        context.add_output_metadata(
            {
                "rows": out.height,
                "top_drivers": dg.MetadataValue.md(md_table(driver_importance(out))),
            }
        )
        return out

    # --- promotion -------------------------------------------------------------
    @dg.asset(
        key=key("promoted_model"),
        partitions_def=parts,
        ins={
            "point_model": dg.AssetIn(key("point_model")),
            "range_model": dg.AssetIn(key("range_model")),
            "win_probability": dg.AssetIn(key("win_probability")),
            "model_metrics": dg.AssetIn(key("model_metrics")),
        },
        kinds={"mlflow"},
        metadata=warehouse_metadata("pricing.model_registry"),
        description="Registers the point, quantile and win-probability models as versions of "
        "pricing_recs_<bu_id> (tag model_type) and moves the `champion` alias (quantile model; "
        "`champion-point` / `champion-win_prob` for its companions) — only when every gate passes.",
        **common,
    )
    def promoted_model(
        context, tracker: MLflowTracker, point_model, range_model, win_probability, model_metrics
    ) -> pl.DataFrame:
        cutoff, bu = _partition(context)
        gates = training.promotion_gates(model_metrics, cfg.bu(bu))
        name = model_name(bu)
        versions: dict[str, str] = {}
        serving = tracker.champion(name)
        rule = newer_champion_rule(
            cutoff, serving.tags.get("cutoff") if serving is not None else None
        )
        gates = GateReport.of([*gates.gates, rule])
        if gates.passed:
            for mtype, bundle in zip(
                MODEL_TYPES, (point_model, range_model, win_probability), strict=True
            ):
                versions[mtype] = tracker.register(
                    name,
                    bundle["model_uri"],
                    tags={
                        "model_type": mtype,
                        "bu_id": bu,
                        "cutoff": cutoff.isoformat(),
                        "dagster_run_id": context.run_id,
                        "rho": f"{range_model['rho']:.4f}",
                    },
                )
            tracker.promote(name, versions["quantile"])
            client = tracker.client()
            for mtype in ("point", "win_prob"):
                client.set_registered_model_alias(name, f"champion-{mtype}", versions[mtype])
        champ = tracker.champion(name)
        reason = gates.summary()
        context.add_output_metadata(
            {
                "promoted": gates.passed,
                "model_name": name,
                "champion_version": champ.version if champ else "none",
                "reason": reason,
                "gates": dg.MetadataValue.md(gates.to_markdown()),
            }
        )
        return pl.DataFrame(
            {
                "bu_id": [bu],
                "cutoff_date": [cutoff],
                "model_name": [name],
                "point_version": [versions.get("point", "")],
                "quantile_version": [versions.get("quantile", "")],
                "win_prob_version": [versions.get("win_prob", "")],
                "promoted": [gates.passed],
                "champion_version": [champ.version if champ else ""],
                "reason": [reason],
                "mlflow_run_id": [range_model["run_id"]],
                "decided_at": [datetime.now(UTC).replace(tzinfo=None)],
            }
        )

    # --- recommendations ---------------------------------------------------------
    @dg.multi_asset(
        outs={
            "price_recs_line": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"polars", "duckdb"},
                metadata=warehouse_metadata("pricing.price_recs_line"),
                description="Per line: model range (before guardrails), guardrailed range, recommended discount "
                "rescaled to the deal target, final_recommended_price >= floor, coverage before/after guardrails.",
                **common,
            ),
            "price_recs_deal": dg.AssetOut(
                key_prefix=PREFIX,
                kinds={"polars", "duckdb"},
                metadata=warehouse_metadata("pricing.price_recs_deal"),
                description="Per deal: value-weighted median discount, a range assuming partially correlated line "
                "errors, the expected-margin-optimal discount P(win|d) x margin(d) and its impact vs the median.",
                **common,
            ),
        },
        ins={
            "line_features": dg.AssetIn(key("line_features")),
            "quotes": dg.AssetIn(key("quotes")),
            "range_model": dg.AssetIn(key("range_model")),
            "win_probability": dg.AssetIn(key("win_probability")),
        },
        deps=[key("promoted_model")],
        partitions_def=parts,
        name="pricing_recommendations",
    )
    def pricing_recommendations(context, line_features, quotes, range_model, win_probability):
        """Recommendations for the partition's latest deals (the holdout window up to the cutoff)."""
        cutoff, bu = _partition(context)
        bcfg = cfg.bu(bu)
        line_recs, deal_recs = training.recommend_partition(
            line_features,
            quotes,
            range_model["model"],
            win_probability["model"],
            range_model["rho"],
            bcfg,
            cutoff,
        )
        cov = coverage_summary(line_recs, deal_recs)
        yield dg.Output(
            line_recs,
            "price_recs_line",
            metadata={
                **numeric_metadata(cov),
                "guardrail_binding_share": float(line_recs["guardrail_binding"].mean()),
                "rows": line_recs.height,
            },
        )
        yield dg.Output(
            deal_recs,
            "price_recs_deal",
            metadata={
                **numeric_metadata(cov),
                "rows": deal_recs.height,
                "within_deal_correlation": float(range_model["rho"]),
                "total_expected_margin_impact": float(deal_recs["expected_margin_impact"].sum()),
                "mean_optimal_minus_median": float(
                    (deal_recs["optimal_discount"] - deal_recs["median_discount"]).mean()
                ),
            },
        )

    # --- checks --------------------------------------------------------------------
    def _metrics_check(context, model_metrics, names: list[str], check: str):
        _, bu = _partition(context)
        return metrics_check_result(training.promotion_gates(model_metrics, cfg.bu(bu)), names)

    @dg.asset_check(
        partitions_def=parts,
        asset=key("line_features"),
        blocking=True,
        description="line_features matches its schema (unique lines, discount in [0, 1), known split, numeric features).",
    )
    def line_features_schema_check(line_features: pl.DataFrame) -> dg.AssetCheckResult:
        return schema_check_result(
            line_features,
            line_features_schema(),
            "pricing.line_features",
            ["order_line_id"],
            check_name="line_features_schema_check",
        )

    @dg.asset_check(
        partitions_def=parts,
        asset=key("line_features"),
        blocking=True,
        additional_ins={"order_lines": dg.AssetIn(key("order_lines"))},
        description="Leakage: features of lines up to mid-holdout are identical when every later row is deleted.",
    )
    def truncation_invariance(context, line_features, order_lines) -> dg.AssetCheckResult:
        from pricing_assets.features import truncation_differences

        cutoff, bu = _partition(context)
        h = cfg.bu(bu).horizons
        diffs = truncation_differences(order_lines, bu, cutoff, h.holdout_days, h.calibration_days)
        return dg.AssetCheckResult(
            passed=not diffs,
            severity=dg.AssetCheckSeverity.ERROR,
            description="features are truncation invariant"
            if not diffs
            else f"features change when later rows are deleted: {diffs}",
            metadata={"differing_columns": len(diffs)},
        )

    @dg.asset_check(
        partitions_def=parts,
        asset=key("range_model"),
        blocking=True,
        additional_ins={"model_metrics": dg.AssetIn(key("model_metrics"))},
        description="Conformal 90% range covers the out-of-time holdout within tolerance of 0.90 "
        "(config tolerance, widened to the 99% binomial interval of the effective holdout size).",
    )
    def coverage_gate(context, range_model, model_metrics) -> dg.AssetCheckResult:
        res = _metrics_check(context, model_metrics, ["holdout_coverage"], "coverage_gate")
        return dg.AssetCheckResult(
            passed=res.passed,
            severity=res.severity,
            description=res.description,
            metadata={
                **res.metadata,
                "coverage_by_family": dg.MetadataValue.md(md_table(range_model["coverage"])),
            },
        )

    @dg.asset_check(
        partitions_def=parts,
        asset=key("range_model"),
        blocking=True,
        additional_ins={"model_metrics": dg.AssetIn(key("model_metrics"))},
        description="No crossing: lower <= median <= upper on every holdout line.",
    )
    def no_crossing(context, range_model, model_metrics) -> dg.AssetCheckResult:
        res = _metrics_check(context, model_metrics, ["no_crossing"], "no_crossing")
        rows = model_metrics.filter(
            (pl.col("component") == "range") & pl.col("metric").is_in(CROSSING_METRICS)
        )
        found = dict(zip(rows["metric"].to_list(), rows["value"].to_list(), strict=True))
        return dg.AssetCheckResult(
            passed=res.passed,
            severity=res.severity,
            description=res.description,
            metadata={**res.metadata, **numeric_metadata(found)},
        )

    @dg.asset_check(
        partitions_def=parts,
        asset=key("point_model"),
        blocking=True,
        additional_ins={"model_metrics": dg.AssetIn(key("model_metrics"))},
        description="The LightGBM point model beats the segment-median rule on holdout MAE.",
    )
    def point_beats_rule(context, point_model, model_metrics) -> dg.AssetCheckResult:
        return _metrics_check(context, model_metrics, ["point_mae_vs_rule"], "point_beats_rule")

    @dg.asset_check(
        partitions_def=parts,
        asset=key("win_probability"),
        additional_ins={"quotes": dg.AssetIn(key("quotes"))},
        description="Win-probability calibration on the out-of-time quotes (equal-mass bins): WARN above 0.10 "
        "calibration MAE or non-positive Brier skill.",
    )
    def win_calibration(context, win_probability, quotes) -> dg.AssetCheckResult:
        cutoff, bu = _partition(context)
        from pricing_assets.models import build_quote_features

        model = win_probability["model"]
        qf = build_quote_features(
            quotes, bu, cutoff, cfg.bu(bu).horizons.win_holdout_days, model.regions
        ).filter(pl.col("split") == "holdout")
        from shared.metrics import brier_skill, calibration_mae

        y = qf["label"].to_numpy()
        p = model.predict_proba(qf)
        mae_cal, skill = calibration_mae(y, p), brier_skill(y, p)
        return dg.AssetCheckResult(
            passed=bool(mae_cal <= 0.10 and skill > 0),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "calibration_mae": float(mae_cal),
                "brier_skill": float(skill),
                "n": len(y),
                "bins": dg.MetadataValue.md(md_table(calibration_bins(y, p, 5))),
            },
        )

    @dg.asset_check(
        partitions_def=parts,
        asset=key("range_model"),
        additional_ins={"model_metrics": dg.AssetIn(key("model_metrics"))},
        description="Drift (WARN): PSI of key features and of the predicted discount, holdout vs training "
        "baseline (bins fixed on the baseline; < 0.1 stable, > 0.25 significant).",
    )
    def drift(context, range_model, model_metrics) -> dg.AssetCheckResult:
        return drift_check_result(model_metrics)

    @dg.asset_check(
        partitions_def=parts,
        asset=key("price_recs_line"),
        blocking=True,
        description="price_recs_line matches its schema (final price >= floor, ranges ordered, discounts in [0, 1]).",
    )
    def price_recs_line_schema(price_recs_line: pl.DataFrame) -> dg.AssetCheckResult:
        return schema_check_result(
            price_recs_line,
            pr_schemas.PriceRecsLineSchema,
            "pricing.price_recs_line",
            ["order_line_id"],
            check_name="price_recs_line_schema",
        )

    @dg.asset_check(
        partitions_def=parts,
        asset=key("price_recs_deal"),
        blocking=True,
        description="price_recs_deal matches its schema (one row per deal, discounts in [0, 1]).",
    )
    def price_recs_deal_schema(price_recs_deal: pl.DataFrame) -> dg.AssetCheckResult:
        return schema_check_result(
            price_recs_deal,
            pr_schemas.PriceRecsDealSchema,
            "pricing.price_recs_deal",
            ["deal_id"],
            check_name="price_recs_deal_schema",
        )

    assets = [
        pricing_inputs,
        line_features,
        pricing_training,
        justify,
        promoted_model,
        pricing_recommendations,
    ]
    checks = [
        line_features_schema_check,
        truncation_invariance,
        coverage_gate,
        no_crossing,
        point_beats_rule,
        win_calibration,
        drift,
        price_recs_line_schema,
        price_recs_deal_schema,
    ]
    return assets, checks, parts
