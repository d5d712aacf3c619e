"""A reconstructable pricing job for the parallel-backfill test.

Reads the tiny config and source from ``SALESML_PRICING_CONFIG`` /
``SALESML_PRICING_SOURCE`` so that every worker process rebuilds the same job.
"""

from __future__ import annotations

import dagster as dg


def pricing_partitioned_job() -> dg.JobDefinition:
    from pricing_assets.definitions import build_defs

    return build_defs().get_job_def("pricing_retrain")
