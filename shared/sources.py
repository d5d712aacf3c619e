"""Read a location's raw input tables from wherever the user keeps them.

A source URI is one of:

* a DuckDB file (``/path/world.duckdb`` or ``duckdb:///path/world.duckdb``),
  opened read-only; tables are looked up in ``main`` by name;
* a folder holding ``<table>.parquet`` or ``<table>.csv`` per table;
* any SQLAlchemy URL (``postgresql+psycopg://user@host/db``), opened with a
  read-only transaction where the database supports it.

Whatever the source, the result is ``{table: polars.DataFrame}`` with the
contract's column names; validation happens in each location's ``schemas``.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import time
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl

from shared.validation import DataContractError, Violation, parse_iso


def _duckdb_path(uri: str) -> Path | None:
    if uri.startswith("duckdb:///"):
        return Path(uri.removeprefix("duckdb:///"))
    if "://" not in uri and uri.endswith((".duckdb", ".db", ".ddb")):
        return Path(uri)
    return None


def source_kind(uri: str) -> str:
    """``duckdb``, ``folder`` or ``sqlalchemy``."""
    if _duckdb_path(uri) is not None:
        return "duckdb"
    if "://" not in uri:
        return "folder"
    return "sqlalchemy"


def _read_duckdb(path: Path, tables: Sequence[str]) -> dict[str, pl.DataFrame | None]:
    if not path.exists():
        raise FileNotFoundError(f"source DuckDB file {path} does not exist")
    con = duckdb.connect(str(path), read_only=True)
    try:
        present = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        return {t: (con.sql(f'SELECT * FROM "{t}"').pl() if t in present else None) for t in tables}
    finally:
        con.close()


def _read_folder(
    path: Path, tables: Sequence[str], text_columns: Mapping[str, Sequence[str]] | None = None
) -> dict[str, pl.DataFrame | None]:
    if not path.is_dir():
        raise FileNotFoundError(f"source folder {path} does not exist")
    out: dict[str, pl.DataFrame | None] = {}
    for t in tables:
        if (path / f"{t}.parquet").exists():
            out[t] = pl.read_parquet(path / f"{t}.parquet")
        elif (path / t).is_dir() and any((path / t).rglob("*.parquet")):
            out[t] = pl.read_parquet(path / t / "**" / "*.parquet")
        elif (path / f"{t}.csv").exists():
            # CSV has no types: declared id columns (and any with leading zeros) stay text
            out[t] = read_csv_table(path / f"{t}.csv", t, (text_columns or {}).get(t, ()))
        else:
            out[t] = None
    return out


def _ragged_rows(path: Path, table: str) -> Violation | None:
    """Lines of a CSV file whose field count differs from its header's (quoted fields and
    embedded newlines handled by the ``csv`` module), as one violation naming the file and
    the line numbers; None when every row has the header's width."""
    bad: list[dict[str, Any]] = []
    n_bad, width = 0, 0
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        width = len(header or [])
        for row in reader:
            if row and len(row) != width:
                n_bad += 1
                if len(bad) < 5:
                    bad.append({"file": path.name, "line": reader.line_num, "fields": len(row)})
    if not n_bad:
        return None
    return Violation(table, "*", f"ragged CSV row: header has {width} fields", n_bad, bad)


_LEADING_ZERO = r"^[+-]?0\d"


def read_csv_table(path: Path, table: str, text_columns: Sequence[str] = ()) -> pl.DataFrame:
    """One CSV file as a polars frame, or a :class:`DataContractError` naming the file.

    Ragged rows (more or fewer fields than the header) are errors with their line numbers.
    Types are inferred over the whole file, except that ``text_columns`` and any column
    holding values with a leading zero (``007``) stay text, so string ids keep their zeros; if inference fails
    (text in a number column past the first rows), every column is read as text and the
    location's contract parses and names the offending values.
    """
    ragged = _ragged_rows(path, table)
    if ragged is not None:
        raise DataContractError([ragged])
    try:
        text = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.ComputeError as err:
        first = str(err).splitlines()[0]
        raise DataContractError(
            [Violation(table, "*", f"unparsable CSV file {path.name}: {first}", 0, [])]
        ) from None
    zeros = [c for c in text.columns if text[c].str.contains(_LEADING_ZERO).fill_null(False).any()]
    zeros += [c for c in text_columns if c in text.columns and c not in zeros]
    try:
        return pl.read_csv(
            path,
            try_parse_dates=True,
            infer_schema_length=None,
            schema_overrides={c: pl.String for c in zeros},
        )
    except pl.exceptions.PolarsError:
        return text


def read_only_engine(uri: str) -> Any:
    """A SQLAlchemy engine that cannot write, whatever a statement tries.

    PostgreSQL: every transaction is opened ``READ ONLY`` by the driver
    (``postgresql_readonly``), on top of ``default_transaction_read_only``, and
    takes its snapshot at once, so no later statement can switch it to read-write
    (for a guarantee that holds outside salesml too, give it a read-only role). SQLite: the file is
    opened with ``mode=ro``. Other dialects get only SELECTs from salesml, and the
    docs ask for a read-only database user there.
    """
    import sqlalchemy as sa

    url = sa.make_url(uri)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError(f"source {redact(uri)}: a SQLite source must be a file")
        path = Path(url.database).resolve()
        return sa.create_engine(
            f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"uri": True}
        )
    if url.get_backend_name() == "postgresql":
        engine = sa.create_engine(
            url, connect_args={"options": "-c default_transaction_read_only=on"}
        ).execution_options(postgresql_readonly=True)

        @sa.event.listens_for(engine, "begin")
        def _pin_read_only(conn: Any) -> None:
            # PostgreSQL lets a transaction switch to read-write until its first query;
            # taking the snapshot at BEGIN closes that door for every later statement.
            conn.exec_driver_sql("SELECT 1")

        return engine
    return sa.create_engine(url)


def _read_sqlalchemy(uri: str, tables: Sequence[str]) -> dict[str, pl.DataFrame | None]:
    import sqlalchemy as sa

    engine = read_only_engine(uri)
    try:
        present = set(sa.inspect(engine).get_table_names())
        out: dict[str, pl.DataFrame | None] = {}
        with engine.connect() as conn:
            for t in tables:
                if t not in present:
                    out[t] = None
                    continue
                out[t] = pl.read_database(sa.text(f'SELECT * FROM "{t}"'), connection=conn)
        return out
    finally:
        engine.dispose()


def read_tables(
    uri: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    text_columns: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, pl.DataFrame | None]:
    """Read ``required`` and ``optional`` tables from a source URI.

    Returns ``{table: frame}``; optional tables that are absent map to None.
    ``text_columns`` (table → columns, optional): columns a CSV file is read as text,
    not inferred (ids like ``0007`` keep their leading zeros); typed sources ignore it.

    Raises:
        DataContractError: a required table is missing (names every missing one).
        FileNotFoundError: the DuckDB file or folder does not exist.
    """
    names = [*required, *optional]
    kind = source_kind(uri)
    if kind == "duckdb":
        frames = _read_duckdb(_duckdb_path(uri), names)  # type: ignore[arg-type]
    elif kind == "folder":
        frames = _read_folder(Path(uri), names, text_columns)
    else:
        frames = _read_sqlalchemy(uri, names)
    missing = [t for t in required if frames.get(t) is None]
    if missing:
        raise DataContractError(
            [Violation(t, "*", f"missing table in source {redact(uri)}", 0, []) for t in missing]
        )
    return frames


_SECRET_PARAMS = ("password", "passwd", "pwd", "secret", "token", "key", "access_key", "api_key")
# run-config keys whose plain string value is a secret by name
_SECRET_KEYS = {"password", "passwd", "pwd", "secret", "token", "api_key", "access_key"}


def read_source(
    uri: str | None,
    required: Sequence[str],
    optional: Sequence[str],
    embedded: Callable[[], Path],
    text_columns: Sequence[str] = (),
) -> tuple[dict[str, pl.DataFrame | None], str]:
    """The one source loader of the locations: ``({table: frame or None}, description)``.

    ``uri`` empty means the embedded world, generated on demand by ``embedded()``
    (returns its folder). The description goes into logs and asset metadata, so a
    URL's secrets are redacted in it. ``text_columns``: see :func:`read_tables`.
    """
    if not uri:
        folder = embedded()
        tables = read_tables(str(folder), required, optional, text_columns)
        return tables, f"embedded synthetic world {folder}"
    return read_tables(uri, required, optional, text_columns), redact(uri)


def as_of_date(frame: pl.DataFrame, table: str, column: str) -> Any:
    """The data's as-of date: the latest ``column`` of ``table``.

    A column stored as ISO 8601 text is parsed first (a date when every value is at
    midnight). Raises :class:`DataContractError` naming the table and column when the column
    is missing or holds no date, and ``ValueError`` when the table is empty.
    """
    if column not in frame.columns:
        raise DataContractError([Violation(table, column, "missing column", 0, [])])
    values = frame[column]
    if values.dtype == pl.String:
        values = parse_iso(values)
        if values.is_not_null().any() and (values.dt.time() == time(0)).fill_null(True).all():
            values = values.dt.date()
    if frame.height == 0:
        raise ValueError(f"table {table!r} is empty: nothing to train or score on")
    value = values.max()
    if value is None:
        raise DataContractError(
            [Violation(table, column, "no date or timestamp in the column", frame.height, [])]
        )
    return value


def redact(uri: str) -> str:
    """Hide secrets in a URL before it goes into an error, a log line or metadata.

    The password of ``user:password@host`` becomes ``***``, and so does the value of
    every query parameter whose name says it is a secret (``?password=``,
    ``&sslpassword=``, ``token=``, ...). Anything that is not a URL passes unchanged.
    """
    from urllib.parse import parse_qsl, urlencode

    if "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    rest, sep, query = rest.partition("?")
    if "@" in rest:
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        rest = f"{user}:***@{host}" if ":" in creds else rest
    if sep:
        pairs = [
            (k, "***" if any(word in k.lower() for word in _SECRET_PARAMS) else v)
            for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe="*/:@")
    return f"{scheme}://{rest}{sep}{query}"


def has_secret(value: str) -> bool:
    """True when ``value`` is a URL carrying a secret that :func:`redact` would hide."""
    return redact(value) != value


def plain_secrets(config: Any, path: str = "") -> list[str]:
    """Where in a (run) config a URL carries a plain-text secret: the dotted paths of
    every string value :func:`redact` would change, and of every string value under a
    key that names a secret (``password``, ``token``, ...). A value given as
    ``{"env": "VAR"}`` holds only the variable's name and is never listed."""
    found: list[str] = []
    if isinstance(config, Mapping):
        for key, value in config.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, str) and value and str(key).lower() in _SECRET_KEYS:
                found.append(where)
            else:
                found.extend(plain_secrets(value, where))
    elif isinstance(config, list | tuple):
        for i, value in enumerate(config):
            found.extend(plain_secrets(value, f"{path}[{i}]"))
    elif isinstance(config, str) and has_secret(config):
        found.append(path or "<value>")
    return found


def write_duckdb(path: Path, frames: Mapping[str, pl.DataFrame]) -> Path:
    """Write frames as tables of a new DuckDB file (atomically replacing ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".duckdb")
    os.close(fd)
    os.remove(tmp)
    con = duckdb.connect(tmp)
    try:
        for name, frame in frames.items():
            con.register("_frame", frame.to_arrow())
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _frame')
            con.unregister("_frame")
    finally:
        con.close()
    os.replace(tmp, path)
    return path


def write_folder(path: Path, frames: Mapping[str, pl.DataFrame], fmt: str = "parquet") -> Path:
    """Write frames as ``<table>.parquet`` (or ``.csv``) files in ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if fmt == "csv":
            frame.write_csv(path / f"{name}.csv")
        else:
            frame.write_parquet(path / f"{name}.parquet")
    return path


class SourceResource(dg.ConfigurableResource):
    """Where a code location reads its raw tables.

    ``uri`` (or the variable named by ``env_var``, read when a run starts) empty
    means the embedded default: the location generates its
    deterministic synthetic world under ``$SALESML_HOME/worlds`` and reads it.
    ``world_size`` and ``world_seed`` choose that world.
    """

    uri: str | None = None
    env_var: str | None = None
    world_size: str = "demo"
    world_seed: int = 42
    quarantine_bad_rows: bool = False
    """Off (default): a row that breaks a row-level contract rule fails the inputs step and
    nothing is written. On: such rows go to the location's ``quarantine`` table with the
    rule they broke, and the run continues with the rest (table-level problems still fail)."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        refuse_plain_secrets(getattr(context.dagster_run, "run_config", None) or {})

    def resolved_uri(self) -> str | None:
        """``uri``, else the environment variable ``env_var`` (read at run time), else None."""
        if self.uri:
            return self.uri
        return os.environ.get(self.env_var) if self.env_var else None

    def is_embedded(self) -> bool:
        return not self.resolved_uri()


class EnvVarRef(dg.Config):
    """A run-config value that names an environment variable instead of holding it:
    ``{env: MY_URL}``. A field of this type cannot be given as a literal string, so a
    URL with a password can never be typed into run config (Dagster rejects the run
    before storing it); the value is read from the environment when the step runs."""

    env: str

    def resolve(self) -> str:
        value = os.environ.get(self.env)
        if not value:
            raise ValueError(f"environment variable {self.env} (named in run config) is not set")
        return value


class PlainSecretError(ValueError):
    """A secret written in plain text where Dagster stores and shows it (run config,
    definitions): refused, with where it is and how to pass it instead."""


def refuse_plain_secrets(run_config: Mapping[str, Any], where: str = "run config") -> None:
    """Raise :class:`PlainSecretError` when ``run_config`` holds a URL with a password
    (or a secret query parameter, or a ``password:`` key) in plain text.

    Dagster keeps a run's config in its run storage and shows it in the UI, so a
    secret belongs in an environment variable: ``target_url: {env: MY_URL}`` in run
    config, ``$SALESML_<LOCATION>_SOURCE`` for a source."""
    found = plain_secrets(run_config)
    if found:
        raise PlainSecretError(
            f"{where} holds a secret in plain text at {', '.join(found)}: Dagster stores and "
            "shows it. Put the URL in an environment variable and pass {env: VARIABLE} "
            "instead (sources: $SALESML_<LOCATION>_SOURCE; lead_scores: "
            "$SALESML_LEADCONV_SCORES_URL or target_url: {env: VARIABLE})"
        )
