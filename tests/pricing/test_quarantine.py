"""Pricing inputs with bad lines: rejected by default, set aside with their rule when the
config's ``quarantine_bad_rows`` is on (the rest of the lines go on)."""

from __future__ import annotations

import polars as pl
import pytest

from pricing_assets.inputs import read_validated_inputs
from shared.sources import write_folder
from shared.validation import DataContractError

BUS = ["na", "emea"]


@pytest.fixture(scope="module")
def bad_source(tiny_world, tmp_path_factory):
    lines = tiny_world.order_lines
    ids = lines["order_line_id"].to_list()
    lines = lines.with_columns(
        sell_price=pl.when(pl.col("order_line_id") == ids[0])
        .then(pl.col("list_price") * 2)
        .otherwise("sell_price"),
        order_date=pl.col("order_date").dt.strftime("%Y-%m-%d"),  # ISO dates as text
    ).with_columns(
        order_date=pl.when(pl.col("order_line_id") == ids[1])
        .then(pl.lit("yesterday"))
        .otherwise("order_date")
    )
    folder = tmp_path_factory.mktemp("pricing_bad")
    write_folder(folder, {"order_lines": lines, "quotes": tiny_world.quotes}, fmt="csv")
    return folder, ids[:2]


def test_bad_lines_reject_the_whole_input_by_default(bad_source):
    folder, _ = bad_source
    with pytest.raises(DataContractError) as err:
        read_validated_inputs(str(folder), "tiny", 0, BUS)
    assert {v.column for v in err.value.violations} == {"sell_price", "order_date"}
    assert "docs/data_contracts/pricing.md" in str(err.value)


def test_quarantine_keeps_the_good_lines(bad_source, tiny_world):
    folder, bad_ids = bad_source
    tables, _, _ = read_validated_inputs(str(folder), "tiny", 0, BUS, quarantine=True)
    held = tables["quarantine"]
    assert sorted(held["column"].to_list()) == ["order_date", "sell_price"]
    assert all(
        f'"order_line_id": "{i}"' in r
        for i, r in zip(bad_ids, held.sort("source_row")["row"], strict=True)
    )
    lines = tables["order_lines"]
    assert lines.height == tiny_world.order_lines.height - 2
    assert lines.schema["order_date"] == pl.Date
    assert not set(bad_ids) & set(lines["order_line_id"].to_list())
