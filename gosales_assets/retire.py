"""Retire the lake partitions of divisions no longer in the config.

The published warehouse views (``gosales.icp_scores``, ``gosales.holdout_metrics``,
``gosales.model_registry``) read every partition file under an asset's lake folder,
so a division dropped from the config would keep showing. :func:`retire_divisions`
moves each division folder (``division=<name>`` of a cutoff × division asset,
``partition=<name>`` of a division-only one) whose name is not configured to
``<lake>/_retired/<asset path>/...`` (outside every view's glob, nothing deleted)
and returns what it moved, for the caller to log.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from shared import home
from shared.storage import asset_dir

PUBLISHED = (
    ("gosales", "icp_scores"),
    ("gosales", "holdout_metrics"),
    ("gosales", "model_registry"),
)
"""Division-partitioned assets published as warehouse views."""


def retire_divisions(
    divisions: Iterable[str],
    asset_paths: Sequence[Sequence[str]] = PUBLISHED,
    base: Path | None = None,
) -> list[tuple[Path, Path]]:
    """Move partitions of unconfigured divisions aside; returns ``(from, to)`` pairs."""
    keep = set(divisions)
    lake = base or home.lake_dir()
    moved: list[tuple[Path, Path]] = []
    for path in asset_paths:
        root = asset_dir(path, lake)
        if not root.is_dir():
            continue
        folders = [*root.glob("partition=*"), *root.rglob("division=*")]
        stale = [d for d in sorted(folders) if d.is_dir() and d.name.partition("=")[2] not in keep]
        for folder in stale:
            target = lake / "_retired" / folder.relative_to(lake)
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.move(str(folder), str(target))
            except FileNotFoundError:  # another partition's run moved it first
                continue
            moved.append((folder, target))
    return moved
