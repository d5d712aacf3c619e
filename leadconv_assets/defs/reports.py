"""Report stage: ``campaign_recommendations`` (adjusted effects; the report as metadata) and
the ``model_card`` output of the candidate step (written even when a gate fails)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from leadconv_assets import recommend as lc_recommend
from leadconv_assets.candidate import Candidate
from leadconv_assets.config import LeadconvConfig
from leadconv_assets.defs import COMMON, LOCATION, clean_in
from shared.dagster_helpers import bind, warehouse_metadata
from shared.home import reports_dir
from shared.modelcard import render_model_card


def campaign_recommendations(cfg: LeadconvConfig, context, clean: dict) -> pl.DataFrame:
    tables, as_of = clean["tables"], clean["as_of"]
    folder = reports_dir() / LOCATION.name
    effects, recs, report, path = lc_recommend.campaign_report(cfg, tables, as_of, folder)
    context.add_output_metadata(
        {
            "report": dg.MetadataValue.md(report),
            "recommendations": recs.height,
            "worst_per_target": dg.MetadataValue.json(lc_recommend.worst_per_target(effects)),
            "report_path": str(path),
        }
    )
    return effects.with_columns(as_of=pl.lit(as_of)) if effects.height else effects


def model_card_output(cand: Candidate) -> dg.Output:
    """The ``model_card`` output of the candidate step."""
    md_path, json_path = cand.card_paths
    passed = cand.gates.passed
    return dg.Output(
        {"markdown_path": str(md_path), "json_path": str(json_path), "gates_passed": passed},
        "model_card",
        metadata={
            "card": dg.MetadataValue.md(render_model_card(cand.card)),
            "markdown_path": str(md_path),
            "gates_passed": passed,
        },
    )


def build(cfg: LeadconvConfig, parts: dict[str, Any]) -> list:
    """``campaign_recommendations`` (unpartitioned)."""
    return [
        dg.asset(
            key=LOCATION.key("campaign_recommendations"),
            ins=clean_in(),
            kinds={"polars", "markdown"},
            metadata=warehouse_metadata("leadconv.campaign_effects"),
            description="Effect of every campaign step variant on every target, adjusted for who "
            "received it (AIPW, 95% intervals), underperformers ranked by effect x volume, concrete "
            "prompt / delay / channel edits and the A/B sample size to confirm each. A report for a "
            "person: nothing changes automatically.",
            **COMMON,
        )(bind(campaign_recommendations, cfg)),
    ]
