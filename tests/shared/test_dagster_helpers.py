"""Column schemas as Dagster metadata: the quarantine tables of gosales and pricing show
exactly the columns ``shared.validation.QUARANTINE_SCHEMA`` writes, with their types."""

from __future__ import annotations

import importlib

import dagster as dg
import polars as pl
import pytest

from shared.dagster_helpers import column_schema
from shared.validation import QUARANTINE_SCHEMA


def test_column_schema_lists_columns_in_order_with_types_and_descriptions():
    meta = column_schema({"a": pl.Int64, "b": pl.Utf8}, {"b": "a text"})
    cols = meta["dagster/column_schema"].columns
    assert [(c.name, c.type, c.description) for c in cols] == [
        ("a", "Int64", None),
        ("b", "String", "a text"),
    ]


@pytest.mark.parametrize("location", ["gosales", "pricing"])
def test_quarantine_assets_show_the_quarantine_schema(location):
    module = importlib.import_module(f"{location}_assets.definitions")
    spec = next(
        s
        for s in module.defs.resolve_all_asset_specs()
        if s.key == dg.AssetKey([location, "quarantine"])
    )
    cols = spec.metadata["dagster/column_schema"].columns
    written = pl.DataFrame(schema=QUARANTINE_SCHEMA).schema
    assert [(c.name, c.type) for c in cols] == [(n, str(t)) for n, t in written.items()]
    assert all(c.description for c in cols)
