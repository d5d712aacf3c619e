"""Input stage: ``extract`` (read-only source → quality gates → immutable snapshot) and
``clean`` (the cleaning rules, with a count per rule), below the raw source tables
``extract`` reads (external assets ``leadconv/source/<table>``)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from leadconv_assets import clean as lc_clean
from leadconv_assets import extract as lc_extract
from leadconv_assets.config import LeadconvConfig
from leadconv_assets.defs import COMMON, LOCATION
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    bind,
    md_table,
    numeric_metadata,
    permanent_errors_fail_at_once,
    quarantine_metadata,
    source_key,
    source_kinds,
    source_specs,
)
from shared.sources import SourceResource

SOURCE_TABLES = {
    "organizations": "Raw organizations of the source (optional contract table).",
    "contacts": "Raw contacts of the source (contract table `contacts`).",
    "enrollments": "Raw campaign enrollments of the source (contract table `enrollments`).",
    "campaign_steps": "Raw campaign steps of the source (contract table `campaign_steps`).",
    "engagement_logs": "Raw engagement events of the source (contract table `engagement_logs`).",
    "outcomes": "Raw outcomes of the source (contract table `outcomes`).",
    "truth": "True conversion probabilities (synthetic worlds only).",
    "true_effects": "True campaign effects (synthetic worlds only).",
}
"""The source tables ``extract`` reads (``leadconv_assets.schemas``: REQUIRED, OPTIONAL,
TRUTH_TABLES)."""


def sources(source_uri: str | None = None) -> list[dg.AssetSpec]:
    """The raw source tables as external assets (not materializable: Dagster only reads them)."""
    return source_specs(
        LOCATION,
        SOURCE_TABLES,
        source_kinds(source_uri, "duckdb"),
        "$SALESML_LEADCONV_SOURCE (SQLAlchemy URL, e.g. PostgreSQL, or DuckDB file, read-only); "
        "default the embedded synthetic world (DuckDB)",
    )


def extract(cfg: LeadconvConfig, context, source: SourceResource) -> dict:
    snap, described = lc_extract.snapshot_source(
        source.resolved_uri(),
        source.world_size,
        source.world_seed,
        cfg.world_variant,
        source.quarantine_bad_rows,
    )
    rows = snap.manifest["row_counts"]
    held = pl.read_parquet(snap.path / "quarantine.parquet")
    context.add_output_metadata(
        {
            **quarantine_metadata(held),
            "source": described,
            "snapshot": str(snap.path),
            "content_hash": snap.manifest["content_hash"],
            "row_counts": dg.MetadataValue.json(rows),
            **numeric_metadata(rows, prefix="rows_"),
        }
    )
    return snap.manifest


def clean(context, extract: dict) -> dict:
    out = lc_clean.clean_snapshot(extract)
    counts = out["rule_counts"]
    context.add_output_metadata(
        {
            "rules": dg.MetadataValue.md(md_table(counts.filter(pl.col("rows_changed") > 0))),
            "rows_changed": int(counts["rows_changed"].sum()),
            "as_of": out["as_of"].isoformat(),
            "snapshot": extract["path"],
        }
    )
    return out


def build(cfg: LeadconvConfig, parts: dict[str, Any]) -> list:
    """The unpartitioned ``extract`` and ``clean`` assets."""
    return [
        dg.asset(
            key=LOCATION.key("extract"),
            deps=[source_key(LOCATION, t) for t in SOURCE_TABLES],
            retry_policy=EXTERNAL_RETRY,  # reads the source system
            kinds={"sql", "parquet"},
            description="Reads the source (SQLAlchemy URL or DuckDB file, read-only; default the "
            "embedded synthetic world), runs the quality gates (row counts, schema, null keys, orphan "
            "foreign keys, timestamps out of range or before the enrollment) and writes an immutable "
            "timestamped snapshot. Nothing is written when a gate fails.",
            **COMMON,
        )(permanent_errors_fail_at_once(bind(extract, cfg))),
        dg.asset(
            key=LOCATION.key("clean"),
            ins={"extract": dg.AssetIn(LOCATION.key("extract"))},
            kinds={"polars"},
            description="The snapshot after the cleaning rules (duplicates, duplicate keys, text "
            "encodings, missing categories, delay outliers, late events, repeated outcomes), with a "
            "count per rule.",
            **COMMON,
        )(clean),
    ]
