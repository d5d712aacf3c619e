"""Fixtures for the leadconv tests: a tiny configuration and the tiny world."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache

import polars as pl
import pytest

from leadconv_assets.config import LeadconvConfig
from leadconv_assets.world import LeadconvWorld, generate_world
from tests.conftest import pg_url

TINY_CUTOFF = "2025-04-30"


def tiny_config(**overrides) -> LeadconvConfig:
    raw = {
        "targets": {
            "booked_call_within_7d": {"event": "booked_call", "window_days": 7},
            "qualified_within_14d": {"event": "qualified", "window_days": 14},
            "conversion_within_30d": {"event": "converted", "window_days": 30},
        },
        "cutoffs": [TINY_CUTOFF],
        "world_size": "tiny",
        "world_seed": 7,
        "split": {"holdout_days": 30, "calibration_frac": 0.25},
        # plumbing tests on a tiny holdout (~30 T1 positives): the evidence bounds are relaxed so
        # that the tiny world still promotes; the defaults would say "insufficient evidence"
        "gates": {"min_holdout_positives": 3, "max_pr_auc_se": 0.15, "evidence_z": 1.0},
        "training": {"n_estimators": 60},
        "scoring_start": "2025-05-01",
    }
    gates = {**raw["gates"], **overrides.pop("gates", {})}  # type: ignore[dict-item]
    raw.update(overrides, gates=gates)
    return LeadconvConfig.model_validate(raw)


@lru_cache(maxsize=4)
def _world(size: str, seed: int) -> LeadconvWorld:
    return generate_world(size, seed)


@pytest.fixture
def tiny_world() -> LeadconvWorld:
    return _world("tiny", 7)


@pytest.fixture
def tiny_cfg() -> LeadconvConfig:
    return tiny_config()


def scores_frame(scores: list[float], version: str = "1", run: str = "r1") -> pl.DataFrame:
    n = len(scores)
    return pl.DataFrame(
        {
            "org_id": ["org01"] * n,
            "enrollment_id": [f"e{i}" for i in range(n)],
            "label_col": ["booked_call_within_7d"] * n,
            "score": scores,
            "model_name": ["leadconv_booked_call_within_7d"] * n,
            "model_version": [version] * n,
            "run_id": [run] * n,
            "scored_at": [datetime(2025, 7, 1, 6)] * n,
            "split": ["test"] * (n - 1) + ["train"],
        }
    )


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request, tmp_path):
    """(url, table, history) on a fresh DuckDB file or unique PostgreSQL tables."""
    suffix = uuid.uuid4().hex[:10]
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'scores.duckdb'}", "lead_scores", "lead_score_history"
        return
    url = pg_url()
    table, history = f"lead_scores_{suffix}", f"lead_score_history_{suffix}"
    yield url, table, history
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {history}"))
    engine.dispose()
