"""Partitions of a backfill run as parallel processes (one run per partition, two at a time):
training per target, then daily scoring
of two days at once into the same DuckDB lead_scores file (one writer at a time, no lock errors)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import pytest
import yaml

from leadconv_assets import scores_db
from shared.storage import query_warehouse
from tests.leadconv.conftest import TINY_CUTOFF, tiny_config

# fresh interpreters: a forked child of a process that already ran polars can deadlock
SPAWN = multiprocessing.get_context("spawn")


def _launch(args: tuple[str, str, str]) -> bool:
    dagster_home, job_name, partition = args
    from tests.leadconv import backfill_job

    instance = dg.DagsterInstance.from_config(dagster_home)
    result = dg.execute_job(
        dg.reconstructable(getattr(backfill_job, job_name)),
        instance=instance,
        tags={"dagster/partition": partition},
        run_config={"execution": {"config": {"in_process": {}}}},
    )
    return result.success


@pytest.mark.slow  # about 60 s: four fresh interpreters each import dagster and mlflow
def test_parallel_backfill_training_and_scoring(salesml_home, monkeypatch, tmp_path):
    cfg = tiny_config()
    cfg_path = tmp_path / "leadconv.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    monkeypatch.setenv("SALESML_LEADCONV_CONFIG", str(cfg_path))
    dagster_home = salesml_home / "dagster"
    dagster_home.mkdir(parents=True)
    instance = dg.DagsterInstance.from_config(str(dagster_home))

    from leadconv_assets.definitions import build_defs

    inputs = (
        build_defs()
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(["leadconv", n]) for n in ("extract", "clean")],
        )
    )
    assert inputs.success
    targets = ["booked_call_within_7d", "qualified_within_14d"]
    train = [
        (
            str(dagster_home),
            "leadconv_retrain_job",
            str(dg.MultiPartitionKey({"cutoff": TINY_CUTOFF, "target": t})),
        )
        for t in targets
    ]
    with ProcessPoolExecutor(max_workers=2, mp_context=SPAWN) as pool:
        list(pool.map(_launch, train))  # a failed gate fails its run; the lake still has metrics
    got = query_warehouse("SELECT DISTINCT target FROM leadconv.holdout_metrics ORDER BY 1")
    assert got["target"].to_list() == sorted(targets)

    days = [(str(dagster_home), "leadconv_scoring_job", d) for d in ("2025-05-10", "2025-05-11")]
    with ProcessPoolExecutor(max_workers=2, mp_context=SPAWN) as pool:
        assert list(pool.map(_launch, days)) == [True, True]
    history = scores_db.read_table(None, "lead_score_history")
    assert history.height >= scores_db.read_table(None).height > 0
