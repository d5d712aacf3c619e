"""The constants of one code location in one place: its asset-key prefix, its second
partition dimension, its registered-model names, and the one way its assets read their
partition.

Each location defines one :class:`Location` (``gosales_assets.LOCATION`` and so on)
and its stage modules use it instead of building keys, model names or partition
tuples by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg

from shared.partitions import CUTOFF_DIM, parse_partition_key, to_date, validate_name


@dataclass(frozen=True)
class Location:
    """``name``: the asset-key prefix, group and warehouse schema (``gosales``);
    ``dim``: the partition dimension beside ``cutoff`` (``division``);
    ``model_prefix``: registered models are ``<model_prefix>_<value>``."""

    name: str
    dim: str
    model_prefix: str

    def __post_init__(self) -> None:
        validate_name(self.name, "location name")
        validate_name(self.dim, "dimension name")

    @property
    def prefix(self) -> list[str]:
        """Asset-key prefix of every asset of the location."""
        return [self.name]

    @property
    def dims(self) -> tuple[str, str]:
        """Both dimension names of the location's ``cutoff × dim`` partitions."""
        return (CUTOFF_DIM, self.dim)

    def key(self, asset: str) -> dg.AssetKey:
        """``AssetKey([location, asset])``."""
        return dg.AssetKey([*self.prefix, asset])

    def model_name(self, value: str) -> str:
        """Registered MLflow model name of one partition value (``gosales_printers``)."""
        return f"{self.model_prefix}_{value}"

    def partition(self, context_or_key: Any) -> tuple[date, str]:
        """``(cutoff, value)`` of an asset context's partition (or of a partition key)."""
        key = getattr(context_or_key, "partition_key", context_or_key)
        parts = parse_partition_key(key, self.dims)
        return to_date(parts[CUTOFF_DIM]), parts[self.dim]

    def ins(self, *names: str) -> dict[str, dg.AssetIn]:
        """``AssetIn`` of each named asset of this location, keyed by its name."""
        return {n: dg.AssetIn(self.key(n)) for n in names}

    def asset_kwargs(self, code_version: str = "1") -> dict[str, Any]:
        """The keyword arguments every asset of the location takes: its group (the location
        name), the owners and the code version."""
        from shared.dagster_helpers import OWNERS

        return {"group_name": self.name, "owners": OWNERS, "code_version": code_version}

    def table(self, name: str) -> str:
        """Warehouse name of one of the location's tables: ``<location>.<name>``."""
        return f"{self.name}.{name}"
