"""Stage ``gauntlet``: the leakage gauntlet report of one ``cutoff × division`` candidate
(:mod:`gosales_assets.gauntlet`) and one asset check per gauntlet test.

The report re-builds the candidate's training snapshots and holdout with
``training.training_frames`` (the partition's own feature matrix and labels are reused)
and runs the eight checks (the four time checks of :mod:`gosales_assets.gauntlet_extra`
read the input tables). The checks are non-blocking: they report; the promotion path
(``promoted_model``) does not read them in this change. A check fails with severity ERROR
when a gate refuses and with severity WARN when only advisory gates failed (the shift
grid's improvements within epsilon). The group-CV fold assignments are also written to
``$SALESML_HOME/reports/gosales/gauntlet/<division>/<cutoff>/fold_assignments.csv``.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from gosales_assets import gauntlet as gs_gauntlet
from gosales_assets import training
from gosales_assets.config import GosalesConfig
from gosales_assets.defs._wiring import COMMON, RAW, bind, ins
from gosales_assets.gauntlet_extra import Tables
from gosales_assets.location import LOCATION
from shared.dagster_helpers import md_table, numeric_metadata
from shared.gates import GateReport
from shared.home import reports_dir
from shared.plots import md_image, null_png

DESCRIPTIONS = {
    "label_permutation": "Label permutation test: a fast proxy's holdout AUC beats labels "
    "shuffled within snapshot buckets (p <= 0.01 over 199 permutations, margin >= 0.02).",
    "too_good_to_be_true": "No single feature ranks the holdout too well (univariate AUC "
    "<= 0.90 and <= best other feature + 0.15): catches an undated column that saw the label.",
    "reproducibility": "Two fits with one seed give the same holdout predictions (checksum).",
    "static_scan": "The feature code (features, labels, aggregates) reads no wall clock.",
    "shift_grid": "Features rebuilt 7/14/28/56 days earlier, labels fixed: the ridge proxy's "
    "holdout AUC / lift@10% must not improve with older features by more than 0.01 / 0.25 "
    "(FAIL); a smaller improvement is a WARN.",
    "group_cv_purge": "Customer-grouped folds (StratifiedGroupKFold) with a purge gap >= "
    "the label window: zero customer overlap in every fold and between training and holdout.",
    "safe_ablation": "Full vs SAFE features (no windows < 6 months, recency or expiring-asset "
    "features) on a far holdout: SAFE adopted when AUC >= Full - 0.005; fails when Full beats "
    "SAFE by more than 0.05 AUC.",
    "feature_dates": "Every feature family's latest contributing event is on or before the "
    "cutoff (full vs cut data, bisection for the date); names the features fed later.",
}

CHECK_TABLES = {
    "shift_grid": ("shift_grid",),
    "group_cv_purge": ("cv_folds", "cv_offenders"),
    "safe_ablation": ("safe_table", "safe_dropped"),
    "feature_dates": ("feature_dates",),
}
"""The report's tables each check shows in its own metadata."""
CHECK_NUMBERS = {
    "shift_grid": "shift_",
    "group_cv_purge": "cv_",
    "safe_ablation": "safe_",
    "feature_dates": "features_after",
}
"""Prefix of the report numbers each time check shows in its metadata."""


def fold_assignments_path(division: str, cutoff) -> str:
    """Where the partition's group-CV fold assignments (``customer_id, fold``) go."""
    folder = reports_dir() / "gosales" / "gauntlet" / division / str(cutoff)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "fold_assignments.csv")


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
    tables = Tables(transactions, customers, install_base, cfg.divisions, division, cutoff, window)
    result = gs_gauntlet.gauntlet_report(
        frames.train, frames.holdout, frames.features, cfg.training, cfg.gauntlet, tables=tables
    )
    folds_csv = fold_assignments_path(division, cutoff)
    result.extra.group_cv.assignments.write_csv(folds_csv)
    payload = {
        "division": division,
        "cutoff": cutoff,
        "holdout_cutoff": frames.holdout_cutoff,
        "window_months": window,
        **result.to_dict(),
        "fold_assignments_csv": folds_csv,
    }
    safe = payload["safe"]
    payload["tables"] = {  # what each time check shows (CHECK_TABLES)
        "shift_grid": payload["shift_grid"],
        "cv_folds": payload["cv_folds"].drop("eval_snapshot"),
        "cv_offenders": payload["cv_offenders"],
        "safe_table": safe["table"],
        "safe_dropped": safe["dropped"],
        "feature_dates": payload["feature_dates"],
    }
    payload["permutation_null_md"] = _null_markdown(result.permutation)
    univariate = result.univariate.table.select(
        "feature", "holdout_auc", "holdout_auc_low", "train_auc", "flagged"
    )
    context.add_output_metadata(
        {
            **numeric_metadata(result.numbers()),
            "passed": result.passed,
            "gates": dg.MetadataValue.md(result.combined().to_markdown()),
            "permutation_null": dg.MetadataValue.md(_null_markdown(result.permutation)),
            "univariate_auc_top10": dg.MetadataValue.md(md_table(univariate.head(10))),
            "static_findings": dg.MetadataValue.md(md_table(result.static.table())),
            "shift_grid": dg.MetadataValue.md(md_table(payload["shift_grid"])),
            "safe_policy": safe["policy"],
            "far_holdout_cutoff": safe["far_holdout_cutoff"],
            "fold_assignments": dg.MetadataValue.path(folds_csv),
        }
    )
    return payload


def _null_markdown(permutation: gs_gauntlet.PermutationResult) -> str:
    """The permutation null as a histogram plot (observed AUC marked) over its table; the
    table alone when no permutation ran."""
    table = md_table(gs_gauntlet.null_histogram(permutation))
    if not permutation.null.size:
        return table
    png = null_png(permutation.null, permutation.observed, "Label permutation null (proxy AUC)")
    return md_image(png, "permutation null") + "\n\n" + table


def _check(name: str):
    def check(gauntlet_report: dict[str, Any]) -> dg.AssetCheckResult:
        stored = gauntlet_report["checks"][name]
        report = GateReport.from_dict(stored)
        warn_only = report.passed and bool(report.warnings)
        metadata: dict[str, Any] = {"gates": dg.MetadataValue.md(report.to_markdown())}
        prefix = CHECK_NUMBERS.get(name)
        if prefix:
            nums = {k: v for k, v in gauntlet_report["numbers"].items() if k.startswith(prefix)}
            metadata.update(numeric_metadata(nums))
        for table in CHECK_TABLES.get(name, ()):
            frame = gauntlet_report.get("tables", {}).get(table)
            if frame is not None:
                metadata[table] = dg.MetadataValue.md(md_table(frame))
        if name == "label_permutation" and "permutation_null_md" in gauntlet_report:
            metadata["null"] = dg.MetadataValue.md(gauntlet_report["permutation_null_md"])
        if name == "safe_ablation" and "safe" in gauntlet_report:
            metadata["policy"] = gauntlet_report["safe"]["policy"]
        if name == "group_cv_purge" and "fold_assignments_csv" in gauntlet_report:
            metadata["fold_assignments"] = dg.MetadataValue.path(
                gauntlet_report["fold_assignments_csv"]
            )
        return dg.AssetCheckResult(
            passed=report.passed and not warn_only,
            severity=dg.AssetCheckSeverity.WARN if warn_only else dg.AssetCheckSeverity.ERROR,
            description=report.summary(),
            metadata=metadata,
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
        "univariate too-good-to-be-true, same-seed reproducibility, wall-clock static scan, "
        "shift grid, group CV with purge, SAFE ablation, feature date audit.",
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
        for name in gs_gauntlet.ALL_CHECKS
    ]
    return [asset, *checks]
