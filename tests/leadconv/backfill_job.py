"""Reconstructable leadconv jobs for the parallel-backfill test (config from SALESML_LEADCONV_CONFIG)."""

from __future__ import annotations

import dagster as dg


def leadconv_retrain_job() -> dg.JobDefinition:
    from leadconv_assets.definitions import build_defs

    return build_defs().get_job_def("leadconv_retrain_job")


def leadconv_scoring_job() -> dg.JobDefinition:
    from leadconv_assets.definitions import build_defs

    return build_defs().get_job_def("leadconv_scoring_job")
