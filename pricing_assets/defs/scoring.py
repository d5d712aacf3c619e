"""Stage ``scoring``: ``price_recs_line`` and ``price_recs_deal`` for the partition's latest
deals (after ``promoted_model``), with their blocking schema checks."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from pricing_assets import schemas as pr_schemas
from pricing_assets import serving
from pricing_assets.config import PricingConfig
from pricing_assets.defs._wiring import COMMON, bind, ins
from pricing_assets.location import LOCATION
from pricing_assets.recommend import coverage_summary, deal_summary
from shared.automation import MONTHLY_SCORES_FRESHNESS
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    contract_column_schema,
    model_champion_result,
    numeric_metadata,
    permanent_errors_fail_at_once,
    schema_check_result,
    warehouse_metadata,
)
from shared.tracking import MLflowTracker


def _serve(cfg: PricingConfig, context, tracker: MLflowTracker, line_features, quotes):
    """``(line_recs, deal_recs, rho, model_version, model_cutoff)`` by the serving champion,
    or by the rule baseline (with a warning) while no model champion exists."""
    cutoff, bu = LOCATION.partition(context)
    name = LOCATION.model_name(bu)
    champ = tracker.champion(name)
    if champ is None:
        context.log.warning(
            f"no model champion for {name} (no candidate has passed its gates): serving the "
            f"segment rule baseline, labelled model_version={serving.RULE_BASELINE!r}"
        )
        lines, deals, rho = serving.recommend_rule_baseline(line_features, cfg.bu(bu), cutoff)
        return lines, deals, rho, serving.RULE_BASELINE, cutoff
    bundle = tracker.load_model(champ.model_uri)
    lines, deals = serving.recommend_partition(line_features, quotes, bundle, cfg.bu(bu), cutoff)
    context.log.info(f"{name} v{champ.version} (cutoff {bundle.cutoff}) serves {bu} {cutoff}")
    return lines, deals, bundle.rho, str(champ.version), bundle.cutoff


def pricing_recommendations(
    cfg: PricingConfig, context, tracker: MLflowTracker, line_features, quotes
):
    """Recommendations for the partition's latest deals (the holdout window up to the cutoff)
    by the serving champion bundle, or the rule baseline while none exists, every row
    labelled with what served it (``model_version``, ``model_cutoff``)."""
    line_recs, deal_recs, rho, version, model_cutoff = _serve(
        cfg, context, tracker, line_features, quotes
    )
    served_by = {"model_version": version, "model_cutoff": model_cutoff}
    line_recs = line_recs.with_columns(pl.lit(v).alias(k) for k, v in served_by.items())
    deal_recs = deal_recs.with_columns(pl.lit(v).alias(k) for k, v in served_by.items())
    cov = numeric_metadata(coverage_summary(line_recs, deal_recs))
    binding = float(line_recs["guardrail_binding"].mean())
    meta = {"model_version": version, "model_cutoff": model_cutoff.isoformat()}
    if "bu_name" in line_recs.columns and line_recs.height:
        meta["bu_name"] = line_recs["bu_name"][0]  # the data's spelling of the partition's bu_id
    yield dg.Output(
        line_recs,
        "price_recs_line",
        metadata={**cov, **meta, "guardrail_binding_share": binding, "rows": line_recs.height},
    )
    yield dg.Output(
        deal_recs,
        "price_recs_deal",
        metadata={**cov, **meta, **deal_summary(deal_recs, rho)},
    )


def model_champion(price_recs_line: pl.DataFrame) -> dg.AssetCheckResult:
    """WARN while the business unit is served by the rule baseline (no model champion)."""
    return model_champion_result(price_recs_line, serving.RULE_BASELINE, "segment rule baseline")


RECS_SCHEMAS = {
    "price_recs_line": (pr_schemas.PriceRecsLineSchema, "order_line_id"),
    "price_recs_deal": (pr_schemas.PriceRecsDealSchema, "deal_id"),
}


def recs_schema(table: str, frame: pl.DataFrame) -> dg.AssetCheckResult:
    """Blocking schema check of one recommendations table (its schema and unique key)."""
    schema, unique_key = RECS_SCHEMAS[table]
    return schema_check_result(
        frame, schema, LOCATION.table(table), [unique_key], check_name=f"{table}_schema"
    )


AFTER_ANY_DECISION = (
    dg.AutomationCondition.any_deps_match(dg.AutomationCondition.newly_updated())
    .allow(dg.AssetSelection.assets(LOCATION.key("line_features"), LOCATION.key("promoted_model")))
    .since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after_any_decision")
"""Recommend again whenever the partition's features or promotion changed after its last
recommendations (a promotion from another run, a re-run of the features). A run that
trains and decides recommends in the same run, after its dependencies, so its
recommendations are the newer update and nothing is requested again; ``eager()`` would
ignore a dependency updated by a run that also targeted the recommendations."""


def _recs_out(table: str, description: str) -> dg.AssetOut:
    return dg.AssetOut(
        key_prefix=LOCATION.prefix,
        kinds={"polars", "duckdb"},
        metadata={
            **warehouse_metadata(LOCATION.table(table)),
            **contract_column_schema(RECS_SCHEMAS[table][0]),
        },
        description=description,
        automation_condition=AFTER_ANY_DECISION,
        freshness_policy=MONTHLY_SCORES_FRESHNESS,
        **COMMON,
    )


def build(cfg: PricingConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    outs = {
        "price_recs_line": _recs_out(
            "price_recs_line",
            "Per line: model range (before guardrails), guardrailed range, recommended discount "
            "rescaled to the deal target, final_recommended_price >= floor, coverage before/after guardrails.",
        ),
        "price_recs_deal": _recs_out(
            "price_recs_deal",
            "Per deal: value-weighted median discount, a range assuming partially correlated line "
            "errors, the expected-margin-optimal discount P(win|d) x margin(d) and its impact vs the median.",
        ),
    }
    return [
        dg.multi_asset(
            outs=outs,
            ins=ins("line_features", "quotes"),
            deps=[LOCATION.key("promoted_model")],
            partitions_def=parts,
            name="pricing_recommendations",
            retry_policy=EXTERNAL_RETRY,  # loads the serving champion bundle from MLflow
        )(permanent_errors_fail_at_once(bind(pricing_recommendations, cfg))),
        dg.asset_check(
            asset=LOCATION.key("price_recs_line"),
            partitions_def=parts,
            description="WARN while no model has passed the gates for the business unit and the "
            "segment rule baseline serves instead (rows say model_version='rule-baseline').",
        )(model_champion),
        *(
            dg.asset_check(
                name=f"{table}_schema",
                partitions_def=parts,
                asset=LOCATION.key(table),
                blocking=True,
                description=description,
            )(bind(recs_schema, table))
            for table, description in (
                (
                    "price_recs_line",
                    "price_recs_line matches its schema (final price >= floor, ranges ordered, "
                    "discounts in [0, 1]).",
                ),
                (
                    "price_recs_deal",
                    "price_recs_deal matches its schema (one row per deal, discounts in [0, 1]).",
                ),
            )
        ),
    ]
