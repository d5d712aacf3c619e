"""Declarative automation: a promotion re-scores its division, a re-score re-ranks whitespace."""

from __future__ import annotations

import dagster as dg

from gosales_assets.definitions import build_defs


def _requested(result) -> dict[str, set]:
    out = {}
    for r in result.results:
        subset = r.true_subset
        if subset.is_empty:
            continue
        keys = subset.expensively_compute_partition_keys() if subset.is_partitioned else {None}
        out[r.key.to_user_string()] = set(keys)
    return out


def _materialized(instance, key: str, partition=None) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=dg.AssetKey.from_user_string(key), partition=partition)
    )


def test_promotion_rescores_its_division_then_reranks():
    defs = build_defs()
    instance = dg.DagsterInstance.ephemeral()
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():  # everything up to date once
        pdef = graph.get(key).partitions_def
        for pk in pdef.get_partition_keys() if pdef else [None]:
            _materialized(instance, key.to_user_string(), pk)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0

    cutoff = max(
        defs.resolve_assets_def(
            dg.AssetKey(["gosales", "feature_matrix"])
        ).partitions_def.get_partition_keys(),
        key=str,
    )
    division = cutoff.keys_by_dimension["division"]
    _materialized(instance, "gosales/promoted_model", cutoff)
    after_promotion = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor
    )
    assert _requested(after_promotion) == {"gosales/icp_scores": {division}}

    _materialized(instance, "gosales/icp_scores", division)
    after_scoring = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=after_promotion.cursor
    )
    assert _requested(after_scoring) == {"gosales/whitespace": {None}}


def test_failed_gate_elsewhere_does_not_block_rescoring():
    """A division's scores depend on promoted_model at every cutoff; one missing (gate failed)
    must not stop re-scoring after a later promotion."""
    defs = build_defs()
    instance = dg.DagsterInstance.ephemeral()
    graph = defs.resolve_asset_graph()
    promoted = dg.AssetKey(["gosales", "promoted_model"])
    pdef = graph.get(promoted).partitions_def
    keys = sorted(pdef.get_partition_keys(), key=str)
    division = keys[0].keys_by_dimension["division"]
    same_division = [k for k in keys if k.keys_by_dimension["division"] == division]
    assert len(same_division) >= 2
    for key in graph.get_all_asset_keys():
        kpdef = graph.get(key).partitions_def
        for pk in kpdef.get_partition_keys() if kpdef else [None]:
            if key == promoted and pk == same_division[0]:
                continue  # the older cutoff's gate failed: never promoted
            _materialized(instance, key.to_user_string(), pk)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    _materialized(instance, "gosales/promoted_model", same_division[-1])
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert division in _requested(result).get("gosales/icp_scores", set())
