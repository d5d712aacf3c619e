"""The one partition-key parser and cutoff arithmetic."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from shared.partitions import (
    add_months,
    cutoff_multi_partitions,
    month_ends,
    parse_partition_key,
    validate_name,
)


def test_string_and_object_keys_parse_the_same():
    mk = dg.MultiPartitionKey({"cutoff": "2024-06-30", "division": "printers"})
    assert str(mk) == "2024-06-30|printers"  # dimensions ordered alphabetically
    assert parse_partition_key(mk) == parse_partition_key("2024-06-30|printers")
    # 'bu_id' sorts before 'cutoff', so pricing keys read "<bu_id>|<cutoff>"
    assert parse_partition_key("north|2024-06-30", ("cutoff", "bu_id")) == {
        "cutoff": "2024-06-30",
        "bu_id": "north",
    }
    assert (
        str(dg.MultiPartitionKey({"cutoff": "2024-06-30", "bu_id": "north"})) == "north|2024-06-30"
    )


def test_bad_keys_and_names_are_rejected():
    with pytest.raises(ValueError, match="one value per dimension"):
        parse_partition_key("2024-06-30", ("cutoff", "division"))
    for bad in ["Printers", "a|b", "x,y", "[z]", ""]:
        with pytest.raises(ValueError, match="invalid division"):
            validate_name(bad, "division")
    with pytest.raises(ValueError):
        cutoff_multi_partitions("division", ["ok", "Not-OK"], ["2024-01-31"])


def test_month_arithmetic_keeps_month_ends():
    assert add_months(date(2024, 2, 29), 6) == date(2024, 8, 31)
    assert add_months(date(2024, 8, 31), -6) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 15), 1) == date(2024, 2, 15)
    assert month_ends(date(2024, 1, 10), date(2024, 4, 30))[-1] == date(2024, 4, 30)


def test_multi_partitions_keys():
    parts = cutoff_multi_partitions("division", ["a", "b"], [date(2024, 1, 31)])
    assert sorted(parts.get_partition_keys()) == ["2024-01-31|a", "2024-01-31|b"]


def test_location_builds_keys_model_names_and_reads_partitions():
    import dagster as dg

    from shared.location import Location

    loc = Location("pricing", "bu_id", "pricing_recs")
    assert loc.key("range_model") == dg.AssetKey(["pricing", "range_model"])
    assert loc.model_name("apac") == "pricing_recs_apac"
    assert loc.table("price_recs_line") == "pricing.price_recs_line"
    real = dg.MultiPartitionKey({"cutoff": "2024-06-30", "bu_id": "apac"})
    from datetime import date

    assert loc.partition(real) == (date(2024, 6, 30), "apac")
    assert loc.partition("apac|2024-06-30") == (date(2024, 6, 30), "apac")  # alphabetical
    with pytest.raises(ValueError):
        Location("Bad Name", "bu_id", "x")
