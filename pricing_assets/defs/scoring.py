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
from shared.dagster_helpers import numeric_metadata, schema_check_result, warehouse_metadata
from shared.tracking import MLflowTracker


def pricing_recommendations(
    cfg: PricingConfig, context, tracker: MLflowTracker, line_features, quotes
):
    """Recommendations for the partition's latest deals (the holdout window up to the cutoff)
    by the serving champion bundle, labelled with its version and cutoff."""
    cutoff, bu = LOCATION.partition(context)
    name = LOCATION.model_name(bu)
    champ = tracker.champion(name)
    if champ is None:
        raise ValueError(f"{name}: no champion serves, so there is nothing to recommend with")
    bundle = tracker.load_model(champ.model_uri)
    line_recs, deal_recs = serving.recommend_partition(
        line_features, quotes, bundle, cfg.bu(bu), cutoff
    )
    served_by = {"model_version": champ.version, "model_cutoff": bundle.cutoff}
    line_recs = line_recs.with_columns(pl.lit(v).alias(k) for k, v in served_by.items())
    deal_recs = deal_recs.with_columns(pl.lit(v).alias(k) for k, v in served_by.items())
    context.log.info(f"{name} v{champ.version} (cutoff {bundle.cutoff}) serves {bu} {cutoff}")
    cov = numeric_metadata(coverage_summary(line_recs, deal_recs))
    binding = float(line_recs["guardrail_binding"].mean())
    version = {"model_version": champ.version, "model_cutoff": bundle.cutoff.isoformat()}
    yield dg.Output(
        line_recs,
        "price_recs_line",
        metadata={**cov, **version, "guardrail_binding_share": binding, "rows": line_recs.height},
    )
    yield dg.Output(
        deal_recs,
        "price_recs_deal",
        metadata={**cov, **version, **deal_summary(deal_recs, bundle.rho)},
    )


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


def _recs_out(table: str, description: str) -> dg.AssetOut:
    return dg.AssetOut(
        key_prefix=LOCATION.prefix,
        kinds={"polars", "duckdb"},
        metadata=warehouse_metadata(LOCATION.table(table)),
        description=description,
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
        )(bind(pricing_recommendations, cfg)),
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
