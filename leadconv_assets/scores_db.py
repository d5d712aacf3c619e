"""Persist lead scores to a SQL table: upsert + append-only history, in one transaction.

``lead_scores`` is keyed on ``(org_id, enrollment_id, label_col)`` and holds
the latest score with ``model_name``, ``model_version``, ``run_id`` (the MLflow
run of the model) and ``scored_at``. ``lead_score_history`` gets one row per
insert or change, never an update or delete. A row counts as changed when
its score, model name, model version or run id differs; a different
``scored_at`` alone is not a change, so re-running the same partition changes
nothing.

The target is a DuckDB file (``/path/scores.duckdb`` or ``duckdb:///...``,
through the duckdb API) or any SQLAlchemy URL (PostgreSQL is tested). Every
write happens in one transaction: history first, then the upsert; if any
statement fails (a score outside [0, 1] breaks a CHECK constraint, the
connection drops) the transaction rolls back and both tables are left as
they were. ``dry_run`` counts what would be inserted and updated and writes
nothing.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl

from shared import home as home_mod
from shared.sources import redact, source_kind

COLUMNS = [
    "org_id",
    "enrollment_id",
    "label_col",
    "score",
    "model_name",
    "model_version",
    "run_id",
    "scored_at",
]
KEY = ["org_id", "enrollment_id", "label_col"]
COMPARED = ["score", "model_name", "model_version", "run_id"]
_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")
Split = Literal["all", "test", "train"]


def default_url() -> str:
    """DuckDB file under the salesml home (read at call time)."""
    return f"duckdb:///{home_mod.home() / 'leadconv_scores.duckdb'}"


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid table name {name!r}: use [schema.]table in lowercase")
    return name


def select_split(frame: pl.DataFrame, split: Split) -> pl.DataFrame:
    """Rows of one split: ``train`` (rows the model was trained on), ``test`` (all others) or ``all``."""
    if split == "all":
        return frame
    if split not in ("test", "train"):
        raise ValueError(f"split must be all, test or train, got {split!r}")
    return frame.filter(pl.col("split") == split)


@dataclass(frozen=True)
class UpsertResult:
    target: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    history_appended: int
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ddl(table: str, history: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {table} (
            org_id VARCHAR NOT NULL,
            enrollment_id VARCHAR NOT NULL,
            label_col VARCHAR NOT NULL,
            score DOUBLE PRECISION NOT NULL CHECK (score >= 0 AND score <= 1),
            model_name VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            scored_at TIMESTAMP NOT NULL,
            PRIMARY KEY (org_id, enrollment_id, label_col))""",
        f"""CREATE TABLE IF NOT EXISTS {history} (
            org_id VARCHAR NOT NULL,
            enrollment_id VARCHAR NOT NULL,
            label_col VARCHAR NOT NULL,
            score DOUBLE PRECISION,
            model_name VARCHAR,
            model_version VARCHAR,
            run_id VARCHAR,
            scored_at TIMESTAMP,
            change VARCHAR NOT NULL,
            written_at TIMESTAMP NOT NULL)""",
    ]


def _classify_sql(table: str) -> str:
    on = " AND ".join(f"s.{k} = t.{k}" for k in KEY)
    diff = " OR ".join(f"s.{c} IS DISTINCT FROM t.{c}" for c in COMPARED)
    cols = ", ".join(f"s.{c}" for c in COLUMNS)
    return (
        f"SELECT {cols}, CASE WHEN t.org_id IS NULL THEN 'insert' "
        f"WHEN {diff} THEN 'update' ELSE 'unchanged' END AS change "
        f"FROM _stage s LEFT JOIN {table} t ON {on}"
    )


def _write_sql(table: str, history: str) -> list[str]:
    cols = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c not in KEY)
    return [
        f"INSERT INTO {history} ({cols}, change, written_at) "
        f"SELECT {cols}, change, CAST(:written_at AS TIMESTAMP) FROM _changes",
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _changes "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}",
    ]


def _prepare(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"scores frame lacks columns {missing}")
    out = frame.select(COLUMNS).with_columns(
        pl.col("score").cast(pl.Float64),
        pl.col("scored_at").cast(pl.Datetime("us")),
        *[pl.col(c).cast(pl.Utf8) for c in COLUMNS if c not in ("score", "scored_at")],
    )
    dup = out.select(KEY).is_duplicated()
    if dup.any():
        raise ValueError(
            f"scores frame has {int(dup.sum())} rows with a duplicate key {KEY}: "
            f"{out.filter(dup).select(KEY).head(3).to_dicts()}"
        )
    return out


# --- DuckDB ------------------------------------------------------------------


def _duckdb_file(url: str) -> Path | None:
    if source_kind(url) != "duckdb":
        return None
    return Path(url.removeprefix("duckdb:///"))


def _connect_duckdb(path: Path, retries: int = 60) -> Any:
    """Open the DuckDB file read-write, waiting while another process holds its write lock
    (DuckDB allows one writer per file; parallel backfill steps take turns)."""
    import duckdb

    last: Exception | None = None
    for attempt in range(retries):
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as err:
            last = err
            time.sleep(min(0.1 * (attempt + 1), 2.0))
    raise RuntimeError(f"could not open {path} for writing: {last}")


def _upsert_duckdb(
    path: Path,
    frame: pl.DataFrame,
    table: str,
    history: str,
    dry_run: bool,
    fail_before_commit: bool,
    now: datetime,
) -> tuple[int, int, int, int]:

    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect_duckdb(path)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            for stmt in _ddl(table, history):
                con.execute(stmt)
            con.register("_stage_frame", frame.to_arrow())
            con.execute("CREATE TEMP TABLE _stage AS SELECT * FROM _stage_frame")
            con.execute(f"CREATE TEMP TABLE _all AS {_classify_sql(table)}")
            counts = dict(
                con.execute("SELECT change, count(*) FROM _all GROUP BY change").fetchall()
            )
            ins, upd = int(counts.get("insert", 0)), int(counts.get("update", 0))
            unch = int(counts.get("unchanged", 0))
            if dry_run:
                con.execute("ROLLBACK")
                return ins, upd, unch, 0
            con.execute(
                "CREATE TEMP TABLE _changes AS SELECT * FROM _all WHERE change <> 'unchanged'"
            )
            for stmt in _write_sql(table, history):
                if ":written_at" in stmt:
                    con.execute(stmt.replace(":written_at", "$written_at"), {"written_at": now})
                else:
                    con.execute(stmt)
            if fail_before_commit:
                raise RuntimeError("injected failure before commit (test hook)")
            con.execute("COMMIT")
            return ins, upd, unch, ins + upd
        except BaseException:
            with contextlib.suppress(Exception):  # DuckDB may have rolled back already
                con.execute("ROLLBACK")
            raise
    finally:
        con.close()


# --- SQLAlchemy (PostgreSQL) -------------------------------------------------


@contextmanager
def _sa_connection(url: str) -> Iterator[Any]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _upsert_sqlalchemy(
    url: str,
    frame: pl.DataFrame,
    table: str,
    history: str,
    dry_run: bool,
    fail_before_commit: bool,
    now: datetime,
) -> tuple[int, int, int, int]:
    import sqlalchemy as sa

    with _sa_connection(url) as conn:
        trans = conn.begin()
        try:
            for stmt in _ddl(table, history):
                conn.execute(sa.text(stmt))
            conn.execute(
                sa.text(
                    "CREATE TEMP TABLE _stage (org_id VARCHAR, enrollment_id VARCHAR, "
                    "label_col VARCHAR, score DOUBLE PRECISION, model_name VARCHAR, "
                    "model_version VARCHAR, run_id VARCHAR, scored_at TIMESTAMP) ON COMMIT DROP"
                )
            )
            if frame.height:
                placeholders = ", ".join(f":{c}" for c in COLUMNS)
                conn.execute(
                    sa.text(f"INSERT INTO _stage ({', '.join(COLUMNS)}) VALUES ({placeholders})"),
                    frame.to_dicts(),
                )
            conn.execute(
                sa.text(f"CREATE TEMP TABLE _all ON COMMIT DROP AS {_classify_sql(table)}")
            )
            counts = dict(
                conn.execute(sa.text("SELECT change, count(*) FROM _all GROUP BY change")).all()
            )
            ins, upd = int(counts.get("insert", 0)), int(counts.get("update", 0))
            unch = int(counts.get("unchanged", 0))
            if dry_run:
                trans.rollback()
                return ins, upd, unch, 0
            conn.execute(
                sa.text(
                    "CREATE TEMP TABLE _changes ON COMMIT DROP AS "
                    "SELECT * FROM _all WHERE change <> 'unchanged'"
                )
            )
            for stmt in _write_sql(table, history):
                conn.execute(sa.text(stmt), {"written_at": now})
            if fail_before_commit:
                raise RuntimeError("injected failure before commit (test hook)")
            trans.commit()
            return ins, upd, unch, ins + upd
        except BaseException:
            if trans.is_active:
                trans.rollback()
            raise


def upsert_scores(
    url: str | None,
    frame: pl.DataFrame,
    *,
    table: str = "lead_scores",
    history_table: str = "lead_score_history",
    dry_run: bool = False,
    fail_before_commit: bool = False,
    now: datetime | None = None,
) -> UpsertResult:
    """Upsert ``frame`` into ``table`` and append changes to ``history_table`` in one transaction.

    Args:
        url: DuckDB file / ``duckdb:///`` URL or SQLAlchemy URL; None = :func:`default_url`.
        frame: columns :data:`COLUMNS`, one row per key.
        dry_run: count inserts/updates, write nothing (tables are not even created).
        fail_before_commit: test hook — raise after every write, before COMMIT.
    """
    url = url or default_url()
    _check_name(table)
    _check_name(history_table)
    data = _prepare(frame)
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    path = _duckdb_file(url)
    if path is not None:
        ins, upd, unch, hist = _upsert_duckdb(
            path, data, table, history_table, dry_run, fail_before_commit, now
        )
    else:
        ins, upd, unch, hist = _upsert_sqlalchemy(
            url, data, table, history_table, dry_run, fail_before_commit, now
        )
    return UpsertResult(redact(url), data.height, ins, upd, unch, hist, dry_run)


def read_table(url: str | None, table: str = "lead_scores") -> pl.DataFrame:
    """Read a whole table back (tests, the demo summary); empty frame if it does not exist."""
    url = url or default_url()
    _check_name(table)
    path = _duckdb_file(url)
    if path is not None:
        import duckdb

        if not path.exists():
            return pl.DataFrame()
        con = duckdb.connect(str(path), read_only=True)
        try:
            names = {
                r[0]
                for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
            }
            if table.split(".")[-1] not in names:
                return pl.DataFrame()
            return con.sql(f"SELECT * FROM {table}").pl()
        finally:
            con.close()
    import sqlalchemy as sa

    with _sa_connection(url) as conn:
        schema, _, name = table.rpartition(".")
        if not sa.inspect(conn).has_table(name, schema=schema or None):
            return pl.DataFrame()
        return pl.read_database(sa.text(f"SELECT * FROM {table}"), connection=conn)
