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

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl

from shared.validation import DataContractError, Violation


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
    path: Path, tables: Sequence[str], text_columns: Sequence[str] = ()
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
            out[t] = pl.read_csv(
                path / f"{t}.csv",
                try_parse_dates=True,
                schema_overrides={c: pl.String for c in text_columns},  # absent ones ignored
            )
        else:
            out[t] = None
    return out


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
    text_columns: Sequence[str] = (),
) -> dict[str, pl.DataFrame | None]:
    """Read ``required`` and ``optional`` tables from a source URI.

    Returns ``{table: frame}``; optional tables that are absent map to None.
    ``text_columns``: columns a CSV file holds as text whatever they look like (ids such
    as ``000123`` keep their leading zeros instead of being inferred as integers);
    Parquet, DuckDB and SQL sources keep their own types.

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
    """The data's as-of date: the latest ``column`` of ``table``; a clear error if empty."""
    value = frame[column].max()
    if value is None:
        raise ValueError(f"table {table!r} is empty: nothing to train or score on")
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
