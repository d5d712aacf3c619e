"""Read the source read-only, gate its quality, write an immutable timestamped snapshot.

The source is a SQLAlchemy URL or a DuckDB file (``shared.sources.read_tables``
opens both read-only). The embedded default is the synthetic world written
to ``$SALESML_HOME/worlds/leadconv_<size>_seed<seed>.duckdb``.

A snapshot is a folder ``$SALESML_HOME/snapshots/leadconv/<UTC time>_<hash>/``
with one Parquet file per table and ``manifest.json`` (source, extraction
time, row counts, content hash per table). Files are made read-only; a
snapshot is never rewritten, so every model can be traced to the exact data
it was trained on. Nothing is written when a gate fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from leadconv_assets import schemas
from shared import home as home_mod
from shared.sources import read_tables, redact, write_duckdb
from shared.validation import (
    QUARANTINE_SCHEMA,
    DataContractError,
    Violation,
    contract_page,
    validate_with_quarantine,
)


def world_path(size: str, seed: int, variant: str = "shipped") -> Path:
    name = "leadconv" if variant == "shipped" else f"leadconv_{variant}"
    return home_mod.worlds_dir() / f"{name}_{size}_seed{seed}.duckdb"


def ensure_world(size: str, seed: int, variant: str = "shipped") -> Path:
    """Generate the deterministic synthetic world once, as a DuckDB file (the default source);
    ``variant`` (config ``world_variant``) picks the shipped or the linear-logit world."""
    path = world_path(size, seed, variant)
    if path.exists():
        return path
    from leadconv_assets.world_linear import make_world

    world = make_world(size, seed, variant)
    write_duckdb(path, {**world.tables(), "truth": world.truth, "true_effects": world.true_effects})
    return path


def resolve_source(
    uri: str | None, size: str, seed: int, variant: str = "shipped"
) -> tuple[str, str]:
    """``(uri, description)``: the configured source or the embedded world's DuckDB file."""
    if uri:
        return uri, redact(uri)
    path = ensure_world(size, seed, variant)
    return f"duckdb:///{path}", f"embedded synthetic world {path}"


def read_source(uri: str) -> dict[str, pl.DataFrame | None]:
    """Contract tables (+ truth tables when present) from the source, read-only."""
    return read_tables(
        uri, schemas.REQUIRED, (*schemas.OPTIONAL, *schemas.TRUTH_TABLES), schemas.ID_COLUMNS
    )


def _hash(df: pl.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(",".join(f"{c}:{t}" for c, t in df.schema.items()).encode())
    h.update(df.hash_rows(seed=0).sort().to_numpy().tobytes())
    return h.hexdigest()[:16]


@dataclass
class Snapshot:
    path: Path
    manifest: dict[str, Any]
    tables: dict[str, pl.DataFrame]
    truth: dict[str, pl.DataFrame]


def naive_utc(df: pl.DataFrame) -> pl.DataFrame:
    """Time-zone-aware timestamps (PostgreSQL ``timestamptz``) as naive UTC, like the rest."""
    aware = [c for c, t in df.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    if not aware:
        return df
    return df.with_columns(
        [pl.col(c).dt.convert_time_zone("UTC").dt.replace_time_zone(None) for c in aware]
    )


def quality_gates(
    raw: dict[str, pl.DataFrame | None], now: datetime | None = None
) -> dict[str, pl.DataFrame]:
    """Completeness and quality gates; raises :class:`DataContractError` listing every problem.

    Row counts (every required table non-empty), schema and types, null keys,
    orphan foreign keys, timestamps out of range or before the enrollment.
    """
    empty = [
        Violation(t, "*", "table is empty (row-count gate)", 0, [])
        for t in schemas.REQUIRED
        if raw.get(t) is not None and raw[t].height == 0  # type: ignore[union-attr]
    ]
    contract = {
        t: None if raw.get(t) is None else naive_utc(raw[t])  # type: ignore[arg-type]
        for t in (*schemas.REQUIRED, *schemas.OPTIONAL)
    }
    tables, violations = schemas.contract_violations(contract, now)
    if empty or violations:
        raise DataContractError([*empty, *violations])
    return tables


def write_snapshot(
    tables: dict[str, pl.DataFrame],
    truth: dict[str, pl.DataFrame],
    source: str,
    root: Path | None = None,
    now: datetime | None = None,
    quarantine: pl.DataFrame | None = None,
) -> Snapshot:
    """Write an immutable snapshot folder; returns where and what."""
    now = now or datetime.now(UTC)
    hashes = {t: _hash(df) for t, df in sorted(tables.items())}
    digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:10]
    root = root or home_mod.home() / "snapshots" / "leadconv"
    folder = root / f"{now:%Y%m%dT%H%M%S%fZ}_{digest}"
    tmp = root / f".{folder.name}.tmp"
    tmp.mkdir(parents=True, exist_ok=False)
    for t, df in {**tables, **truth}.items():
        df.write_parquet(tmp / f"{t}.parquet")
    held = quarantine if quarantine is not None else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    held.write_parquet(tmp / "quarantine.parquet")
    manifest = {
        "source": source,
        "extracted_at": now.isoformat(),
        "content_hash": digest,
        "row_counts": {t: df.height for t, df in tables.items()},
        "table_hashes": hashes,
        "truth_tables": sorted(truth),
        "quarantined_rows": held.height,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, folder)
    for f in folder.iterdir():
        f.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return Snapshot(folder, {**manifest, "path": str(folder)}, tables, truth)


def extract(
    uri: str, description: str, now: datetime | None = None, quarantine: bool = False
) -> Snapshot:
    """Read, gate, snapshot. Raises before writing anything if a gate fails; with
    ``quarantine`` on, rows breaking a row-level rule go to the snapshot's
    ``quarantine.parquet`` instead (see ``shared.validation.validate_with_quarantine``)."""
    raw = read_source(uri)
    tables, held = validate_with_quarantine(raw, lambda r: quality_gates(r, now), quarantine)
    truth = {t: raw[t] for t in schemas.TRUTH_TABLES if raw.get(t) is not None}
    return write_snapshot(tables, truth, description, quarantine=held)  # type: ignore[arg-type]


def snapshot_source(
    uri: str | None, size: str, seed: int, variant: str = "shipped", quarantine: bool = False
) -> tuple[Snapshot, str]:
    """Snapshot the source ``uri`` (None = the embedded world of ``size``, ``seed`` and
    ``variant``); returns the snapshot and the source's redacted description."""
    with contract_page("docs/data_contracts/leadconv.md"):
        resolved, described = resolve_source(uri, size, seed, variant)
        return extract(resolved, described, quarantine=quarantine), described
