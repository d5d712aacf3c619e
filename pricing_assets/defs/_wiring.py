"""What every pricing stage module shares: the asset kwargs common to all assets,
``AssetIn`` by name, and :func:`bind` (a module-level asset function with its config)."""

from __future__ import annotations

from typing import Any

from pricing_assets.inputs import OUTPUTS
from pricing_assets.location import LOCATION
from shared.dagster_helpers import bind

__all__ = ["CODE_VERSION", "COMMON", "INPUTS", "bind", "ins"]

CODE_VERSION = "1"
COMMON: dict[str, Any] = LOCATION.asset_kwargs(CODE_VERSION)
INPUTS = OUTPUTS


ins = LOCATION.ins
"""``AssetIn`` of each named asset of this location, keyed by its name."""
