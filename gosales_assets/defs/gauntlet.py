"""Stage ``gauntlet``: the leakage gauntlet report of one ``cutoff × division`` candidate
(:mod:`gosales_assets.gauntlet`) and one asset check per gauntlet test.

The report re-builds the candidate's training snapshots and holdout with
``training.training_frames`` (the partition's own feature matrix and labels are reused)
and runs the four checks. The checks are ERROR severity and non-blocking: they report; the
promotion path (``promoted_model``) does not read them in this change.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from gosales_assets import gauntlet as gs_gauntlet
from gosales_assets import training
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, RAW, bind, ins
from gosales_assets.location import LOCATION
from shared.dagster_helpers import md_table, numeric_metadata
from shared.gates import GateReport

DESCRIPTIONS = {
    "label_permutation": "Label permutation test: a fast proxy's holdout AUC beats labels "
    "shuffled within snapshot buckets (p <= 0.01 over 199 permutations, margin >= 0.02).",
    "too_good_to_be_true": "No single feature ranks the holdout too well (univariate AUC "
    "<= 0.90 and <= best other feature + 0.15): catches an undated column that saw the label.",
    "reproducibility": "Two fits with one seed give the same holdout predictions (checksum).",
    "static_scan": "The feature code (features, labels, aggregates) reads no wall clock.",
}


def gauntlet_report(
    cfg: GosalesConfig, context, feature_matrix, labels, customers, transactions, install_base
) -> dict[str, Any]:
    """Run the gauntlet on the partition's training snapshots and out-of-time holdout."""
    cutoff, division = LOCATION.partition(context)
    window = cfg.label_window(transactions, customers, division, cutoff).months
    frames = training.training_frames(
        customers=customers,
        transactions=transactions,
        install_base=install_base,
        cutoff=cutoff,
        division=division,
        divisions=cfg.divisions,
        window_months=window,
        cfg=cfg.training,
        feature_matrix=feature_matrix,
        labels=labels,
    )
    result = gs_gauntlet.gauntlet_report(
        frames.train, frames.holdout, frames.features, cfg.training, cfg.gauntlet
    )
    payload = {
        "division": division,
        "cutoff": cutoff,
        "holdout_cutoff": frames.holdout_cutoff,
        "window_months": window,
        **result.to_dict(),
    }
    univariate = result.univariate.table.select(
        "feature", "holdout_auc", "holdout_auc_low", "train_auc", "flagged"
    )
    context.add_output_metadata(
        {
            **numeric_metadata(result.numbers()),
            "passed": result.passed,
            "gates": dg.MetadataValue.md(result.combined().to_markdown()),
            "permutation_null": dg.MetadataValue.md(
                md_table(gs_gauntlet.null_histogram(result.permutation))
            ),
            "univariate_auc_top10": dg.MetadataValue.md(md_table(univariate.head(10))),
            "static_findings": dg.MetadataValue.md(md_table(result.static.table())),
        }
    )
    return payload


def _check(name: str):
    def check(gauntlet_report: dict[str, Any]) -> dg.AssetCheckResult:
        stored = gauntlet_report["checks"][name]
        report = GateReport.from_dict(stored)
        return dg.AssetCheckResult(
            passed=report.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=report.summary(),
            metadata={"gates": dg.MetadataValue.md(report.to_markdown())},
        )

    check.__name__ = name
    return check


def build(cfg: GosalesConfig, parts: dg.PartitionsDefinition) -> list[Any]:
    key = LOCATION.key("gauntlet_report")
    asset = dg.asset(
        key=key,
        partitions_def=parts,
        ins=ins("feature_matrix", "labels", *RAW),
        kinds={"python"},
        description="Leakage gauntlet of the partition's candidate: label permutation test, "
        "univariate too-good-to-be-true, same-seed reproducibility, wall-clock static scan.",
        **COMMON,
    )(bind(gauntlet_report, cfg))
    checks = [
        dg.asset_check(
            asset=key,
            name=name,
            partitions_def=parts,  # without it a check step loads every partition
            blocking=False,  # a report: the promotion path is unchanged
            description=DESCRIPTIONS[name],
        )(_check(name))
        for name in gs_gauntlet.CHECKS
    ]
    return [asset, *checks]
