"""Runs of one partition execute in process (no Python process per step); the
multiprocess executor stays one launchpad setting away; every location's jobs use it."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from shared.automation import IN_PROCESS_RUN, partition_job


@dg.asset
def first() -> int:
    return os.getpid()


@dg.asset
def second(first: int) -> int:
    return os.getpid()


JOB = partition_job("toy_partition_job", selection=[first, second])
DEFS = dg.Definitions(assets=[first, second], jobs=[JOB])


def toy_job() -> dg.JobDefinition:
    return DEFS.get_job_def("toy_partition_job")


def _step_workers(result: dg.ExecuteJobResult) -> int:
    return sum(e.event_type_value == "STEP_WORKER_STARTED" for e in result.all_events)


def test_partition_job_runs_in_process_unless_told_otherwise(tmp_path):
    recon = dg.build_reconstructable_job(
        __name__, "toy_job", reconstructor_working_directory=os.getcwd()
    )
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        with dg.execute_job(recon, instance=instance) as default:
            assert default.success and _step_workers(default) == 0
        config = {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}
        with dg.execute_job(recon, instance=instance, run_config=config) as multi:
            assert multi.success and _step_workers(multi) == 2  # one process per step


@pytest.mark.parametrize("location", ["gosales", "pricing", "leadconv"])
def test_every_location_runs_its_partitions_in_process(location):
    import importlib

    defs = importlib.import_module(f"{location}_assets.definitions").build_defs()
    repo = defs.get_repository_def()
    implicit = defs.resolve_implicit_global_asset_job_def()
    assert implicit.executor_def is dg.in_process_executor  # UI materializations
    for job in repo.get_all_jobs():
        if job.name.startswith("__"):
            continue
        if job.executor_def is dg.multi_or_in_process_executor:
            if job.partitions_def is None:
                assert job.run_config == IN_PROCESS_RUN, job.name
            else:  # a partitioned job's run config comes with each partition
                key = job.partitions_def.get_first_partition_key()
                assert job.get_run_config_for_partition_key(key) == IN_PROCESS_RUN, job.name
        else:
            assert job.executor_def is dg.in_process_executor, job.name
