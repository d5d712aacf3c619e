"""The lake: every asset partition is its own Parquet file, the warehouse is DuckDB views.

Layout: ``<home>/lake/<asset key path>/<dim>=<value>/.../data.parquet`` (hive
style, dimensions sorted by name; a single-dimension partitions definition
uses ``partition=<key>``); unpartitioned assets write ``.../data.parquet``.
Objects that are not frames (fitted models, reports) are stored with joblib as
``data.joblib`` in the same place. Each write goes to a temporary file first
and is moved into place with ``os.replace``, so re-running a partition
replaces it atomically and never duplicates rows, and partitions of a
backfill can be written by parallel processes without any lock.

Table assets whose definition metadata carries ``salesml/warehouse_table:
"<schema>.<table>"`` are published as a DuckDB view over all their partition
files in ``<home>/warehouse.duckdb`` — so ``SELECT * FROM gosales.icp_scores``
works there. DuckDB allows one writer per file, and any process holding the file
(an analyst's query, even read-only) would block a writer; so runs never open the
live file for writing: the view definitions live in ``warehouse_views.json`` and
a changed set is written to a new DuckDB file that atomically replaces the old
one (serialized between runs by a lock file). Readers are never blocked and never
block.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import joblib
import polars as pl

from shared import home as home_mod
from shared.partitions import validate_name

WAREHOUSE_TABLE = "salesml/warehouse_table"
FRAME_FILE, OBJECT_FILE = "data.parquet", "data.joblib"


def partition_dirs(partition: Mapping[str, str] | str | None) -> list[str]:
    """Hive-style folder names for a partition: ``["cutoff=2024-06-30", "division=printers"]``."""
    if partition is None:
        return []
    if isinstance(partition, str):
        return [f"partition={partition}"]
    return [f"{dim}={partition[dim]}" for dim in sorted(partition)]


def _partition_of(key: Any) -> Mapping[str, str] | str:
    if isinstance(key, dg.MultiPartitionKey):
        return dict(key.keys_by_dimension)
    return str(key)


def asset_dir(asset_path: Sequence[str], base: Path | None = None) -> Path:
    """Folder of one asset in the lake."""
    return (base or home_mod.lake_dir()).joinpath(*asset_path)


def lake_path(
    asset_path: Sequence[str],
    partition: Mapping[str, str] | str | None = None,
    base: Path | None = None,
) -> Path:
    """Folder holding one partition (or the unpartitioned asset)."""
    return asset_dir(asset_path, base).joinpath(*partition_dirs(partition))


def _atomic_write(folder: Path, name: str, write: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, folder / name)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return folder / name


SIGNATURE_SUFFIX = ".sig"


def _mac_file(mac: Any, path: Path) -> None:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            mac.update(chunk)


def _signature(path: Path) -> str:
    """HMAC-SHA256 of a file's bytes under the lake key (hex)."""
    mac = hmac.new(home_mod.lake_key(), digestmod=hashlib.sha256)
    _mac_file(mac, path)
    return mac.hexdigest()


def tree_signature(folder: Path, exclude: Sequence[str] = ()) -> str:
    """HMAC-SHA256 under the lake key (hex) of every file below ``folder``: its sorted
    relative paths and their bytes, each framed by its length (so moving bytes between
    files, renaming, adding or removing a file all change the signature). ``exclude``:
    relative paths left out (files a tool rewrites after signing)."""
    mac = hmac.new(home_mod.lake_key(), digestmod=hashlib.sha256)
    files = sorted(
        p for p in Path(folder).rglob("*") if p.is_file() or (p.is_symlink() and not p.is_dir())
    )
    for path in files:
        rel = path.relative_to(folder).as_posix()
        if rel in exclude:
            continue
        if path.is_symlink():  # never follow a link out of the signed tree
            raise UntrustedObjectError(f"{path}: a symbolic link in a signed folder")
        name = rel.encode()
        mac.update(len(name).to_bytes(8, "big") + name)
        mac.update(path.stat().st_size.to_bytes(8, "big"))
        _mac_file(mac, path)
    return mac.hexdigest()


class UntrustedObjectError(RuntimeError):
    """A pickled object in the lake whose signature is missing or wrong: not loaded."""


def write_object(folder: Path, obj: Any) -> Path:
    """Write a frame as Parquet or any other object with joblib; replaces what was there.

    A joblib file is signed (``data.joblib.sig``, HMAC-SHA256 under
    :func:`shared.home.lake_key`), because loading a pickle runs code: only files
    salesml itself wrote are ever loaded.
    """
    if isinstance(obj, pl.LazyFrame):
        obj = obj.collect()
    if isinstance(obj, pl.DataFrame):
        stale = folder / OBJECT_FILE
        path = _atomic_write(folder, FRAME_FILE, lambda p: obj.write_parquet(p))
        for old in (stale, stale.with_name(OBJECT_FILE + SIGNATURE_SUFFIX)):
            old.unlink(missing_ok=True)
        return path
    stale = folder / FRAME_FILE

    def dump_signed(tmp: str) -> None:
        joblib.dump(obj, tmp, compress=3)
        sig = _signature(Path(tmp))
        _atomic_write(folder, OBJECT_FILE + SIGNATURE_SUFFIX, lambda p: Path(p).write_text(sig))

    path = _atomic_write(folder, OBJECT_FILE, dump_signed)
    stale.unlink(missing_ok=True)
    return path


def read_object(folder: Path, what: str = "") -> Any:
    """Read what :func:`write_object` wrote in ``folder``.

    Raises :class:`UntrustedObjectError` (naming the file) for a joblib file whose
    signature is missing or does not match: it was not written by salesml with this
    key, and unpickling it could run anyone's code.
    """
    if (folder / FRAME_FILE).exists():
        return pl.read_parquet(folder / FRAME_FILE)
    path = folder / OBJECT_FILE
    if path.exists():
        sig_file = path.with_name(OBJECT_FILE + SIGNATURE_SUFFIX)
        expected = sig_file.read_text().strip() if sig_file.exists() else ""
        if not expected or not hmac.compare_digest(expected, _signature(path)):
            raise UntrustedObjectError(
                f"refusing to load {what or folder}: {path} is not signed by this salesml "
                f"installation ({'no signature' if not expected else 'signature mismatch'}); "
                "re-materialize the asset (a pickle from elsewhere could run code)"
            )
        return joblib.load(path)
    raise FileNotFoundError(
        f"no stored value for {what or folder} at {folder}: materialize it first "
        "(in the UI, or `dagster asset materialize`)"
    )


def read_lake(asset_path: Sequence[str], base: Path | None = None) -> pl.DataFrame:
    """All partitions of a table asset as one frame (empty frame if none)."""
    files = sorted(asset_dir(asset_path, base).rglob(FRAME_FILE))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


# --- warehouse ---------------------------------------------------------------


@contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """Exclusive lock between processes on this machine (``fcntl.flock`` on ``lock_path``)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def warehouse_connection(read_only: bool = False, retries: int = 60) -> Iterator[Any]:
    """A DuckDB connection to the warehouse file.

    Read-only connections take no lock: writers never open the live file (see
    :func:`publish_view`), so any number of readers, in any process, can hold it. A
    read-write connection is for tests and tools; it is serialized by the lock file.
    """
    path = home_mod.warehouse_path()
    if read_only and path.exists():
        con = duckdb.connect(str(path), read_only=True)
        try:
            yield con
        finally:
            con.close()
        return
    with file_lock(path.with_suffix(".lock")):
        last: Exception | None = None
        for attempt in range(retries):
            try:
                con = duckdb.connect(str(path))
                break
            except duckdb.IOException as err:  # another process outside our lock
                last = err
                time.sleep(min(0.1 * (attempt + 1), 2.0))
        else:
            raise RuntimeError(f"could not open warehouse {path}: {last}")
        try:
            yield con
        finally:
            con.close()


def _views_registry() -> Path:
    return home_mod.warehouse_path().with_name("warehouse_views.json")


def _known_views(path: Path, registry: Path) -> dict[str, str]:
    """``{"schema.table": view SQL}`` from the registry, or read once from an older
    warehouse file that predates it."""
    if registry.exists():
        return json.loads(registry.read_text())
    if not path.exists():
        return {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.sql("SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal")
        return {f"{s}.{v}": q for s, v, q in rows.fetchall()}
    finally:
        con.close()


def _rebuild_warehouse(path: Path, views: Mapping[str, str]) -> None:
    """Write a new warehouse file with every view and swap it in atomically.

    Readers holding the old file keep their (consistent) catalog and are never
    blocked; the next connection sees the new one. Views are only SQL over Parquet
    globs, so a rebuild costs milliseconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        for table in sorted(views):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
            con.execute(views[table])
    finally:
        con.close()
    os.replace(tmp, path)
    Path(f"{tmp}.wal").unlink(missing_ok=True)


def publish_view(table: str, asset_path: Sequence[str], base: Path | None = None) -> str:
    """Create or replace ``<schema>.<table>`` as a view over every partition file of an asset.

    Returns the SQL of the view. Columns are unioned by name across partitions;
    frames carry their own key columns (no hive columns are added). The live
    warehouse file is never opened for writing: the views are kept in
    ``warehouse_views.json`` and a changed set is written to a new file that replaces
    the old one atomically, so an analyst's open connection (even read-write tools
    that only read) cannot make a run wait for a lock. An unchanged view writes nothing.
    """
    schema, _, name = table.partition(".")
    if not name:
        raise ValueError(f"warehouse table {table!r} must be '<schema>.<table>'")
    validate_name(schema, "warehouse schema")
    validate_name(name, "warehouse table")
    glob = str(asset_dir(asset_path, base) / "**" / FRAME_FILE).replace("'", "''")
    sql = (
        f"CREATE OR REPLACE VIEW {schema}.{name} AS SELECT * FROM "
        f"read_parquet('{glob}', union_by_name = true, hive_partitioning = false)"
    )
    path, registry = home_mod.warehouse_path(), _views_registry()
    with file_lock(path.with_suffix(".lock")):
        views = _known_views(path, registry)
        if views.get(table) == sql and path.exists():
            return sql
        views[table] = sql
        _rebuild_warehouse(path, views)
        _atomic_write(
            registry.parent,
            registry.name,
            lambda p: Path(p).write_text(json.dumps(views, indent=1)),
        )
    return sql


def query_warehouse(sql: str) -> pl.DataFrame:
    """Run a read query on the warehouse and return a polars frame."""
    with warehouse_connection(read_only=True) as con:
        return con.sql(sql).pl()


class LakeIOManager(dg.ConfigurableIOManager):
    """Stores every asset partition as its own file under ``<home>/lake``.

    ``base_dir`` overrides the lake folder (default ``$SALESML_HOME/lake``,
    resolved at run time). Returning ``None`` from an asset writes nothing
    (assets that persist elsewhere, e.g. a SQL upsert).
    """

    base_dir: str | None = None

    def _base(self) -> Path:
        return Path(self.base_dir) if self.base_dir else home_mod.lake_dir()

    def _folders(self, context: dg.InputContext | dg.OutputContext) -> list[tuple[str, Path]]:
        path = context.asset_key.path
        if not context.has_asset_partitions:
            return [("", lake_path(path, None, self._base()))]
        keys = context.asset_partition_keys
        pdef = context.asset_partitions_def
        out = []
        for key in keys:
            key_obj = key
            if isinstance(pdef, dg.MultiPartitionsDefinition) and not isinstance(
                key, dg.MultiPartitionKey
            ):
                key_obj = pdef.get_partition_key_from_str(key)
            out.append((str(key), lake_path(path, _partition_of(key_obj), self._base())))
        return out

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        folders = self._folders(context)
        if len(folders) > 1:
            if not isinstance(obj, Mapping):
                raise TypeError(
                    f"{context.asset_key.to_user_string()}: a run over {len(folders)} partitions "
                    "must return a dict {partition_key: value}"
                )
            for key, folder in folders:
                write_object(folder, obj[key])
        else:
            write_object(folders[0][1], obj)
        if isinstance(obj, pl.DataFrame | pl.LazyFrame) or (
            isinstance(obj, Mapping) and obj and isinstance(next(iter(obj.values())), pl.DataFrame)
        ):
            meta = context.definition_metadata or {}
            table = meta.get(WAREHOUSE_TABLE)
            if table is not None:
                table = getattr(table, "value", table)
                publish_view(str(table), context.asset_key.path, self._base())
            frame = obj if not isinstance(obj, Mapping) else next(iter(obj.values()))
            if isinstance(frame, pl.DataFrame):
                context.add_output_metadata(
                    {"dagster/row_count": frame.height, "path": str(folders[0][1])}
                )

    def load_input(self, context: dg.InputContext) -> Any:
        what = context.asset_key.to_user_string()
        folders = self._folders(context)
        if len(folders) == 1:
            return read_object(folders[0][1], what)
        values = {key: read_object(folder, f"{what} [{key}]") for key, folder in folders}
        if all(isinstance(v, pl.DataFrame) for v in values.values()):
            return pl.concat(list(values.values()), how="diagonal_relaxed")
        return values
