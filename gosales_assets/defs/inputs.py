"""Stage ``inputs``: the validated source tables (unpartitioned), below the raw source
tables they are read from (external assets ``gosales/source/<table>``)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from gosales_assets import inputs as gs_inputs
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, bind
from gosales_assets.location import LOCATION
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
    "customers": "Raw customers table of the source (contract table `customers`).",
    "transactions": "Raw transaction lines of the source (contract table `transactions`).",
    "assets": "Raw install base of the source (optional contract table `assets`).",
    "ground_truth": "True purchase probabilities (synthetic worlds only; absent in real data).",
}
"""The source tables ``gosales_inputs`` reads (``gosales_assets.inputs``: required and optional)."""


def sources(source_uri: str | None = None) -> list[dg.AssetSpec]:
    """The raw source tables as external assets (not materializable: Dagster only reads them)."""
    return source_specs(
        LOCATION,
        SOURCE_TABLES,
        source_kinds(source_uri, "parquet"),
        "$SALESML_GOSALES_SOURCE (DuckDB file, Parquet/CSV folder or SQLAlchemy URL); "
        "default the embedded synthetic world (Parquet)",
    )


def gosales_inputs(cfg: GosalesConfig, context, source: SourceResource):
    """Read the source, validate every table, and only then write anything."""
    yield from input_outputs(
        context,
        LOCATION.name,
        *gs_inputs.validated_inputs(
            source.resolved_uri(),
            source.world_size,
            source.world_seed,
            cfg.window_months,
            cfg.world_variant,
            cfg.truth_windows(),
            cfg.extra_features,
            source.quarantine_bad_rows,
        ),
    )


def build(cfg: GosalesConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    out = {"key_prefix": LOCATION.prefix, **COMMON}
    outs = {
        "customers": dg.AssetOut(
            description="Customers, validated against the input contract.",
            metadata=warehouse_metadata(LOCATION.table("customers")),
            kinds={"polars", "duckdb"},
            **out,
        ),
        "transactions": dg.AssetOut(
            description="Transaction lines, validated (keys, dates, quantities, customers).",
            metadata=warehouse_metadata(LOCATION.table("transactions")),
            kinds={"polars", "duckdb"},
            **out,
        ),
        "install_base": dg.AssetOut(
            description="Install base (contract table `assets`); empty when the source has none.",
            kinds={"polars"},
            **out,
        ),
        "ground_truth": dg.AssetOut(
            description="True purchase probability per customer × division × cutoff (synthetic worlds only; empty for real data).",
            kinds={"polars"},
            **out,
        ),
        "quarantine": quarantine_out(LOCATION, **out),
    }
    return [
        dg.multi_asset(
            outs=outs,
            name="gosales_inputs",
            deps=[source_key(LOCATION, t) for t in SOURCE_TABLES],
            retry_policy=EXTERNAL_RETRY,  # reads the source system
        )(permanent_errors_fail_at_once(bind(gosales_inputs, cfg)))
    ]
