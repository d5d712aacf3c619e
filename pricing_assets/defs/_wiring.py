"""What every pricing stage module shares: the asset kwargs common to all assets,
``AssetIn`` by name, and :func:`bind` (a module-level asset function with its config)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import dagster as dg

from pricing_assets.location import LOCATION
from shared.dagster_helpers import OWNERS

CODE_VERSION = "1"
COMMON: dict[str, Any] = {
    "group_name": LOCATION.name,
    "owners": OWNERS,
    "code_version": CODE_VERSION,
}
INPUTS = ("order_lines", "quotes", "line_truth", "quote_truth")


def ins(*names: str) -> dict[str, dg.AssetIn]:
    """``AssetIn`` of each named pricing asset, keyed by its name."""
    return {n: dg.AssetIn(LOCATION.key(n)) for n in names}


def bind(fn: Callable[..., Any], cfg: Any) -> Callable[..., Any]:
    """``fn`` with its first argument (the config, or another build-time value) bound, keeping its name and docstring
    so Dagster sees the remaining parameters (context, inputs, resources) only."""
    bound = functools.partial(fn, cfg)
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(bound, attr, getattr(fn, attr))
    return bound
