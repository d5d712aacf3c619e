"""A division dropped from the config no longer shows in the published views."""

from __future__ import annotations

from datetime import date

import polars as pl

from gosales_assets.retire import retire_divisions
from shared.storage import lake_path, publish_view, warehouse_connection


def _write(division: str) -> None:
    folder = lake_path(["gosales", "icp_scores"], division)
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {"division_name": [division], "customer_id": [1], "as_of_date": [date(2024, 1, 31)]}
    ).write_parquet(folder / "data.parquet")


def test_dropped_division_is_retired_from_the_view(salesml_home):
    for d in ("hardware", "legacy"):
        _write(d)
    publish_view("gosales.icp_scores", ["gosales", "icp_scores"])

    def shown() -> list[str]:
        with warehouse_connection(read_only=True) as con:
            rows = con.sql("SELECT DISTINCT division_name FROM gosales.icp_scores").fetchall()
        return sorted(r[0] for r in rows)

    assert shown() == ["hardware", "legacy"]  # before: the removed division keeps showing
    moved = retire_divisions(["hardware"])
    assert [m[0].name for m in moved] == ["partition=legacy"]
    assert moved[0][1].joinpath("data.parquet").exists()  # moved aside, not deleted
    assert shown() == ["hardware"]
    assert retire_divisions(["hardware"]) == []  # idempotent
