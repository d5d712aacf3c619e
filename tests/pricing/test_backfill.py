"""Two business units backfilled as parallel runs, each on the multiprocess executor.

Takes about 4 minutes on 2 busy cores (every step is its own process), so it
runs only with ``SALESML_SLOW_TESTS=1``.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import pytest

from pricing_assets.inputs import OUTPUTS
from shared.storage import query_warehouse
from tests.backfill import launch_partition, prepare_backfill
from tests.pricing.conftest import TINY_CUTOFF, tiny_config


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("SALESML_SLOW_TESTS"), reason="about 4 minutes; set SALESML_SLOW_TESTS=1"
)
def test_parallel_backfill_of_two_business_units(
    salesml_home, monkeypatch, tiny_world, tiny_source
):
    cfg = tiny_config(tiny_world)
    inputs = OUTPUTS
    home = prepare_backfill(salesml_home, monkeypatch, "pricing", cfg, inputs, tiny_source)
    jobs = [
        (
            home,
            "pricing",
            "pricing_retrain",
            str(dg.MultiPartitionKey({"bu_id": bu, "cutoff": TINY_CUTOFF.isoformat()})),
            {"multiprocess": {"max_concurrent": 2}},
            None,
        )
        for bu in cfg.business_units
    ]
    with ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(launch_partition, jobs))
    assert outcomes == [True, True]
    got = query_warehouse("SELECT DISTINCT bu_id FROM pricing.price_recs_deal ORDER BY 1")
    assert got["bu_id"].to_list() == sorted(cfg.business_units)
