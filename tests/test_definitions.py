"""All three code locations load, every asset is described, multi-partitions name both dims."""

from __future__ import annotations

import importlib

import dagster as dg
import pytest

from shared.storage import partition_dirs

LOCATIONS = ["gosales_assets", "pricing_assets", "leadconv_assets"]


@pytest.fixture(scope="module", params=LOCATIONS)
def defs(request) -> dg.Definitions:
    return importlib.import_module(f"{request.param}.definitions").defs


def test_location_loads_and_validates(defs):
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_asset_graph().get_all_asset_keys()


def test_every_asset_is_described_grouped_owned_and_versioned(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_external:
            continue
        assert node.description, f"{key} has no description"
        assert node.group_name and node.group_name != "default", f"{key} has no group"
        assert node.owners, f"{key} has no owners"
        assert node.code_version, f"{key} has no code version"
        assert node.kinds, f"{key} has no kinds"


def test_multi_partitioned_assets_store_every_dimension(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        pdef = graph.get(key).partitions_def
        if isinstance(pdef, dg.MultiPartitionsDefinition):
            pk = pdef.get_partition_keys()[0]
            dirs = partition_dirs(dict(pk.keys_by_dimension))
            assert {d.split("=")[0] for d in dirs} == set(pdef.partition_dimension_names), key


def test_asset_keys_do_not_collide_across_locations():
    seen: dict[dg.AssetKey, str] = {}
    for loc in LOCATIONS:
        defs = importlib.import_module(f"{loc}.definitions").defs
        for key in defs.resolve_asset_graph().get_all_asset_keys():
            if defs.resolve_asset_graph().get(key).is_external:
                continue
            assert key not in seen, f"{key} defined in {seen.get(key)} and {loc}"
            seen[key] = loc
