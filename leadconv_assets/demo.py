"""`make demo` plan and summary for leadconv."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import polars as pl

from leadconv_assets import scores_db
from leadconv_assets.config import load_config
from leadconv_assets.world import SIZES, START, TAIL_DAYS
from shared.dagster_helpers import md_table
from shared.storage import read_lake

INPUTS = ["leadconv/extract", "leadconv/clean", "leadconv/campaign_recommendations"]
TRAIN = [
    "leadconv/features",
    "leadconv/labels",
    "leadconv/candidate_model",
    "leadconv/holdout_metrics",
    "leadconv/promoted_model",
    "leadconv/model_card",
]


def scoring_day() -> str:
    """The demo world's last day (the daily partition scored by the demo)."""
    cfg = load_config()
    days = SIZES[cfg.world_size]["days"] + TAIL_DAYS
    return (START + timedelta(days=days)).date().isoformat()


def demo_plan() -> list[tuple[list[str], list[str] | None]]:
    """Snapshot + clean + recommendations; every target × cutoff, oldest cutoff first; scoring."""
    cfg = load_config()
    keys = [
        str(dg.MultiPartitionKey({"cutoff": c.isoformat(), "target": t}))
        for c in sorted(cfg.cutoffs)
        for t in cfg.targets
    ]
    return [(INPUTS, None), (TRAIN, keys), (["leadconv/lead_scores"], [scoring_day()])]


def summarize() -> str:
    """Per target × cutoff: the learner chosen, PR-AUC of candidate vs rules baseline vs oracle
    (and the paired SE of the difference), gates, champion;
    the worst step variant per target; rows in the lead_scores database."""
    metrics = read_lake(["leadconv", "holdout_metrics"])
    if metrics.height == 0:
        return "no leadconv holdout metrics yet"
    metrics = metrics.with_columns(cutoff=pl.col("cutoff_date").cast(pl.Utf8))
    table = (
        metrics.filter(pl.col("model").is_in(["candidate", "baseline", "champion", "oracle"]))
        .pivot(on="model", index=["target", "cutoff"], values="pr_auc")
        .rename(
            {
                "candidate": "pr_auc",
                "baseline": "baseline_pr_auc",
                "champion": "champion_pr_auc",
                "oracle": "oracle_pr_auc",
            },
            strict=False,
        )
    )
    extra = [c for c in ("learner", "pr_auc_diff_se") if c in metrics.columns]
    cand = metrics.filter(pl.col("model") == "candidate").select(
        "target", "cutoff", "positives", *extra, "lift_at_10", "brier_skill"
    )
    table = cand.join(table, on=["target", "cutoff"])
    promoted = read_lake(["leadconv", "promoted_model"])
    if promoted.height:
        table = table.join(
            promoted.select(
                "target", pl.col("cutoff").cast(pl.Utf8), "promoted", "champion_version"
            ),
            on=["target", "cutoff"],
            how="left",
        )
    out = [md_table(table.sort("target", "cutoff"), max_rows=60)]
    effects = read_lake(["leadconv", "campaign_recommendations"])
    if effects.height:
        worst = effects.filter(pl.col("rank_worst") == 1).select(
            "target", "step_id", "effect", "ci_low", "ci_high", "raw_diff"
        )
        out += ["", "worst step variant per target (adjusted effect, 95% CI):", md_table(worst)]
    scores = scores_db.read_table(None)
    history = scores_db.read_table(None, "lead_score_history")
    out.append(
        f"\nlead_scores in {scores_db.default_url()}: {scores.height} rows "
        f"({history.height} history rows)"
    )
    return "\n".join(out)
