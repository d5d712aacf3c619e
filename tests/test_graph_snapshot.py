"""A snapshot of every asset's key, partitions, checks, owners, kinds, description and
automation condition, so that a change to the graph is a visible diff in review.

After an intended change: ``SALESML_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest
tests/test_graph_snapshot.py`` rewrites ``tests/snapshots/asset_graph.json``; commit the
diff with the change.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

SNAPSHOT = Path(__file__).with_name("snapshots") / "asset_graph.json"
LOCATIONS = ["gosales_assets", "pricing_assets", "leadconv_assets"]


def _partitions(pdef: dg.PartitionsDefinition | None) -> Any:
    if pdef is None:
        return None
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        return {d.name: _partitions(d.partitions_def) for d in pdef.partitions_defs}
    if isinstance(pdef, dg.StaticPartitionsDefinition):
        return {"static": pdef.get_partition_keys()}
    if isinstance(pdef, dg.DynamicPartitionsDefinition):
        return {"dynamic": pdef.name}
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return {"time_window": {"cron": pdef.cron_schedule, "start": pdef.start.isoformat()[:10]}}
    return {"other": type(pdef).__name__}


def graph_snapshot(defs: dg.Definitions) -> dict[str, Any]:
    """Everything a reviewer should see change, per asset key, as plain JSON."""
    graph = defs.resolve_asset_graph()
    out: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if node.is_external:
            out[key.to_user_string()] = {"external": True}
            continue
        checks = []
        for ck in sorted(node.check_keys, key=lambda c: c.name):
            spec = graph.get_check_spec(ck)
            checks.append({"name": ck.name, "blocking": bool(spec.blocking)})
        cond = node.automation_condition
        out[key.to_user_string()] = {
            "group": node.group_name,
            "description": node.description,
            "owners": sorted(node.owners),
            "kinds": sorted(node.kinds),
            "partitions": _partitions(node.partitions_def),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": checks,
            "automation_condition": None
            if cond is None
            else cond.get_label() or type(cond).__name__,
        }
    return out


def _current() -> dict[str, Any]:
    return {
        loc: graph_snapshot(importlib.import_module(f"{loc}.definitions").defs) for loc in LOCATIONS
    }


def test_asset_graph_matches_the_snapshot():
    current = _current()
    if os.environ.get("SALESML_UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    stored = json.loads(SNAPSHOT.read_text())
    for loc in LOCATIONS:
        assert stored.get(loc) == current[loc], (
            f"the {loc} asset graph changed; review the diff, then update the snapshot "
            "(SALESML_UPDATE_SNAPSHOT=1, see this module's docstring)"
        )


def test_the_snapshot_sees_a_changed_description_and_a_dropped_check():
    @dg.asset(description="before", check_specs=[dg.AssetCheckSpec("c", asset="a")])
    def a():
        return 1

    @dg.asset(name="a", description="after")
    def a2():
        return 1

    before = graph_snapshot(dg.Definitions(assets=[a]))["a"]
    after = graph_snapshot(dg.Definitions(assets=[a2]))["a"]
    assert before["description"] == "before" and before["checks"] == [
        {"name": "c", "blocking": False}
    ]
    assert before != after and after["checks"] == []
