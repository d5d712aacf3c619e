"""End to end on the linear-logit world (``world_variant: linear``, demo size): the learner
chosen is logistic regression, every target passes its gates, gets a champion and is scored
into ``lead_scores`` — the run that used to be green with an empty ``lead_scores``."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from leadconv_assets import scores_db
from leadconv_assets.config import LeadconvConfig, load_config
from leadconv_assets.definitions import build_defs
from leadconv_assets.defs import model_name
from leadconv_assets.demo import TRAIN, scoring_day
from shared.storage import read_lake
from shared.tracking import MLflowTracker
from tests.leadconv.test_pipeline import _run

CUTOFF = "2025-06-30"


@pytest.mark.slow  # about a minute: three demo-size fits and MLflow
def test_linear_world_serves_every_target(salesml_home):
    raw = load_config().model_dump(mode="json")
    cfg = LeadconvConfig.model_validate({**raw, "world_variant": "linear", "cutoffs": [CUTOFF]})
    job = build_defs(cfg).resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    assert _run(job, instance, ["leadconv/extract", "leadconv/clean"]).success
    for target in cfg.targets:
        res = _run(
            job, instance, TRAIN, str(dg.MultiPartitionKey({"cutoff": CUTOFF, "target": target}))
        )
        checks = {e.asset_check_key.name: e for e in res.get_asset_check_evaluations()}
        gate = checks["promotion_gates"]
        assert gate.passed, gate.description
        assert gate.metadata["baseline_verdict"].value == "pass"
        assert res.success and MLflowTracker().champion(model_name(target)) is not None
    metrics = read_lake(["leadconv", "holdout_metrics"]).filter(pl.col("model") == "candidate")
    assert set(metrics["learner"]) == {"logistic"}
    assert (metrics["val_pr_auc_logistic"] > metrics["val_pr_auc_lightgbm"]).all()

    res = _run(job, instance, ["leadconv/lead_scores"], scoring_day())
    assert res.success
    scores = scores_db.read_table(None)
    assert set(scores["label_col"]) == set(cfg.targets)
