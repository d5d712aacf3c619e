"""Input data as users export it: dates and numbers stored as text, CSV files with ragged
rows or leading-zero ids, a missing time column, and the optional quarantine of bad rows."""

from __future__ import annotations

from datetime import date, datetime

import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.sources import as_of_date, read_csv_table, read_tables
from shared.validation import (
    QUARANTINE_SCHEMA,
    ROW_ID,
    DataContractError,
    contract_frame,
    foreign_key_violation,
    parse_text_columns,
    row_violation,
    validate_with_quarantine,
)

SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(pl.String, nullable=False, coerce=True),
        "at": pa.Column(pl.Datetime("us"), nullable=False, coerce=True),
        "day": pa.Column(pl.Date, nullable=True, coerce=True),
        "amount": pa.Column(pl.Float64, pa.Check.ge(0), nullable=False, coerce=True),
    }
)


def test_iso_text_is_parsed_to_the_contract_types():
    df = pl.DataFrame(
        {
            "id": ["001", "002", "003", "004"],
            "at": [
                "2024-01-05T10:00:00",
                "2024-01-05 10:00:00.250",
                "2024-01-05",
                "2024-01-05T10:00:00Z",
            ],
            "day": ["2024-02-01", "2024-02-01T00:00:00", "", None],
            "amount": [" 1.5", "2", "0", "3e2"],
        }
    )
    typed, violations = contract_frame(df, SCHEMA, "t", ["id"])
    assert violations == []
    assert typed is not None
    assert typed.schema["at"] == pl.Datetime("us") and typed.schema["day"] == pl.Date
    assert typed["at"].to_list() == [
        datetime(2024, 1, 5, 10),
        datetime(2024, 1, 5, 10, 0, 0, 250000),
        datetime(2024, 1, 5),
        datetime(2024, 1, 5, 10),
    ]
    assert typed["day"].to_list() == [date(2024, 2, 1), date(2024, 2, 1), None, None]
    assert typed["amount"].to_list() == [1.5, 2.0, 0.0, 300.0]
    assert typed["id"].to_list()[0] == "001"  # ids keep their zeros


def test_offset_timestamps_are_converted_to_utc():
    df = pl.DataFrame(
        {"id": ["a"], "at": ["2024-01-05T10:00:00+02:00"], "day": [None], "amount": [1.0]}
    )
    typed, _ = contract_frame(df.with_columns(pl.col("day").cast(pl.String)), SCHEMA, "t")
    assert typed["at"][0] == datetime(2024, 1, 5, 8)


def test_text_that_does_not_parse_is_named_with_its_value_and_row():
    df = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "at": ["2024-01-05", "05/01/2024", "2024-01-07"],
            "day": [None, None, None],
            "amount": ["1", "two", "1,234.5"],
        }
    ).with_columns(pl.col("day").cast(pl.String))
    typed, violations = contract_frame(df, SCHEMA, "orders", ["id"])
    by_column = {v.column: v for v in violations}
    assert set(by_column) == {"at", "amount"}  # reported once each, not again as nulls
    assert by_column["at"].examples == [{"id": "b", "at": "05/01/2024"}]
    assert by_column["at"].rows == (1,)
    assert by_column["amount"].n_rows == 2 and by_column["amount"].rows == (1, 2)
    message = str(DataContractError(violations))
    assert "table 'orders', column 'amount'" in message and "'two'" in message
    assert typed is not None  # the parsed frame, for rules reported in the same error


def test_missing_columns_are_reported_alone():
    typed, violations = contract_frame(pl.DataFrame({"id": ["a"]}), SCHEMA, "t")
    assert typed is None
    assert {(v.column, v.rule) for v in violations} == {
        ("at", "missing column"),
        ("day", "missing column"),
        ("amount", "missing column"),
    }


def test_typed_columns_pass_through_parse_untouched():
    df = pl.DataFrame({"amount": [1.0, 2.0]})
    out, violations = parse_text_columns(df, SCHEMA, "t")
    assert out.equals(df) and violations == []


def test_ragged_csv_rows_are_named_by_line(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text('id,at,amount\n1,2024-01-01,3\n2,2024-01-02\n3,2024-01-03,4,extra\n4,"a,b",5\n')
    with pytest.raises(DataContractError) as err:
        read_csv_table(path, "orders")
    (v,) = err.value.violations
    assert v.table == "orders" and v.n_rows == 2
    assert [e["line"] for e in v.examples] == [3, 4]
    assert "ragged CSV row" in str(err.value) and "orders.csv" in str(err.value)


def test_csv_keeps_leading_zero_ids_and_lets_the_contract_name_bad_numbers(tmp_path):
    rows = [f"{i:05d},2024-01-{1 + i % 28:02d},{i}.5" for i in range(300)]
    rows[250] = "00250,2024-01-02,n/a"  # text in a number column far past the first rows
    (tmp_path / "orders.csv").write_text("id,at,amount\n" + "\n".join(rows) + "\n")
    frame = read_tables(str(tmp_path), ["orders"])["orders"]
    assert frame["id"][1] == "00001"
    _, violations = contract_frame(
        frame.with_columns(day=pl.lit(None, pl.String)), SCHEMA, "orders", ["id"]
    )
    (v,) = violations
    assert (v.column, v.examples) == ("amount", [{"id": "00250", "amount": "n/a"}])


def test_as_of_date_names_a_missing_time_column_and_parses_text():
    with pytest.raises(
        DataContractError, match="table 'orders', column 'order_date': missing column"
    ):
        as_of_date(pl.DataFrame({"x": [1]}), "orders", "order_date")
    text = pl.DataFrame({"order_date": ["2024-01-05", "2024-03-01"]})
    assert as_of_date(text, "orders", "order_date") == date(2024, 3, 1)
    stamps = pl.DataFrame({"at": ["2024-01-05T10:00:00", "2024-03-01T09:30:00"]})
    assert as_of_date(stamps, "events", "at") == datetime(2024, 3, 1, 9, 30)
    with pytest.raises(DataContractError, match="no date"):
        as_of_date(pl.DataFrame({"order_date": ["soon"]}), "orders", "order_date")


# --- quarantine -------------------------------------------------------------------


def _validate(tables: dict[str, pl.DataFrame | None]) -> dict[str, pl.DataFrame]:
    """A toy contract: amounts non-negative; every order's customer exists."""
    customers, orders = tables["customers"], tables["orders"]
    assert customers is not None and orders is not None
    found = [
        row_violation(
            customers, pl.col("name").is_null(), "customers", "name", "null name", ["cid"]
        ),
        row_violation(orders, pl.col("amount") < 0, "orders", "amount", "negative amount", ["oid"]),
    ]
    found = [v for v in found if v is not None]
    if not found:
        found = [
            v for v in [foreign_key_violation(orders, customers, "cid", "orders", "customers")] if v
        ]
    if found:
        raise DataContractError(found)
    return {"customers": customers, "orders": orders}


TABLES = {
    "customers": pl.DataFrame({"cid": [1, 2, 3], "name": ["a", None, "c"]}),
    "orders": pl.DataFrame(
        {"oid": [10, 11, 12, 13], "cid": [1, 2, 3, 3], "amount": [1.0, 2.0, -1.0, 4.0]}
    ),
}


def test_reject_is_the_default():
    with pytest.raises(DataContractError):
        validate_with_quarantine(TABLES, _validate)


def test_quarantine_sets_rows_aside_with_their_rule_and_cascades():
    clean, held = validate_with_quarantine(TABLES, _validate, quarantine=True)
    assert ROW_ID not in clean["orders"].columns
    assert clean["customers"]["cid"].to_list() == [1, 3]
    # order 12 broke its own rule; order 11 lost its customer on the next pass
    assert clean["orders"]["oid"].to_list() == [10, 13]
    assert held.schema == pl.Schema(QUARANTINE_SCHEMA)
    got = sorted(zip(held["table"], held["source_row"], held["rule"], strict=True))
    assert got == [
        ("customers", 1, "null name"),
        ("orders", 1, "no matching row in 'customers'"),
        ("orders", 2, "negative amount"),
    ]
    assert (
        '"oid": 11' in held.filter(pl.col("source_row") == 1, pl.col("table") == "orders")["row"][0]
    )


def test_table_level_problems_are_never_quarantined():
    def missing(tables):
        raise DataContractError([*[], *contract_frame(tables["orders"], SCHEMA, "orders")[1]])

    with pytest.raises(DataContractError, match="missing column"):
        validate_with_quarantine(TABLES, missing, quarantine=True)


def test_a_table_with_every_row_quarantined_fails():
    bad = {**TABLES, "orders": TABLES["orders"].with_columns(amount=pl.lit(-1.0))}
    with pytest.raises(DataContractError, match="every row quarantined"):
        validate_with_quarantine(bad, _validate, quarantine=True)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=30))
def test_quarantine_partitions_the_rows(amounts):
    """Every source row ends up either clean or quarantined, never both, never lost."""
    orders = pl.DataFrame(
        {"oid": list(range(len(amounts))), "cid": [1] * len(amounts), "amount": amounts}
    )
    tables = {"customers": pl.DataFrame({"cid": [1], "name": ["a"]}), "orders": orders}
    if all(a < 0 for a in amounts):
        with pytest.raises(DataContractError):
            validate_with_quarantine(tables, _validate, quarantine=True)
        return
    clean, held = validate_with_quarantine(tables, _validate, quarantine=True)
    kept = set(clean["orders"]["oid"].to_list())
    set_aside = set(held["source_row"].to_list())
    assert kept.isdisjoint(set_aside)
    assert kept | set_aside == set(range(len(amounts)))
    assert set_aside == {i for i, a in enumerate(amounts) if a < 0}
