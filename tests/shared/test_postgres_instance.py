"""The production instance on PostgreSQL: the shipped config plus the dagster-postgres
storage block, against the PostgreSQL server the suite starts (scripts/pg.sh). A
partitioned run's record, its materialization and its partition status survive into a
second instance object (a second process would see the same), and the URL never reaches
the stored config."""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import pg_url

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
PARTS = dg.StaticPartitionsDefinition(["a", "b"])


@dg.asset(partitions_def=PARTS)
def pg_toy(context) -> int:
    return len(context.partition_key)


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


@pytest.fixture
def pg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # dagster-postgres binds NOTIFY parameters client-side, which only psycopg2 does; with
    # SQLAlchemy 2.1 a bare postgresql:// URL picks psycopg 3 and every event write fails
    url = pg_url().replace("postgresql+psycopg://", "postgresql+psycopg2://")
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    text = (SCRIPTS / "dagster.yaml").read_text() + (SCRIPTS / "dagster_postgres.yaml").read_text()
    (tmp_path / "dagster.yaml").write_text(text)
    return tmp_path


def test_runs_and_partition_materializations_persist_in_postgres(pg_home: Path):
    from dagster_postgres import PostgresRunStorage

    tag = uuid.uuid4().hex  # the database outlives this test: find our run by a unique tag
    with _instance(pg_home) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        result = dg.materialize(
            [pg_toy], instance=instance, partition_key="b", tags={"salesml/test": tag}
        )
        assert result.success
        run_id = result.run_id
    with _instance(pg_home) as again:  # a new connection: nothing was kept in memory
        runs = again.get_runs(dg.RunsFilter(tags={"salesml/test": tag}))
        assert [r.run_id for r in runs] == [run_id]
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS
        event = again.get_latest_materialization_event(dg.AssetKey("pg_toy"))
        assert event is not None and event.run_id == run_id
        assert again.get_materialized_partitions(dg.AssetKey("pg_toy")) >= {"b"}
        # the URL comes from the environment at start-up; the file only names the variable
        assert "DAGSTER_PG_URL" in (pg_home / "dagster.yaml").read_text()
        assert "salesml:salesml@" not in (pg_home / "dagster.yaml").read_text()
