"""Lake IO manager through real materializations on a temporary home."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

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


def test_a_reader_holding_the_warehouse_never_blocks_publishing(salesml_home):
    """An analyst's process with warehouse.duckdb open (read-write, the strongest lock)
    must not make a run wait: publishing swaps in a new file instead."""
    import subprocess
    import sys

    from shared.home import warehouse_path
    from shared.storage import publish_view, write_object

    write_object(lake_path(["loc", "t1"], {"d": "a"}), pl.DataFrame({"x": [1]}))
    write_object(lake_path(["loc", "t2"], {"d": "a"}), pl.DataFrame({"y": [2]}))
    publish_view("loc.t1", ["loc", "t1"])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print(c.sql('select count(*) from loc.t1').fetchall()[0][0], flush=True); time.sleep(600)",
            str(warehouse_path()),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "1"  # the holder has the file open
        publish_view("loc.t2", ["loc", "t2"])  # the old code failed here after ~100 s of retries
        assert holder.poll() is None  # while the holder still has the file open
        assert query_warehouse("SELECT y FROM loc.t2")["y"].to_list() == [2]
        assert query_warehouse("SELECT x FROM loc.t1")["x"].to_list() == [1]  # kept
    finally:
        holder.kill()
        holder.wait()


def test_publishing_an_unchanged_view_rewrites_nothing(salesml_home):
    from shared.home import warehouse_path
    from shared.storage import publish_view, write_object

    write_object(lake_path(["loc", "t1"], {"d": "a"}), pl.DataFrame({"x": [1]}))
    publish_view("loc.t1", ["loc", "t1"])
    inode = warehouse_path().stat().st_ino
    publish_view("loc.t1", ["loc", "t1"])
    assert warehouse_path().stat().st_ino == inode


def test_a_tampered_or_foreign_pickle_is_never_loaded(salesml_home, tmp_path, monkeypatch):
    import joblib

    from shared.storage import OBJECT_FILE, UntrustedObjectError, read_object, write_object

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = lake_path(["loc", "model"], {"d": "a"})
    write_object(folder, {"weights": [1, 2, 3]})
    assert read_object(folder) == {"weights": [1, 2, 3]}
    assert (tmp_path / "config" / "salesml" / "lake.key").stat().st_mode & 0o077 == 0
    joblib.dump({"weights": "evil"}, folder / OBJECT_FILE)  # someone who can write the home
    with pytest.raises(UntrustedObjectError, match="signature mismatch"):
        read_object(folder)
    (folder / f"{OBJECT_FILE}.sig").unlink()
    with pytest.raises(UntrustedObjectError, match="no signature"):
        read_object(folder)
    write_object(folder, {"weights": [4]})  # re-materializing restores trust
    assert read_object(folder) == {"weights": [4]}
    monkeypatch.setenv("SALESML_LAKE_KEY", "another installation")
    with pytest.raises(UntrustedObjectError):
        read_object(folder)
