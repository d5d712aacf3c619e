"""What every gosales stage module shares: the asset kwargs common to all assets, the
validated raw inputs, and :func:`bind` (a module-level asset function with its config)."""

from __future__ import annotations

from typing import Any

from gosales_assets.location import LOCATION
from shared.dagster_helpers import bind

__all__ = ["CODE_VERSION", "COMMON", "RAW", "bind", "ins"]

CODE_VERSION = "1"
COMMON: dict[str, Any] = LOCATION.asset_kwargs(CODE_VERSION)
RAW = ("customers", "transactions", "install_base")


ins = LOCATION.ins
"""``AssetIn`` of each named asset of this location, keyed by its name."""
