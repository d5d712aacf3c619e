"""Two business units backfilled as parallel runs, each on the multiprocess executor.

Takes about 4 minutes on 2 busy cores (every step is its own process), so it
runs only with ``SALESML_SLOW_TESTS=1``.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import pytest
import yaml

from shared.storage import query_warehouse
from tests.pricing.conftest import TINY_CUTOFF, tiny_config


def _launch(args: tuple[str, str, str]) -> bool:
    dagster_home, cutoff, bu = args
    from tests.pricing.backfill_job import pricing_partitioned_job

    instance = dg.DagsterInstance.from_config(dagster_home)
    result = dg.execute_job(
        dg.reconstructable(pricing_partitioned_job),
        instance=instance,
        tags={"dagster/partition": str(dg.MultiPartitionKey({"bu_id": bu, "cutoff": cutoff}))},
        run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}},
    )
    return result.success


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("SALESML_SLOW_TESTS"), reason="about 4 minutes; set SALESML_SLOW_TESTS=1"
)
def test_parallel_backfill_of_two_business_units(
    salesml_home, monkeypatch, tiny_world, tiny_source, tmp_path
):
    cfg = tiny_config(tiny_world)
    cfg_path = tmp_path / "pricing.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    monkeypatch.setenv("SALESML_PRICING_CONFIG", str(cfg_path))
    monkeypatch.setenv("SALESML_PRICING_SOURCE", str(tiny_source))
    dagster_home = salesml_home / "dagster"
    dagster_home.mkdir(parents=True)
    instance = dg.DagsterInstance.from_config(str(dagster_home))

    from pricing_assets.definitions import build_defs

    inputs = (
        build_defs()
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(
            instance=instance,
            asset_selection=[
                dg.AssetKey(["pricing", n])
                for n in ("order_lines", "quotes", "line_truth", "quote_truth")
            ],
        )
    )
    assert inputs.success
    jobs = [(str(dagster_home), TINY_CUTOFF.isoformat(), bu) for bu in cfg.business_units]
    with ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(_launch, jobs))
    assert outcomes == [True, True]
    got = query_warehouse("SELECT DISTINCT bu_id FROM pricing.price_recs_deal ORDER BY 1")
    assert got["bu_id"].to_list() == sorted(cfg.business_units)
