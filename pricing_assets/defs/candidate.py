"""Stage ``candidate``: the training multi-asset ``pricing_training`` (point, range and
win-probability models plus ``model_metrics``, one MLflow run per partition) and the
gate checks on it: coverage, no_crossing, point_beats_rule (blocking); win_calibration,
drift (WARN)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from pricing_assets import models as pm
from pricing_assets import training
from pricing_assets.config import PricingConfig
from pricing_assets.defs._wiring import COMMON, bind, ins
from pricing_assets.location import LOCATION
from shared import lifecycle
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    md_table,
    not_measured,
    numeric_metadata,
    permanent_errors_fail_at_once,
    warehouse_metadata,
)
from shared.drift import psi_alarm, psi_label
from shared.gates import GateReport
from shared.metrics import calibration_bins, calibration_mae
from shared.tracking import MLflowTracker

CROSSING_METRICS = ("crossing_rows", "crossing_share")


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


def _log_run(context, tracker: MLflowTracker, res, gates: GateReport, bcfg, cutoff, bu):
    """One MLflow run of the partition: params, metrics, the servable bundle (one model),
    its meta, gates and coverage. Returns ``(bundle model URI, run id, run link)``."""
    with tracker.partition_run(
        context,
        "pricing",
        "pricing/pricing_training",
        context.partition_key,
        tags={"bu_id": bu, "cutoff": cutoff.isoformat(), "model_name": LOCATION.model_name(bu)},
    ) as run:
        tracker.log_params({**bcfg.model.model_dump(), "rho": res.rho, "cutoff": cutoff})
        for r in res.metrics.to_dicts():
            tracker.log_metrics({r["metric"]: r["value"]}, prefix=f"{r['component']}_{r['model']}_")
        uri = log_model(tracker, res.bundle(), "model")
        tracker.log_dict(
            {"cutoff": cutoff.isoformat(), "bu_id": bu, "features": list(res.point.features)},
            lifecycle.MODEL_META,
        )
        tracker.log_text(gates.to_markdown(), "gates.md")
        tracker.log_text(md_table(res.coverage), "coverage_by_family.md")
        return uri, run.info.run_id, tracker.run_link(run)


def _champion(tracker: MLflowTracker, bu: str, cutoff) -> tuple[Any, str]:
    """The serving champion bundle to judge this candidate against (None when nothing
    comparable serves) and a note saying which."""
    champ, _, _, note = lifecycle.serving_champion(tracker, LOCATION.model_name(bu), cutoff)
    return (tracker.load_model(champ.model_uri) if champ is not None else None), note


def _outputs(res, gates: GateReport, uri: str, run_id: str, link: str, bu: str, note: str):
    common_meta = {"mlflow_run": dg.MetadataValue.url(link), "mlflow_run_id": run_id}
    point_summary = {
        f"{m}_mae": res.metric("point", m, "mae")
        for m in (*pm.POINT_LEARNERS, "random_forest", "segment_median")
    }
    yield dg.Output(
        {"model": res.point, "model_uri": uri, "run_id": run_id, "bu_id": bu},
        "point_model",
        metadata={
            **numeric_metadata(point_summary),
            "learner": res.point.learner,  # chosen on the calibration slice by MSE
            "champion": note,
            **common_meta,
        },
    )
    yield dg.Output(
        {
            "model": res.range,
            "model_uri": uri,
            "run_id": run_id,
            "mlflow_link": link,
            "rho": res.rho,
            "coverage": res.coverage,
            "bu_id": bu,
        },
        "range_model",
        metadata={
            "coverage": res.metric("range", "cqr_lightgbm", "coverage"),
            "coverage_raw_quantiles": res.metric("range", "cqr_lightgbm", "coverage_raw_quantiles"),
            "within_deal_correlation": res.rho,
            "coverage_by_family": dg.MetadataValue.md(md_table(res.coverage)),
            **common_meta,
        },
    )
    yield dg.Output(
        {"model": res.win, "model_uri": uri, "run_id": run_id, "mlflow_link": link, "bu_id": bu},
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
                md_table(res.metrics.select("component", "model", "learner", "metric", "value"), 80)
            ),
        },
    )


def pricing_training(
    cfg: PricingConfig,
    context,
    tracker: MLflowTracker,
    line_features,
    quotes,
    line_truth,
    quote_truth,
):
    """Train, evaluate out of time against baseline/rule/truth, log one MLflow run."""
    cutoff, bu = LOCATION.partition(context)
    bcfg = cfg.bu(bu)
    champion, note = _champion(tracker, bu, cutoff)
    res = training.fit_partition(
        line_features, quotes, bcfg, cutoff, line_truth, quote_truth, champion=champion
    )
    gates = training.promotion_gates(res.metrics, bcfg)
    uri, run_id, link = _log_run(context, tracker, res, gates, bcfg, cutoff, bu)
    yield from _outputs(res, gates, uri, run_id, link, bu, note)


# --- checks ---------------------------------------------------------------------------


def metrics_check_result(report: GateReport, names: list[str]) -> dg.AssetCheckResult:
    """Blocking check result of the gates ``names`` of ``report``.

    A gate the check expects but the report does not contain fails the check
    (naming it): an empty selection never passes.
    """
    chosen = [g for g in report.gates if g.name in names]
    missing = [n for n in names if n not in {g.name for g in chosen}]
    sub = GateReport.of(chosen)
    passed = sub.passed and not missing and bool(chosen)
    description = "; ".join(g.sentence() for g in chosen)  # what was measured, pass or fail
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
    """WARN drift check from the ``drift`` rows (PSI and its p-value) of ``model_metrics``.

    A feature drifts when its PSI is above 0.25 *and* sampling alone explains it with
    probability below 1% (:func:`shared.drift.psi_alarm`): a few hundred holdout lines give
    large PSIs by chance. Nothing measured (no drift rows, or only NaN PSI) is its own
    state: a failed check with ``measured: False`` and the reason, never a pass.
    """
    rows = model_metrics.filter(pl.col("component") == "drift")
    d = rows.pivot(on="metric", index="learner", values="value") if rows.height else rows
    if not d.height or "psi" not in d.columns:
        return not_measured("model_metrics has no PSI rows")
    d = d.rename({"learner": "feature"}).filter(pl.col("psi").is_not_nan())
    if not d.height:
        return not_measured("model_metrics has no finite PSI rows")
    if "p_value" not in d.columns:
        d = d.with_columns(p_value=pl.lit(float("nan")))
    d = d.with_columns(
        status=pl.col("psi").map_elements(psi_label, return_dtype=pl.Utf8),
        alarm=pl.struct("psi", "p_value").map_elements(
            lambda r: psi_alarm(r["psi"], r["p_value"]), return_dtype=pl.Boolean
        ),
    )
    alarms = d.filter(pl.col("alarm"))["feature"].to_list()
    return dg.AssetCheckResult(
        passed=not alarms,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"drifted (PSI > 0.25, p < 0.01): {alarms}"
        if alarms
        else "no drift beyond noise",
        metadata={
            "measured": True,
            "max_psi": float(d["psi"].max()),
            "drifted": ", ".join(alarms),
            "psi": dg.MetadataValue.md(md_table(d)),
        },
    )


def _gates_check(
    cfg: PricingConfig, context, model_metrics, names: list[str]
) -> dg.AssetCheckResult:
    """The check of the gates ``names`` (ERROR severity, not blocking: ``promoted_model``
    decides on the same report and records a refusal as a decision)."""
    _, bu = LOCATION.partition(context)
    return metrics_check_result(training.promotion_gates(model_metrics, cfg.bu(bu)), names)


def _with_metadata(res: dg.AssetCheckResult, extra: dict[str, Any]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=res.passed,
        severity=res.severity,
        description=res.description,
        metadata={**res.metadata, **extra},
    )


def coverage_gate(cfg: PricingConfig, context, range_model, model_metrics) -> dg.AssetCheckResult:
    res = _gates_check(cfg, context, model_metrics, ["holdout_coverage"])
    return _with_metadata(
        res, {"coverage_by_family": dg.MetadataValue.md(md_table(range_model["coverage"]))}
    )


def no_crossing(cfg: PricingConfig, context, model_metrics) -> dg.AssetCheckResult:
    res = _gates_check(cfg, context, model_metrics, ["no_crossing"])
    rows = model_metrics.filter(
        (pl.col("component") == "range") & pl.col("metric").is_in(CROSSING_METRICS)
    )
    found = dict(zip(rows["metric"].to_list(), rows["value"].to_list(), strict=True))
    return _with_metadata(res, numeric_metadata(found))


def point_beats_rule(cfg: PricingConfig, context, model_metrics) -> dg.AssetCheckResult:
    return _gates_check(cfg, context, model_metrics, ["point_vs_rule"])


def beats_champion(cfg: PricingConfig, context, model_metrics) -> dg.AssetCheckResult:
    return _gates_check(cfg, context, model_metrics, ["mse_vs_champion"])


def win_calibration(cfg: PricingConfig, context, win_probability, quotes) -> dg.AssetCheckResult:
    cutoff, bu = LOCATION.partition(context)
    y, p = training.win_holdout_predictions(
        quotes, win_probability["model"], bu, cutoff, cfg.bu(bu).horizons.win_holdout_days
    )
    if len(y) == 0:
        return not_measured("no out-of-time quotes closed in the holdout window")
    verdict = training.win_calibration_verdict(y, p)
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=verdict.summary(),
        metadata={
            "measured": True,
            "n": len(y),
            "calibration_mae": float(calibration_mae(y, p, 5)),
            "gates": dg.MetadataValue.md(verdict.to_markdown()),
            "bins": dg.MetadataValue.md(md_table(calibration_bins(y, p, 5))),
        },
    )


def drift(context, range_model, model_metrics) -> dg.AssetCheckResult:
    return drift_check_result(model_metrics)


def _model_out(description: str, kinds: set[str], **extra: Any) -> dg.AssetOut:
    return dg.AssetOut(
        key_prefix=LOCATION.prefix, kinds=kinds, description=description, **extra, **COMMON
    )


def build(cfg: PricingConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    ml = {"lightgbm", "mlflow"}
    outs = {
        "point_model": _model_out(
            "LightGBM discount point model with a RandomForest baseline and a segment-median rule.",
            ml,
        ),
        "range_model": _model_out(
            "LightGBM 5/50/95% quantile models conformalized with MAPIE (CQR) on a time-ordered "
            "calibration slice, per family (Mondrian) where a family has >= 200 calibration rows.",
            ml,
        ),
        "win_probability": _model_out(
            "P(win | quote, discount): LightGBM (monotone in discount) + logistic baseline.", ml
        ),
        "model_metrics": _model_out(
            "Out-of-time metrics (long format): point MAE/RMSE vs baseline and rule, coverage "
            "overall and per family, truth comparisons, win AUC/PR-AUC/F1/Brier/calibration vs oracle, drift PSI.",
            {"polars", "duckdb"},
            metadata=warehouse_metadata(LOCATION.table("model_metrics")),
        ),
    }
    metrics_in = ins("model_metrics")

    # The gate checks are ERROR severity and not blocking: promoted_model decides on the same
    # report, records a refusal as a decision and the run succeeds (the champion keeps serving).
    def check(asset: str, description: str, blocking: bool = False, extra=metrics_in):
        return dg.asset_check(
            partitions_def=parts,
            asset=LOCATION.key(asset),
            blocking=blocking,
            additional_ins=extra,
            description=description,
        )

    return [
        dg.multi_asset(
            outs=outs,
            ins=ins("line_features", "quotes", "line_truth", "quote_truth"),
            partitions_def=parts,
            name="pricing_training",
            retry_policy=EXTERNAL_RETRY,  # logs its run and models to MLflow
        )(permanent_errors_fail_at_once(bind(pricing_training, cfg))),
        check(
            "range_model",
            "Conformal 90% range covers the out-of-time holdout within tolerance of 0.90 "
            "(config tolerance, widened to the 99% binomial interval of the effective holdout size).",
        )(bind(coverage_gate, cfg)),
        check("range_model", "No crossing: lower <= median <= upper on every holdout line.")(
            bind(no_crossing, cfg)
        ),
        check(
            "point_model",
            "The LightGBM point model beats the segment-median rule on holdout MAE.",
        )(bind(point_beats_rule, cfg)),
        check(
            "point_model",
            "Beat the champion: the candidate's point MAE is not worse than the serving "
            "champion's on this holdout (re-applied with its own encoders) by more than one "
            "deal-clustered paired standard error; skipped, visibly, when no earlier champion serves.",
        )(bind(beats_champion, cfg)),
        check(
            "win_probability",
            "Win-probability calibration on the out-of-time quotes (5 equal-mass bins): WARN when "
            "the calibration MAE exceeds 0.10 + 2.5 x the MAE a calibrated model shows on this many "
            "quotes by chance, or the Brier score loses to the base rate beyond its paired SE.",
            extra=ins("quotes"),
        )(bind(win_calibration, cfg)),
        check(
            "range_model",
            "Drift (WARN): PSI of key features and of the predicted discount, holdout vs training "
            "baseline (bins fixed on the baseline; < 0.1 stable, > 0.25 significant).",
            blocking=False,
        )(drift),
    ]
