"""Leadconv extract with bad rows: rejected by default; with quarantine on, the rows (and
the rows that depended on them) go to the snapshot's quarantine table."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from leadconv_assets import extract
from shared.sources import write_duckdb
from shared.validation import DataContractError


def _bad(world) -> dict[str, pl.DataFrame]:
    t = dict(world.tables())
    logs = t["engagement_logs"]
    first, second = logs["event_id"][0], logs["event_id"][1]
    t["engagement_logs"] = logs.with_columns(
        event_at=pl.when(pl.col("event_id") == first)
        .then(pl.col("event_at") - timedelta(days=400))
        .otherwise("event_at"),
        event_type=pl.when(pl.col("event_id") == second)
        .then(pl.lit("carrier pigeon"))
        .otherwise("event_type"),
    )
    return t


def test_quarantine_sets_the_bad_events_aside(salesml_home, tiny_world):
    src = write_duckdb(salesml_home / "bad.duckdb", _bad(tiny_world))
    with pytest.raises(DataContractError):
        extract.extract(f"duckdb:///{src}", "test")
    snap = extract.extract(f"duckdb:///{src}", "test", quarantine=True)
    held = pl.read_parquet(snap.path / "quarantine.parquet")
    assert sorted(held["column"].to_list()) == ["event_at", "event_type"]
    assert snap.manifest["quarantined_rows"] == 2
    logs = snap.tables["engagement_logs"]
    assert logs.height == tiny_world.tables()["engagement_logs"].height - 2
    assert "_source_row" not in logs.columns
