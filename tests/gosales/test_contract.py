"""The gosales input contract: every class of bad input gets an error naming table and column."""

from __future__ import annotations

import polars as pl
import pytest

from gosales_assets.schemas import validate_inputs
from shared.validation import DataContractError


@pytest.fixture(scope="module")
def world():
    from gosales_assets.world import generate_world

    return generate_world(size="tiny", seed=5)


def _error(world, **replace) -> DataContractError:
    tables = {**world.tables(), **replace}
    with pytest.raises(DataContractError) as info:
        validate_inputs(tables, world.as_of)
    return info.value


def test_clean_world_passes(world):
    out = validate_inputs(world.tables(), world.as_of)
    assert out["transactions"].height == world.transactions.height


def test_missing_table(world):
    err = _error(world, customers=None)
    assert err.tables == ["customers"] and "missing table" in str(err)


def test_missing_column(world):
    err = _error(world, customers=world.customers.drop("created_date"))
    assert ("customers", "created_date") in {(v.table, v.column) for v in err.violations}
    assert "missing column" in str(err)


def test_null_key(world):
    bad = world.transactions.with_columns(
        pl.when(pl.col("transaction_id") <= 3)
        .then(None)
        .otherwise(pl.col("customer_id"))
        .alias("customer_id")
    )
    err = _error(world, transactions=bad)
    v = next(v for v in err.violations if v.column == "customer_id")
    assert v.table == "transactions" and v.n_rows == 3 and v.examples


def test_duplicate_key(world):
    bad = pl.concat([world.transactions, world.transactions.head(4)])
    err = _error(world, transactions=bad)
    v = next(v for v in err.violations if v.rule == "duplicate key")
    assert (v.table, v.column, v.n_rows) == ("transactions", "transaction_id", 8)


def test_future_dates(world):
    from datetime import timedelta

    bad = world.customers.with_columns(
        pl.when(pl.col("customer_id") == 1)
        .then(pl.lit(world.as_of + timedelta(days=30)))
        .otherwise(pl.col("created_date"))
        .alias("created_date")
    )
    err = _error(world, customers=bad)
    v = err.violations[0]
    assert (v.table, v.column, v.n_rows) == ("customers", "created_date", 1)
    assert v.examples[0]["customer_id"] == 1


def test_negative_quantity(world):
    bad = world.assets.with_columns(
        pl.when(pl.int_range(pl.len()) < 2)
        .then(-1.0)
        .otherwise(pl.col("quantity"))
        .alias("quantity")
    )
    err = _error(world, assets=bad)
    v = err.violations[0]
    assert (v.table, v.column, v.n_rows) == ("assets", "quantity", 2)


def test_orphan_customer(world):
    bad = world.transactions.with_columns(
        pl.when(pl.col("transaction_id") == 1)
        .then(10**9)
        .otherwise(pl.col("customer_id"))
        .alias("customer_id")
    )
    err = _error(world, transactions=bad)
    v = err.violations[0]
    assert v.table == "transactions" and "no matching row in 'customers'" in v.rule
