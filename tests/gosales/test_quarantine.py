"""gosales inputs from a CSV export with timestamps as ISO text, a value that is not a
number and an orphan customer: rejected with the rows named by default; with the source's
``quarantine_bad_rows`` on, the bad rows land in ``gosales.quarantine`` and the run goes on."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from gosales_assets.definitions import build_defs
from tests.gosales.conftest import tiny_config
from tests.gosales.test_pipeline import INPUTS, _run

QUARANTINE = INPUTS


@pytest.fixture(scope="module")
def csv_source(tiny_world, tmp_path_factory):
    from shared.sources import write_folder

    tx = tiny_world.transactions.with_columns(
        pl.col("order_date").dt.strftime("%Y-%m-%dT00:00:00"),  # ISO timestamps as text
        pl.col("revenue").cast(pl.String),
        pl.col("customer_id").cast(pl.String).str.zfill(6),
    )
    ids = tx["transaction_id"].to_list()
    tx = tx.with_columns(
        revenue=pl.when(pl.col("transaction_id") == ids[3])
        .then(pl.lit("n/a"))
        .otherwise("revenue"),
        customer_id=pl.when(pl.col("transaction_id") == ids[7])
        .then(pl.lit("999999"))
        .otherwise("customer_id"),
    )
    customers = tiny_world.customers.with_columns(
        pl.col("customer_id").cast(pl.String).str.zfill(6)
    )
    assets = tiny_world.assets.with_columns(pl.col("customer_id").cast(pl.String).str.zfill(6))
    folder = tmp_path_factory.mktemp("gosales_csv")
    write_folder(folder, {"customers": customers, "transactions": tx, "assets": assets}, fmt="csv")
    return folder, (ids[3], ids[7])


def test_bad_rows_are_rejected_by_default(salesml_home, tiny_world, csv_source):
    folder, (bad_revenue, orphan) = csv_source
    result = _run(build_defs(tiny_config(tiny_world), source_uri=str(folder)), QUARANTINE)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.event_specific_data.error.to_string()
    assert "table 'transactions', column 'revenue': text that is not a number" in message
    assert f"'transaction_id': {bad_revenue}" in message


def test_quarantine_sets_the_bad_rows_aside_and_the_run_goes_on(
    salesml_home, tiny_world, csv_source
):
    from shared.storage import query_warehouse

    folder, (bad_revenue, orphan) = csv_source
    cfg = tiny_config(tiny_world).model_copy(update={"quarantine_bad_rows": True})
    result = _run(build_defs(cfg, source_uri=str(folder)), QUARANTINE)
    assert result.success
    held = query_warehouse("SELECT * FROM gosales.quarantine ORDER BY source_row")
    assert held["table"].to_list() == ["transactions", "transactions"]
    assert held["rule"].to_list()[0].startswith("text that is not a number")
    assert held["rule"].to_list()[1] == "no matching row in 'customers'"
    assert f'"transaction_id": {orphan}' in held["row"][1]
    tx = query_warehouse("SELECT transaction_id, customer_id, order_date FROM gosales.transactions")
    assert tx.height == tiny_world.transactions.height - 2
    assert not {bad_revenue, orphan} & set(tx["transaction_id"].to_list())
    assert tx.schema["order_date"] == pl.Date and tx["customer_id"][0].startswith("0")
    meta = next(
        m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["gosales", "quarantine"])
    )
    assert meta["quarantined_rows"].value == 2
