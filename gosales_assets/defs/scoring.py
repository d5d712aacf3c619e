"""Stage ``scoring``: each division's customers scored with its champion (``icp_scores``,
partitioned by division only) and the next-best-action ``whitespace`` ranking over every
division, with their schema checks and the ``score_drift`` (WARN) check."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from gosales_assets import inputs as gs_inputs
from gosales_assets import scoring as gs_scoring
from gosales_assets import whitespace as gs_whitespace
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, RAW, bind, ins
from gosales_assets.location import LOCATION
from gosales_assets.output_schemas import IcpScoresSchema, WhitespaceSchema
from gosales_assets.retire import retire_divisions
from shared.automation import MONTHLY_SCORES_FRESHNESS
from shared.categories import UNSEEN_WARN_SHARE
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    contract_column_schema,
    md_table,
    model_champion_result,
    not_measured,
    permanent_errors_fail_at_once,
    schema_check_result,
    warehouse_metadata,
)
from shared.drift import SIGNIFICANT, psi, psi_label
from shared.partitions import partition_key
from shared.tracking import MLflowTracker


def icp_scores(
    cfg: GosalesConfig, context, tracker: MLflowTracker, customers, transactions, install_base
) -> pl.DataFrame:
    division = context.partition_key
    # a division dropped from the config must not keep showing in the published views
    for src, dest in retire_divisions(cfg.divisions):
        context.log.warning(f"division not in the config: moved {src} aside to {dest}")
    name = LOCATION.model_name(division)
    champ = tracker.champion(name)
    as_of = gs_inputs.data_as_of(transactions)
    if champ is None:
        context.log.warning(
            f"no model champion for {name} (no candidate has passed its gates): serving the "
            "calibrated recency/frequency rule, labelled model_version='rule-baseline'"
        )
        out = gs_scoring.score_rule_baseline(
            division,
            as_of,
            cfg.window_for(division),
            customers,
            transactions,
            install_base,
            cfg.divisions,
        )
        context.add_output_metadata(
            {"rows": out.height, "champion": "none", "served_by": gs_scoring.RULE_BASELINE}
        )
        return out
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


def whitespace(cfg: GosalesConfig, context, icp_scores, customers, transactions) -> pl.DataFrame:
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
    top = ranked.head(15).select("rank", "customer_name", "division", "score", "nba_reason")
    context.add_output_metadata(
        {
            **{k: v for k, v in info.items() if k != "division_share_in_capacity"},
            "division_share_in_capacity": dg.MetadataValue.json(info["division_share_in_capacity"]),
            "as_of": as_of.isoformat(),
            "top": dg.MetadataValue.md(md_table(top)),
        }
    )
    return ranked


def icp_scores_schema(icp_scores: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(
        icp_scores, IcpScoresSchema, LOCATION.table("icp_scores"), ["customer_id"]
    )


def score_drift(tracker: MLflowTracker, icp_scores: pl.DataFrame) -> dg.AssetCheckResult:
    # Not measured is not passed: a failed WARN check with measured=False says why.
    if icp_scores.height == 0:
        return not_measured("nothing scored")
    if icp_scores["model_version"][0] == gs_scoring.RULE_BASELINE:
        return not_measured("served by the rule baseline: no model holdout to compare with")
    base = tracker.holdout_scores(icp_scores["run_id"][0])
    if base is None:
        return not_measured("no holdout scores logged with this champion: drift not measured")
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


def model_champion(icp_scores: pl.DataFrame) -> dg.AssetCheckResult:
    """WARN while a division is served by the calibrated rule baseline (no model champion)."""
    return model_champion_result(icp_scores, gs_scoring.RULE_BASELINE, "calibrated rule baseline")


def unseen_categories(
    tracker: MLflowTracker, icp_scores: pl.DataFrame, customers, transactions
) -> dg.AssetCheckResult:
    """WARN when more than 5% of today's customers have an industry/region the champion
    never saw in training; not measured without a model champion."""
    if icp_scores.height == 0 or icp_scores["model_version"][0] == gs_scoring.RULE_BASELINE:
        return not_measured("served by the rule baseline: no model categories to compare with")
    division = partition_key(icp_scores["division_name"][0])
    champ = tracker.champion(LOCATION.model_name(division))
    if champ is None or champ.run_id != icp_scores["run_id"][0]:
        return not_measured("the model that scored these rows is no longer the champion")
    report = gs_scoring.champion_unseen_categories(
        tracker, champ, customers, gs_inputs.data_as_of(transactions)
    )
    worst = report.sort("share", descending=True).row(0, named=True)
    over = report.filter(pl.col("share") > UNSEEN_WARN_SHARE)
    return dg.AssetCheckResult(
        passed=over.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{worst['column']}: {worst['unseen']} of {worst['rows']} customers "
            f"({worst['share']:.1%}) have a category the model never saw"
            + (f" (> {UNSEEN_WARN_SHARE:.0%})" if over.height else "")
        ),
        metadata={
            "measured": True,
            "unseen": dg.MetadataValue.md(md_table(report)),
            **{f"{r['column']}_unseen": r["unseen"] for r in report.to_dicts()},
            **{f"{r['column']}_share": r["share"] for r in report.to_dicts()},
            **{f"{r['column']}_examples": r["examples"] for r in report.to_dicts()},
        },
    )


def whitespace_schema(whitespace: pl.DataFrame) -> dg.AssetCheckResult:
    return schema_check_result(
        whitespace, WhitespaceSchema, LOCATION.table("whitespace"), ["customer_id", "division"]
    )


def build(cfg: GosalesConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    division_parts = dg.StaticPartitionsDefinition(list(cfg.divisions))
    scores, ranked = LOCATION.key("icp_scores"), LOCATION.key("whitespace")
    promoted = dg.AssetDep(
        LOCATION.key("promoted_model"),
        partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
            partition_dimension_name=LOCATION.dim
        ),
    )
    return [
        dg.asset(
            key=scores,
            partitions_def=division_parts,
            ins=ins(*RAW),
            deps=[promoted],
            kinds={"polars", "duckdb"},
            metadata={
                **warehouse_metadata(LOCATION.table("icp_scores")),
                **contract_column_schema(IcpScoresSchema),
            },
            freshness_policy=MONTHLY_SCORES_FRESHNESS,
            retry_policy=EXTERNAL_RETRY,  # loads the division's champion from MLflow
            # Re-score as soon as a new champion is promoted (a failed gate skips promoted_model,
            # so nothing re-scores then); evaluated by the location's automation sensor. Plain
            # eager() would wait forever: a division's scores depend on promoted_model at every
            # cutoff, and a cutoff whose gate failed never has one.
            automation_condition=dg.AutomationCondition.eager().without(
                ~dg.AutomationCondition.any_deps_missing()
            ),
            description="Every customer scored at the data's latest as-of date with the division's champion model "
            "(never at the training cutoff); while no model has passed the gates, by the calibrated "
            "recency/frequency rule, labelled model_version='rule-baseline'.",
            **COMMON,
        )(permanent_errors_fail_at_once(bind(icp_scores, cfg))),
        dg.asset(
            key=ranked,
            ins=ins("icp_scores", "customers", "transactions"),  # every division's icp_scores
            kinds={"polars", "duckdb"},
            metadata={
                **warehouse_metadata(LOCATION.table("whitespace")),
                **contract_column_schema(WhitespaceSchema),
            },
            freshness_policy=MONTHLY_SCORES_FRESHNESS,
            automation_condition=dg.AutomationCondition.eager(),  # re-rank when any division re-scores
            description="Next-best-action list: every (customer, division) not bought in the lookback, "
            "ranked by a blend of calibrated propensity, cross-division affinity lift and expected "
            "value, with a plain reason and each rep's first N marked in_capacity.",
            **COMMON,
        )(bind(whitespace, cfg)),
        dg.asset_check(
            asset=scores,
            partitions_def=division_parts,
            blocking=True,
            description="icp_scores matches its schema (one score in [0, 1] per customer).",
        )(icp_scores_schema),
        dg.asset_check(
            asset=scores,
            partitions_def=division_parts,
            description="Drift (WARN): PSI of today's scores against the champion's scores on its "
            "out-of-time holdout (< 0.1 stable, 0.1-0.25 moderate, > 0.25 significant). A failure "
            "starts a retrain through the gosales_drift_retrain sensor.",
        )(score_drift),
        dg.asset_check(
            asset=scores,
            partitions_def=division_parts,
            description="WARN while no model has passed the gates for the division and the "
            "calibrated recency/frequency rule serves instead (rows say model_version='rule-baseline').",
        )(model_champion),
        dg.asset_check(
            asset=scores,
            partitions_def=division_parts,
            additional_ins=ins("customers", "transactions"),
            description="WARN when more than 5% of the scored customers have an industry or "
            "region the champion never saw in training (metadata: column, unseen count, share, "
            "examples); not measured while the rule baseline serves.",
        )(unseen_categories),
        dg.asset_check(
            asset=ranked,
            blocking=True,
            description="whitespace matches its schema (unique ranks, signals in [0, 1], reasons <= 150 chars).",
        )(whitespace_schema),
    ]
