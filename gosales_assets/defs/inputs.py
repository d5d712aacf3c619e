"""Stage ``inputs``: the validated source tables (unpartitioned)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from gosales_assets import inputs as gs_inputs
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, bind
from gosales_assets.location import LOCATION
from shared.dagster_helpers import input_outputs, quarantine_out, warehouse_metadata
from shared.sources import SourceResource


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
    return [dg.multi_asset(outs=outs, name="gosales_inputs")(bind(gosales_inputs, cfg))]
