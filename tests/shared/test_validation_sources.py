"""Contract errors name table, column and rows; sources read DuckDB, folders and SQL URLs."""

from __future__ import annotations

from datetime import date

import pandera.polars as pa
import polars as pl
import pytest

from shared.sources import read_tables, redact, write_duckdb, write_folder
from shared.validation import (
    DataContractError,
    check_foreign_key,
    check_not_after,
    check_unique,
    validate_frame,
)


class Orders(pa.DataFrameModel):
    order_id: int = pa.Field(nullable=False, unique=True)
    qty: float = pa.Field(ge=0)


def test_schema_errors_name_table_column_and_rows():
    df = pl.DataFrame({"order_id": [1, 2, 2, None], "qty": [1.0, -5.0, 2.0, 1.0]})
    with pytest.raises(DataContractError) as err:
        validate_frame(df, Orders, "orders", ["order_id"])
    text = str(err.value)
    assert "table 'orders', column 'qty'" in text and "-5.0" in text
    assert "field_uniqueness" in text and "not_nullable" in text
    assert set(err.value.columns) == {"order_id", "qty"}
    with pytest.raises(DataContractError, match="column 'qty': missing column"):
        validate_frame(pl.DataFrame({"order_id": [1]}), Orders, "orders")


def test_relational_rules():
    child = pl.DataFrame({"customer_id": [1, 9], "d": [date(2024, 1, 1), date(2030, 1, 1)]})
    parent = pl.DataFrame({"customer_id": [1, 2]})
    with pytest.raises(DataContractError, match=r"no matching row in 'customers'.*customer_id': 9"):
        check_foreign_key(child, parent, "customer_id", "transactions", "customers")
    with pytest.raises(DataContractError, match="after the data's as-of date 2024-12-31"):
        check_not_after(child, "d", date(2024, 12, 31), "transactions", ["customer_id"])
    with pytest.raises(DataContractError, match="duplicate key"):
        check_unique(pl.DataFrame({"k": [1, 1]}), ["k"], "t")


@pytest.mark.parametrize("kind", ["duckdb", "parquet", "csv", "sqlite"])
def test_read_tables_from_every_source_kind(tmp_path, kind):
    frames = {"a": pl.DataFrame({"x": [1, 2]}), "b": pl.DataFrame({"y": ["u"]})}
    if kind == "duckdb":
        uri = str(write_duckdb(tmp_path / "src.duckdb", frames))
    elif kind == "sqlite":
        import sqlalchemy as sa

        uri = f"sqlite:///{tmp_path / 'src.sqlite'}"
        engine = sa.create_engine(uri)
        for name, f in frames.items():
            f.write_database(name, engine)
        engine.dispose()
    else:
        uri = str(write_folder(tmp_path / "src", frames, fmt=kind))
    got = read_tables(uri, ["a"], ["b", "c"])
    assert got["a"]["x"].to_list() == [1, 2]
    assert got["b"]["y"].to_list() == ["u"]
    assert got["c"] is None
    with pytest.raises(DataContractError, match="table 'zzz'.*missing table"):
        read_tables(uri, ["zzz"])


def test_redact_hides_passwords_in_query_parameters_too():
    url = "postgresql+psycopg://bob@h/db?sslmode=require&password=s3cr3t&sslpassword=p2"
    out = redact(url)
    assert "s3cr3t" not in out and "p2" not in out
    assert out.startswith("postgresql+psycopg://bob@h/db?sslmode=require&password=***")
    assert redact("duckdb:///x.duckdb") == "duckdb:///x.duckdb"
    assert redact("/data/folder") == "/data/folder"
    assert "tok" not in redact("https://h/x?api_key=tok")


def test_redact_hides_passwords():
    assert redact("postgresql://bob:secret@h:5432/db") == "postgresql://bob:***@h:5432/db"


def test_a_sqlite_source_cannot_be_written_through_salesml(tmp_path):
    import sqlalchemy as sa

    from shared.sources import read_only_engine

    db = tmp_path / "src.sqlite"
    rw = sa.create_engine(f"sqlite:///{db}")
    with rw.begin() as c:
        c.execute(sa.text("CREATE TABLE customers (customer_id INTEGER)"))
        c.execute(sa.text("INSERT INTO customers VALUES (1)"))
    rw.dispose()
    got = read_tables(f"sqlite:///{db}", ["customers"])
    assert got["customers"]["customer_id"].to_list() == [1]
    engine = read_only_engine(f"sqlite:///{db}")
    with pytest.raises(sa.exc.OperationalError, match="readonly"), engine.begin() as c:
        c.execute(sa.text("INSERT INTO customers VALUES (2)"))


@pytest.mark.postgres
def test_a_postgres_source_session_cannot_lift_read_only():
    import uuid

    import sqlalchemy as sa

    from shared.sources import read_only_engine
    from tests.conftest import pg_url

    url, table = pg_url(), f"ro_{uuid.uuid4().hex[:8]}"
    rw = sa.create_engine(url)
    with rw.begin() as c:
        c.execute(sa.text(f"CREATE TABLE {table} (x int)"))
    try:
        engine = read_only_engine(url)
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as c:
            c.execute(sa.text("SET default_transaction_read_only = off"))
            c.execute(sa.text("SET transaction_read_only = off"))
            c.execute(sa.text(f"INSERT INTO {table} VALUES (1)"))
        engine.dispose()
        with rw.connect() as c:
            assert c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0
    finally:
        with rw.begin() as c:
            c.execute(sa.text(f"DROP TABLE {table}"))
        rw.dispose()


def test_nonfinite_values_are_one_violation_per_column():
    import polars as pl

    from shared.validation import nonfinite_violations

    df = pl.DataFrame(
        {"id": [1, 2, 3], "x": [1.0, float("inf"), -float("inf")], "y": [0.5, None, 2.0]}
    )
    (v,) = nonfinite_violations(df, "t", ["id"])
    assert (v.table, v.column, v.n_rows) == ("t", "x", 2)
    assert [e["id"] for e in v.examples] == [2, 3]


def test_a_contract_error_points_to_the_page_of_the_location_reading_it():
    import pytest

    from shared.validation import DataContractError, Violation, contract_page

    with pytest.raises(DataContractError) as err, contract_page("docs/data_contracts/x.md"):
        raise DataContractError([Violation("t", "c", "rule", 1, [])])
    assert err.value.page == "docs/data_contracts/x.md"
    assert "docs/data_contracts/x.md" in str(err.value) and "table 't'" in str(err.value)
