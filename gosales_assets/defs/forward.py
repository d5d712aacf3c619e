"""Stage ``forward``: forward validation of the model serving after each ``cutoff ×
division`` decision (:mod:`gosales_assets.forward`).

One multi-asset computes both tables, because both score the same frozen model on the same
holdout customers and the partition's holdout frame (features as of the holdout cutoff) is
one of the prequential horizons: scored once, used twice.

- ``prequential``: the frozen model's metrics at every month end after its training
  cutoff (censored horizons listed, never gated); check ``early_gain`` (WARN).
- ``forward_validation``: capacity scenarios (top-K%, per rep, hybrid) on the partition's
  holdout with customer-block bootstrap 95% CIs, the ranking rule used, segment table;
  checks ``base_rate`` and ``confidence_intervals`` (WARN).

Both have a blocking schema check. Not in ``make demo``'s training selection: materialize
them on demand (``docs/results.md`` "GoSales forward validation" has their run time).
"""

from __future__ import annotations

import math
import time
from typing import Any

import dagster as dg
import polars as pl

from gosales_assets import forward as fw
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, RAW, bind, ins
from gosales_assets.location import LOCATION
from gosales_assets.output_schemas import ForwardValidationSchema, PrequentialSchema
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    contract_column_schema,
    md_table,
    not_measured,
    numeric_metadata,
    permanent_errors_fail_at_once,
    schema_check_result,
    warehouse_metadata,
)
from shared.plots import horizon_png, md_image
from shared.tracking import MLflowTracker


def gosales_forward(
    cfg: GosalesConfig,
    context,
    tracker: MLflowTracker,
    candidate_model,
    promoted_model,
    customers,
    transactions,
    install_base,
    ground_truth,
):
    """Prequential curve and forward validation of the model serving after the decision."""
    start = time.perf_counter()
    cutoff, division = LOCATION.partition(context)
    frozen = fw.frozen_model(
        tracker,
        LOCATION.model_name(division),
        promoted_model,
        candidate_model,
        cfg.training.missing_features,
    )
    result = fw.forward_validation(
        frozen,
        customers=customers,
        transactions=transactions,
        install_base=install_base if install_base.width else None,
        division=division,
        divisions=cfg.divisions,
        holdout_ids=fw.holdout_customers(customers, cfg.training),
        holdout_cutoff=candidate_model["holdout_cutoff"],
        cfg=cfg.forward,
        per_rep=cfg.whitespace.per_rep,
        lookback_months=cfg.whitespace.lookback_months,
        shrinkage=cfg.whitespace.value_shrinkage,
        truth=ground_truth if ground_truth.height else None,  # synthetic worlds: oracle AUC
    )
    curve = result.curve.with_columns(cutoff_date=pl.lit(cutoff)).select(
        "division", "cutoff_date", pl.exclude("division", "cutoff_date")
    )
    table = result.scenarios.select(
        pl.lit(division).alias("division"),
        pl.lit(cutoff).alias("cutoff_date"),
        pl.lit(result.holdout_cutoff).alias("holdout_cutoff"),
        pl.lit(frozen.label).alias("model"),
        pl.lit(result.rule).alias("rule"),
        pl.lit(result.holdout_n).alias("holdout_n"),
        pl.lit(result.holdout_positives).alias("holdout_positives"),
        pl.all(),
    )
    seconds = time.perf_counter() - start
    shown = curve.select(
        "horizon",
        "score_cutoff",
        "status",
        "reference",
        "n",
        "positives",
        *fw.CURVE_METRICS,
        "oracle_auc",
    )
    yield dg.Output(
        curve,
        "prequential",
        metadata={
            "model": frozen.label,
            "curve": dg.MetadataValue.md(
                md_image(horizon_png(curve), "prequential curve") + "\n\n" + md_table(shown)
            ),
            "early_gain": dg.MetadataValue.md(result.early_gain.to_markdown()),
            "seconds": seconds,
            **numeric_metadata({k: v for k, v in result.numbers().items() if "_h" in k}),
        },
    )
    yield dg.Output(
        table,
        "forward_validation",
        metadata={
            "model": frozen.label,
            "ranking_rule": result.rule,
            "ranking_rule_why": f"holdout calibration MAE {result.calibration_mae:.4f} "
            f"{'<=' if result.rule == fw.EXPECTED_GP else 'not <='} bound "
            f"{cfg.forward.calibration_mae_bound}",
            "scenarios": dg.MetadataValue.md(md_table(ci_table(result.scenarios), max_rows=80)),
            "ranked_scenarios": dg.MetadataValue.md(md_table(result.ranked)),
            "segments": dg.MetadataValue.md(md_table(result.segments, max_rows=60)),
            "notes": "; ".join(result.notes) or "none",
            "base_rate": result.base_rate.summary(),
            "bootstrap_seconds": result.seconds["bootstrap"],
            **numeric_metadata({k: v for k, v in result.numbers().items() if "_h" not in k}),
        },
    )


def ci_table(scenarios: pl.DataFrame) -> pl.DataFrame:
    """Readable scenario table: one row per ordering × scenario, ``point [low, high]`` per metric."""

    def fmt(point, lo, hi) -> str:
        if point is None:
            return "not available"
        if lo is None or (isinstance(lo, float) and math.isnan(lo)):
            return f"{point:.4g}"
        return f"{point:.4g} [{lo:.4g}, {hi:.4g}]"

    return (
        scenarios.with_columns(
            cell=pl.struct("point", "ci_low", "ci_high").map_elements(
                lambda r: fmt(r["point"], r["ci_low"], r["ci_high"]), return_dtype=pl.Utf8
            )
        )
        .pivot(on="metric", index=["ordering", "scenario"], values="cell")
        .sort("ordering", "scenario")
    )


def early_gain(cfg: GosalesConfig, prequential: pl.DataFrame) -> dg.AssetCheckResult:
    report = fw.early_gain_report(prequential, cfg.forward.early_gain_z)
    censored = int((prequential["status"] == "censored").sum())
    if not report.gates:
        return not_measured(
            f"no measured horizon after the reference (holdout) horizon; {censored} censored"
        )
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=report.summary() + f" ({censored} censored horizons not gated)",
        metadata={"gates": dg.MetadataValue.md(report.to_markdown()), "censored": censored},
    )


def base_rate(cfg: GosalesConfig, forward_validation: pl.DataFrame) -> dg.AssetCheckResult:
    row = forward_validation.row(0, named=True) if forward_validation.height else {}
    report = fw.base_rate_report(
        int(row.get("holdout_positives", 0)),
        int(row.get("holdout_n", 0)),
        cfg.forward.prevalence_min,
        cfg.forward.prevalence_max,
    )
    if not report.gates:
        return not_measured("empty holdout")
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=report.summary(),
        metadata={"gates": dg.MetadataValue.md(report.to_markdown())},
    )


CI_METRICS = ("capture", "precision", "revenue_capture")


def confidence_intervals(forward_validation: pl.DataFrame) -> dg.AssetCheckResult:
    """Every scenario's capture, precision and revenue capture has a 95% CI (measured)."""
    rows = forward_validation.filter(pl.col("metric").is_in(CI_METRICS))
    if rows.height == 0 or int(forward_validation["holdout_positives"][0]) == 0:
        return not_measured("no buyer in the holdout: no capture to bootstrap")
    missing = rows.filter(pl.col("ci_low").is_null() | pl.col("ci_high").is_null())
    widths = rows.filter(pl.col("metric") == "capture").select("ordering", "scenario", "ci_width")
    return dg.AssetCheckResult(
        passed=missing.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description="every scenario has its 95% CIs"
        if missing.height == 0
        else f"{missing.height} scenario metrics without a CI (undefined in most resamples)",
        metadata={
            "capture_ci_width": dg.MetadataValue.md(md_table(widths)),
            "without_ci": missing.height,
        },
    )


def prequential_schema(prequential: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(
        prequential, PrequentialSchema, LOCATION.table("prequential"), ["horizon"]
    )


def forward_validation_schema(forward_validation: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(
        forward_validation,
        ForwardValidationSchema,
        LOCATION.table("forward_validation"),
        ["ordering", "scenario", "metric"],
    )


def build(cfg: GosalesConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    out = {"key_prefix": LOCATION.prefix, **COMMON}
    outs = {
        "prequential": dg.AssetOut(
            kinds={"polars", "duckdb"},
            metadata={
                **warehouse_metadata(LOCATION.table("prequential")),
                **contract_column_schema(PrequentialSchema),
            },
            description="Prequential curve: the model serving after this partition's decision, "
            "frozen, scored on holdout customers at every later month end (features as of it, "
            "labels in the window after it); AUC, PR-AUC, lift@10%, Brier, calibration MAE per "
            "horizon; horizons whose window has not closed are listed as censored.",
            **out,
        ),
        "forward_validation": dg.AssetOut(
            kinds={"polars", "duckdb"},
            metadata={
                **warehouse_metadata(LOCATION.table("forward_validation")),
                **contract_column_schema(ForwardValidationSchema),
            },
            description="Capacity scenarios on the out-of-time holdout (top 5/10/20%, per rep, "
            "hybrid by region): capture, precision, revenue capture, realized and expected gross "
            "profit with customer-block bootstrap 95% CIs; ranking rule; segments.",
            **out,
        ),
    }
    prequential, forward = LOCATION.key("prequential"), LOCATION.key("forward_validation")
    warn = {"partitions_def": parts, "blocking": False}
    return [
        dg.multi_asset(
            outs=outs,
            ins=ins("candidate_model", "promoted_model", *RAW, "ground_truth"),
            partitions_def=parts,
            name="gosales_forward",
            retry_policy=EXTERNAL_RETRY,  # loads the serving champion from the MLflow registry
        )(permanent_errors_fail_at_once(bind(gosales_forward, cfg))),
        dg.asset_check(
            asset=prequential,
            partitions_def=parts,
            blocking=True,
            description="Prequential table matches its schema (one row per horizon).",
        )(prequential_schema),
        dg.asset_check(
            asset=forward,
            partitions_def=parts,
            blocking=True,
            description="Forward validation table matches its schema.",
        )(forward_validation_schema),
        dg.asset_check(
            asset=prequential,
            description="No early gain: no measured horizon after the holdout beats its AUC by "
            "more than 2 standard errors of the difference (censored horizons are not gated).",
            **warn,
        )(bind(early_gain, cfg)),
        dg.asset_check(
            asset=forward,
            description="Base-rate guard: holdout prevalence within [0.2%, 50%].",
            **warn,
        )(bind(base_rate, cfg)),
        dg.asset_check(
            asset=forward,
            description="Every capacity scenario's capture, precision and revenue capture has a "
            "bootstrap 95% CI.",
            **warn,
        )(confidence_intervals),
    ]
