"""How good is what a refused target gets served? The rules baseline measured after the fact.

On a synthetic world: score every lead at ``score_at = world.as_of - lag`` as if no target had
a model champion (the rules baseline serves, fitted on the windows closed by ``score_at``),
then judge the leads whose window was still open at ``score_at`` (``split = test``, the
rows ``lead_scores`` writes by default) with their labels at ``world.as_of``: PR-AUC, Brier
skill, mean score against the observed rate, and the oracle's PR-AUC on the same rows.

``python -m leadconv_assets.serving_measure [size] [seed]`` prints the table.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import polars as pl

from leadconv_assets import clean, extract, labels, scoring
from leadconv_assets.config import LeadconvConfig, load_config
from leadconv_assets.defs import model_name
from leadconv_assets.world import generate_world
from shared.metrics import brier_skill, pr_auc


class _NoChampions:
    def champion(self, name: str) -> None:
        return None


def measure(cfg: LeadconvConfig, size: str = "demo", seed: int = 42, lag_days: int = 31):
    """One row per target: leads judged, positives, PR-AUC (rules baseline, oracle), Brier
    skill, mean score and observed rate, and the unseen-category worst share at scoring."""
    world = generate_world(size, seed)
    tables, _ = clean.clean_tables(extract.quality_gates(world.tables()))
    score_at = world.as_of - timedelta(days=lag_days)
    scored = scoring.score_leads(
        cfg, _NoChampions(), tables, score_at, cfg.scoring.days_back, model_name
    )
    verdict, unseen = scoring.unseen_verdict(scored, cfg.scoring.unseen_category_max_share)
    rows = []
    for target in cfg.targets:
        test = scored.scores.filter((pl.col("label_col") == target) & (pl.col("split") == "test"))
        later = labels.trainable(labels.labels_for(cfg, tables, target, world.as_of))
        judged = test.join(
            later.select("org_id", "enrollment_id", "label"), on=scoring.scores_db.KEY[:2]
        )
        truth = judged.join(
            world.truth.select("org_id", "enrollment_id", pl.col(f"p_{target}").alias("p")),
            on=["org_id", "enrollment_id"],
            how="left",
        )
        y, p = judged["label"].to_numpy(), judged["score"].to_numpy()
        rows.append(
            {
                "target": target,
                "served": scored.notes[target],
                "scored_rows": scored.rows.get(target, 0),
                "judged_rows": judged.height,
                "positives": int(y.sum()),
                "pr_auc_rules_baseline": pr_auc(y, p),
                "pr_auc_oracle": pr_auc(y, truth["p"].to_numpy()),
                "brier_skill": brier_skill(y, p),
                "mean_score": float(p.mean()),
                "observed_rate": float(y.mean()),
                "unseen_worst_share": float(
                    unseen.filter(pl.col("target") == target)["share"].max() or 0.0
                ),
            }
        )
    return pl.DataFrame(rows), score_at, verdict


def main(argv: list[str]) -> None:
    size = argv[1] if len(argv) > 1 else "demo"
    seed = int(argv[2]) if len(argv) > 2 else 42
    table, score_at, verdict = measure(load_config(), size, seed)
    with pl.Config(tbl_cols=-1, tbl_width_chars=250, float_precision=3):
        print(f"world {size} seed {seed}, scored at {score_at:%Y-%m-%d %H:%M} (no champions)")
        print(table)
        print(f"unseen_categories: {verdict.description}")


if __name__ == "__main__":
    main(sys.argv)
