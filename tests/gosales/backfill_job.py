"""A reconstructable gosales job for the parallel-backfill test.

Reads the tiny config and source from ``SALESML_GOSALES_CONFIG`` /
``SALESML_GOSALES_SOURCE`` so that every worker process rebuilds the same job.
"""

from __future__ import annotations

import dagster as dg


def gosales_partitioned_job() -> dg.JobDefinition:
    from gosales_assets.definitions import build_defs

    defs = build_defs()
    return defs.get_job_def("gosales_retrain_job")
