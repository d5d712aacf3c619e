"""Reading pricing input tables: the user's source or the embedded synthetic world.

Contract tables: ``order_lines`` and ``quotes``. A source may also hold
``line_truth`` and ``quote_truth`` (the synthetic world writes them): the true
discount quantiles and win probabilities used to judge the models; real data
has none and every truth metric is then skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl

from shared.home import worlds_dir
from shared.sources import as_of_date, read_source, write_folder
from shared.validation import contract_page, validate_with_quarantine

REQUIRED = ("order_lines", "quotes")
OUTPUTS = ("order_lines", "quotes", "line_truth", "quote_truth", "quarantine")
"""The assets of the inputs multi-asset (it cannot be subset: jobs select all of them)."""
OPTIONAL = ("line_truth", "quote_truth")


def world_folder(size: str, seed: int, variant: str = "shipped") -> Path:
    """Where the embedded world of this size, seed and variant is written."""
    suffix = "" if variant == "shipped" else f"_{variant}"
    return worlds_dir() / f"pricing_{size}_seed{seed}{suffix}"


def ensure_world(size: str, seed: int, variant: str = "shipped") -> Path:
    """Generate the deterministic synthetic world once; returns its folder (Parquet per table).
    ``variant`` (config ``world_variant``): see :mod:`pricing_assets.world`."""
    folder = world_folder(size, seed, variant)
    if (folder / "_complete").exists():
        return folder
    from pricing_assets.world import generate_world

    world = generate_world(size=size, seed=seed, variant=variant)
    write_folder(folder, {**world.tables(), **world.truth_tables()})
    (folder / "_complete").write_text(world.as_of.isoformat())
    return folder


def load_inputs(
    uri: str | None, size: str, seed: int, variant: str = "shipped"
) -> tuple[dict[str, pl.DataFrame | None], str]:
    """Read the tables; returns ``({table: frame or None}, description of the source)``."""
    from pricing_assets.schemas import ID_COLUMNS

    ids_as_text = {table: ID_COLUMNS for table in (*REQUIRED, *OPTIONAL)}
    return read_source(
        uri, REQUIRED, OPTIONAL, lambda: ensure_world(size, seed, variant), ids_as_text
    )


def data_as_of(order_lines: pl.DataFrame) -> date:
    """The data's as-of date: the last order date."""
    return as_of_date(order_lines, "order_lines", "order_date")


def empty_if_missing(frame: pl.DataFrame | None) -> pl.DataFrame:
    """An optional table, or an empty frame when the source has none."""
    return frame if frame is not None else pl.DataFrame()


def read_validated_inputs(
    uri: str | None,
    size: str,
    seed: int,
    business_units: list[str],
    variant: str = "shipped",
    extra_numeric: Sequence[str] = (),
    extra_categorical: Sequence[str] = (),
    quarantine: bool = False,
) -> tuple[dict[str, pl.DataFrame], str, date]:
    """Read the source and validate every contract table before anything is written:
    ``({order_lines, quotes, line_truth, quote_truth, quarantine}, description of the
    source, as-of)``. Truth tables the source lacks are empty frames; ``quarantine`` holds
    the rows set aside when ``quarantine`` is on (else a bad row raises). ``extra_*``: the
    declared user feature columns (config ``features``), which must be present."""
    with contract_page("docs/data_contracts/pricing.md"):
        from pricing_assets.schemas import ids_as_text, validate_inputs

        tables, described = load_inputs(uri, size, seed, variant)
        as_of = data_as_of(tables["order_lines"])
        clean, held = validate_with_quarantine(
            {"order_lines": tables["order_lines"], "quotes": tables["quotes"]},
            lambda t: validate_inputs(t, business_units, as_of, extra_numeric, extra_categorical),
            quarantine,
        )
        out = {
            "order_lines": clean["order_lines"],
            "quotes": clean["quotes"],
            **{name: ids_as_text(empty_if_missing(tables.get(name))) for name in OPTIONAL},
            "quarantine": held,
        }
        return out, described, as_of
