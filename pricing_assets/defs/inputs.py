"""Stage ``inputs``: the source multi-asset ``pricing_inputs`` (order lines, quotes and
the synthetic world's truth tables; unpartitioned, validated before anything is written),
below the raw source tables it reads (external assets ``pricing/source/<table>``)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from pricing_assets import inputs as pr_inputs
from pricing_assets.config import PricingConfig
from pricing_assets.defs._wiring import COMMON, bind
from pricing_assets.location import LOCATION
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    input_outputs,
    permanent_errors_fail_at_once,
    quarantine_out,
    source_key,
    source_kinds,
    source_specs,
    warehouse_metadata,
)
from shared.sources import SourceResource

SOURCE_TABLES = {
    "order_lines": "Raw order lines of the source (contract table `order_lines`).",
    "quotes": "Raw closed quotes of the source (contract table `quotes`).",
    "line_truth": "True discount quantiles per order line (synthetic worlds only).",
    "quote_truth": "True win probability per quote (synthetic worlds only).",
}
"""The source tables ``pricing_inputs`` reads (``pricing_assets.inputs``: required and optional)."""


def sources(source_uri: str | None = None) -> list[dg.AssetSpec]:
    """The raw source tables as external assets (not materializable: Dagster only reads them)."""
    return source_specs(
        LOCATION,
        SOURCE_TABLES,
        source_kinds(source_uri, "parquet"),
        "$SALESML_PRICING_SOURCE (DuckDB file, Parquet/CSV folder or SQLAlchemy URL); "
        "default the embedded synthetic world (Parquet)",
    )


def pricing_inputs(cfg: PricingConfig, context, source: SourceResource):
    """Read the source, validate every table, and only then write anything."""
    yield from input_outputs(
        context,
        LOCATION.name,
        *pr_inputs.read_validated_inputs(
            source.resolved_uri(),
            source.world_size,
            source.world_seed,
            cfg.business_units,
            cfg.world_variant,
            cfg.features.extra_numeric,
            cfg.features.extra_categorical,
            source.quarantine_bad_rows,
        ),
    )


def _out(description: str, kinds: set[str], table: str | None = None) -> dg.AssetOut:
    metadata = warehouse_metadata(LOCATION.table(table)) if table else None
    return dg.AssetOut(
        key_prefix=LOCATION.prefix,
        description=description,
        metadata=metadata,
        kinds=kinds,
        **COMMON,
    )


def build(cfg: PricingConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    outs = {
        "order_lines": _out(
            "Order lines, validated against the input contract (prices, quantity, "
            "sell <= list, known bu_id, unique keys). Bad lines fail the run with a count and examples.",
            {"polars", "duckdb"},
            "order_lines",
        ),
        "quotes": _out(
            "Closed quotes (won/lost), validated against the input contract.",
            {"polars", "duckdb"},
            "quotes",
        ),
        "line_truth": _out(
            "True 5/10/50/90/95% discount quantiles per order line (synthetic worlds only; empty for real data).",
            {"polars"},
        ),
        "quote_truth": _out(
            "True win probability per quote and its logit pieces (synthetic worlds only; empty for real data).",
            {"polars"},
        ),
        "quarantine": quarantine_out(LOCATION, key_prefix=LOCATION.prefix, **COMMON),
    }
    return [
        dg.multi_asset(
            outs=outs,
            name="pricing_inputs",
            deps=[source_key(LOCATION, t) for t in SOURCE_TABLES],
            retry_policy=EXTERNAL_RETRY,  # reads the source system
        )(permanent_errors_fail_at_once(bind(pricing_inputs, cfg)))
    ]
