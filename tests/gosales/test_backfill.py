"""A backfill of several partitions as parallel runs, each on the multiprocess executor."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import yaml

from shared.storage import query_warehouse
from tests.gosales.conftest import tiny_config

PARTITIONED = [
    "gosales/feature_matrix",
    "gosales/labels",
    "gosales/candidate_model",
    "gosales/holdout_metrics",
    "gosales/candidate_report",
    "gosales/promoted_model",
    "gosales/model_card",
]


def _launch(args: tuple[str, str, str]) -> bool:
    """Run one partition in its own process with two step workers."""

    dagster_home, cutoff, division = args
    from tests.gosales.backfill_job import gosales_partitioned_job

    instance = dg.DagsterInstance.from_config(dagster_home)
    recon = dg.reconstructable(gosales_partitioned_job)
    result = dg.execute_job(
        recon,
        instance=instance,
        asset_selection=[dg.AssetKey.from_user_string(k) for k in PARTITIONED],
        tags={
            "dagster/partition": str(dg.MultiPartitionKey({"cutoff": cutoff, "division": division}))
        },
        run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}},
    )
    return result.success


def test_parallel_backfill_has_no_lock_errors(
    salesml_home, monkeypatch, tiny_world, tiny_source, tmp_path
):
    cfg = tiny_config(tiny_world)
    cfg_path = tmp_path / "gosales.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    monkeypatch.setenv("SALESML_GOSALES_CONFIG", str(cfg_path))
    monkeypatch.setenv("SALESML_GOSALES_SOURCE", str(tiny_source))
    dagster_home = salesml_home / "dagster"
    dagster_home.mkdir(parents=True)
    instance = dg.DagsterInstance.from_config(str(dagster_home))

    from gosales_assets.definitions import build_defs

    inputs = (
        build_defs()
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(
            instance=instance,
            asset_selection=[
                dg.AssetKey(["gosales", n])
                for n in ("customers", "transactions", "install_base", "ground_truth")
            ],
        )
    )
    assert inputs.success
    cutoff = cfg.cutoffs[0].isoformat()
    jobs = [(str(dagster_home), cutoff, d) for d in cfg.divisions[:2]]
    with ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(_launch, jobs))
    assert outcomes == [True, True]
    got = query_warehouse("SELECT DISTINCT division FROM gosales.holdout_metrics ORDER BY 1")
    assert got["division"].to_list() == sorted(cfg.divisions[:2])
