"""Bad source data gets a clear error naming table, column and rows; nothing downstream is written."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg
import polars as pl
import pytest

from leadconv_assets import extract
from leadconv_assets.definitions import build_defs
from shared.home import home, lake_dir
from shared.sources import write_duckdb
from shared.validation import DataContractError


def _broken(world, what: str) -> dict[str, pl.DataFrame]:
    t = dict(world.tables())
    if what == "missing_table":
        del t["outcomes"]
    elif what == "missing_column":
        t["enrollments"] = t["enrollments"].drop("enrolled_at")
    elif what == "null_keys":
        t["engagement_logs"] = t["engagement_logs"].with_columns(
            enrollment_id=pl.when(pl.int_range(pl.len()) < 3)
            .then(None)
            .otherwise(pl.col("enrollment_id"))
        )
    elif what == "events_before_enrollment":
        first = t["engagement_logs"]["event_id"][0]
        t["engagement_logs"] = t["engagement_logs"].with_columns(
            event_at=pl.when(pl.col("event_id") == first)
            .then(pl.col("event_at") - timedelta(days=400))
            .otherwise(pl.col("event_at"))
        )
    elif what == "unknown_enrollment":
        extra = t["outcomes"].head(2).with_columns(enrollment_id=pl.lit("ghost"))
        t["outcomes"] = pl.concat([t["outcomes"], extra])
    elif what == "future_timestamp":
        t["outcomes"] = t["outcomes"].with_columns(
            outcome_at=pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.lit(datetime(2999, 1, 1)))
            .otherwise(pl.col("outcome_at"))
        )
    return t


CASES = {
    "missing_table": ("outcomes", "*", "missing table"),
    "missing_column": ("enrollments", "enrolled_at", "missing column"),
    "null_keys": ("engagement_logs", "enrollment_id", "null"),
    "events_before_enrollment": ("engagement_logs", "event_at", "before the enrollment"),
    "unknown_enrollment": ("outcomes", "org_id,enrollment_id", "no matching row in 'enrollments'"),
    "future_timestamp": ("outcomes", "outcome_at", "out of range"),
}


@pytest.mark.parametrize("what", sorted(CASES))
def test_bad_source_data_names_table_column_and_rows(tiny_world, what):
    table, column, rule = CASES[what]
    with pytest.raises(DataContractError) as err:
        extract.quality_gates(_broken(tiny_world, what))
    hits = [v for v in err.value.violations if v.table == table and v.column == column]
    assert hits, f"{what}: {err.value}"
    assert any(rule in v.rule.lower() or rule in v.rule for v in hits), f"{what}: {err.value}"
    if what not in ("missing_table", "missing_column"):
        assert hits[0].n_rows > 0 and hits[0].examples
    assert table in str(err.value) and "nothing downstream was written" in str(err.value)


def test_bad_source_writes_no_snapshot_and_no_asset(salesml_home, tiny_world, tiny_cfg):
    src = write_duckdb(
        salesml_home / "bad_source.duckdb", _broken(tiny_world, "unknown_enrollment")
    )
    defs = build_defs(tiny_cfg, source_uri=str(src))
    result = dg.materialize(
        [defs.get_assets_def(dg.AssetKey(["leadconv", k])) for k in ("extract", "clean")],
        resources=defs.resources,
        raise_on_error=False,
    )
    assert not result.success
    failures = result.get_step_failure_events()
    assert any(
        "no matching row in 'enrollments'" in f.event_specific_data.error.to_string()
        for f in failures
    )
    assert not (home() / "snapshots" / "leadconv").exists() or not any(
        (home() / "snapshots" / "leadconv").iterdir()
    )
    assert not (lake_dir() / "leadconv").exists()


@pytest.mark.postgres
def test_source_is_read_read_only_from_postgresql(tiny_world):
    """The extract reads a PostgreSQL source through SQLAlchemy, in a read-only session."""
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from tests.conftest import pg_url

    url = make_url(pg_url())
    db = f"lc_src_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {db}"))
    src_url = url.set(database=db).render_as_string(hide_password=False)
    engine = sa.create_engine(src_url)
    try:
        for name, frame in tiny_world.tables().items():
            frame.write_database(name, connection=engine, if_table_exists="replace")
        engine.dispose()
        snap_tables = extract.quality_gates(extract.read_source(src_url))
        assert snap_tables["enrollments"].height == tiny_world.enrollments.height
        assert snap_tables["engagement_logs"].height == tiny_world.engagement_logs.height
        broken = _broken(tiny_world, "unknown_enrollment")["outcomes"]
        broken.write_database("outcomes", connection=engine, if_table_exists="replace")
        engine.dispose()
        with pytest.raises(DataContractError, match="no matching row in 'enrollments'"):
            extract.quality_gates(extract.read_source(src_url))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        admin.dispose()


def test_timezone_aware_timestamps_are_read_as_naive_utc(tiny_world):
    tables = {
        name: frame.with_columns(
            [
                pl.col(c).dt.replace_time_zone("UTC")
                for c, t in frame.schema.items()
                if isinstance(t, pl.Datetime)
            ]
        )
        for name, frame in tiny_world.tables().items()
    }
    out = extract.quality_gates(tables)
    assert out["engagement_logs"]["event_at"].dtype == pl.Datetime("us")
    assert out["engagement_logs"]["event_at"].equals(tiny_world.engagement_logs["event_at"])
