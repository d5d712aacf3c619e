"""Helpers of the parallel-backfill tests of every location.

A backfill is simulated as Dagster does it: one run per partition, several runs
at once in separate processes, all sharing one DAGSTER_HOME and one SALESML_HOME.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def location_job(location: str, job_name: str) -> dg.JobDefinition:
    """Rebuild ``job_name`` of ``<location>_assets`` (called again in every worker process)."""
    return (
        importlib.import_module(f"{location}_assets.definitions").build_defs().get_job_def(job_name)
    )


def launch_partition(args: tuple[str, str, str, str, dict[str, Any], Sequence[str] | None]) -> bool:
    """Run one partition of a location's job in this process; True when the run succeeded.

    ``args``: (dagster_home, location, job_name, partition_key, executor config such as
    ``{"multiprocess": {"max_concurrent": 2}}``, asset keys to select or None for all).
    """
    dagster_home, location, job_name, partition, executor, selection = args
    recon = dg.build_reconstructable_job(
        __name__,
        "location_job",
        reconstructable_args=(location, job_name),
        reconstructor_working_directory=str(REPO),  # step processes import ``tests`` from here
    )
    result = dg.execute_job(
        recon,
        instance=dg.DagsterInstance.from_config(dagster_home),
        asset_selection=[dg.AssetKey.from_user_string(k) for k in selection] if selection else None,
        tags={"dagster/partition": partition},
        run_config={"execution": {"config": executor}},
    )
    return result.success


def prepare_backfill(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    location: str,
    cfg: Any,
    inputs: Sequence[str],
    source: Path | None = None,
) -> str:
    """Point the location at ``cfg`` (and ``source``), materialize its unpartitioned ``inputs``.

    In: the test's SALESML_HOME, the location name (``gosales``...), its pydantic
    config, the input asset names. Out: the DAGSTER_HOME folder the parallel runs share.
    """
    env = location.upper()
    cfg_path = home.parent / f"{location}.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    monkeypatch.setenv(f"SALESML_{env}_CONFIG", str(cfg_path))
    if source is not None:
        monkeypatch.setenv(f"SALESML_{env}_SOURCE", str(source))
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True)
    defs = importlib.import_module(f"{location}_assets.definitions").build_defs()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dg.DagsterInstance.from_config(str(dagster_home)),
        asset_selection=[dg.AssetKey([location, n]) for n in inputs],
    )
    assert result.success
    return str(dagster_home)
