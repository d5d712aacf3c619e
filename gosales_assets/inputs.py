"""Reading gosales input tables: the user's source or the embedded synthetic world.

Contract tables: ``customers``, ``transactions`` and the optional install base
``assets``. A source may also hold ``ground_truth`` (the synthetic world
writes it): true purchase probabilities used to judge models against the
oracle; real data has none and every oracle metric is then skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl

from shared.home import worlds_dir
from shared.sources import as_of_date, read_source, write_folder
from shared.validation import contract_page, validate_with_quarantine

REQUIRED = ("customers", "transactions")
OUTPUTS = ("customers", "transactions", "install_base", "ground_truth", "quarantine")
"""The assets of the inputs multi-asset (it cannot be subset: jobs select all of them)."""
OPTIONAL = ("assets", "ground_truth")


def world_folder(
    size: str, seed: int, variant: str = "shipped", truth_windows: tuple[int, ...] = ()
) -> Path:
    """Where the embedded world of this size, seed, variant and truth windows is written."""
    name = "gosales" if variant == "shipped" else f"gosales_{variant}"
    extra = f"_w{'-'.join(map(str, truth_windows))}" if truth_windows else ""
    return worlds_dir() / f"{name}_{size}_seed{seed}{extra}"


def ensure_world(
    size: str,
    seed: int,
    window_months: int,
    variant: str = "shipped",
    truth_windows: tuple[int, ...] = (),
) -> Path:
    """Generate the deterministic synthetic world once; returns its folder (Parquet per table).

    ``variant`` is config ``world_variant``; ``truth_windows`` are further label windows
    (overrides, widened sparse windows) whose ground truth is exported too."""
    extra = tuple(w for w in truth_windows if w != window_months)
    folder = world_folder(size, seed, variant, extra)
    if (folder / "_complete").exists():
        return folder
    from gosales_assets.world import generate_world

    world = generate_world(
        size=size, seed=seed, window_months=window_months, variant=variant, truth_windows=extra
    )
    write_folder(folder, {**world.tables(), "ground_truth": world.truth})
    (folder / "_complete").write_text(world.as_of.isoformat())
    return folder


def load_inputs(
    uri: str | None,
    size: str,
    seed: int,
    window_months: int,
    variant: str = "shipped",
    truth_windows: tuple[int, ...] = (),
) -> tuple[dict[str, pl.DataFrame | None], str]:
    """Read the tables; returns ``({table: frame or None}, description of the source)``."""
    return read_source(
        uri,
        REQUIRED,
        OPTIONAL,
        lambda: ensure_world(size, seed, window_months, variant, truth_windows),
    )


def data_as_of(transactions: pl.DataFrame) -> date:
    """The data's as-of date: the last order date in the transactions."""
    return as_of_date(transactions, "transactions", "order_date")


def validated_inputs(
    uri: str | None,
    size: str,
    seed: int,
    window_months: int,
    variant: str = "shipped",
    truth_windows: tuple[int, ...] = (),
    extra_features: Sequence[str] = (),
    quarantine: bool = False,
) -> tuple[dict[str, pl.DataFrame], str, date]:
    """Read the source and validate every table before anything is written.

    Returns ``({customers, transactions, install_base, ground_truth, quarantine},
    description, as_of)``; a missing install base or ground truth is an empty frame, and
    ``quarantine`` holds the rows set aside when ``quarantine`` is on (else none: a bad row
    raises :class:`~shared.validation.DataContractError`).
    """
    with contract_page("docs/data_contracts.md"):
        from gosales_assets.schemas import validate_inputs, with_extra_features

        tables, described = load_inputs(uri, size, seed, window_months, variant, truth_windows)
        as_of = data_as_of(tables["transactions"])  # type: ignore[arg-type]
        clean, held = validate_with_quarantine(
            {k: v for k, v in tables.items() if k != "ground_truth" and v is not None},
            lambda t: validate_inputs(t, as_of),
            quarantine,
        )
        install, truth = clean.get("assets"), tables.get("ground_truth")
        out = {
            # declared extra columns checked and copied to usr_<column> (config extra_features)
            "customers": with_extra_features(clean["customers"], extra_features),
            "transactions": clean["transactions"],
            "install_base": install if install is not None else pl.DataFrame(),
            "ground_truth": truth if truth is not None else pl.DataFrame(),
            "quarantine": held,
        }
        return out, described, as_of
