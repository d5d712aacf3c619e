"""Lake IO manager through real materializations on a temporary home."""

from __future__ import annotations

import dagster as dg
import polars as pl

from shared.dagster_helpers import warehouse_metadata
from shared.partitions import cutoff_multi_partitions, parse_partition_key
from shared.storage import LakeIOManager, lake_path, query_warehouse, read_lake

PARTS = cutoff_multi_partitions("division", ["a", "b"], ["2024-01-31", "2024-02-29"])


@dg.asset(partitions_def=PARTS, key_prefix=["t"], metadata=warehouse_metadata("t.table"))
def table(context) -> pl.DataFrame:
    k = parse_partition_key(context.partition_key)
    return pl.DataFrame(
        {"division": [k["division"]] * 3, "cutoff": [k["cutoff"]] * 3, "x": [1, 2, 3]}
    )


@dg.asset(partitions_def=PARTS, key_prefix=["t"], ins={"table": dg.AssetIn(["t", "table"])})
def model(table: pl.DataFrame) -> dict:
    return {"rows": table.height}


def _run(pk: str) -> None:
    result = dg.materialize(
        [table, model], partition_key=pk, resources={"io_manager": LakeIOManager()}
    )
    assert result.success


def test_partitions_are_files_rerun_replaces_and_view_unions(salesml_home):
    _run("2024-01-31|a")
    _run("2024-02-29|b")
    _run("2024-01-31|a")  # re-run replaces, never duplicates
    assert (
        lake_path(["t", "table"], {"cutoff": "2024-01-31", "division": "a"}) / "data.parquet"
    ).exists()
    assert (
        lake_path(["t", "model"], {"cutoff": "2024-02-29", "division": "b"}) / "data.joblib"
    ).exists()
    got = query_warehouse(
        "SELECT division, cutoff, count(*) AS n FROM t.table GROUP BY ALL ORDER BY ALL"
    )
    assert got.to_dicts() == [
        {"division": "a", "cutoff": "2024-01-31", "n": 3},
        {"division": "b", "cutoff": "2024-02-29", "n": 3},
    ]
    assert read_lake(["t", "table"]).height == 6


def test_no_temp_files_left_behind(salesml_home):
    _run("2024-01-31|b")
    leftovers = [p for p in (salesml_home / "lake").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
