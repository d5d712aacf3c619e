"""Run gosales end to end on a synthetic world and tabulate every division (``python -m``).

For each division of one cutoff: the holdout's base rate and positives, the oracle's
(true probabilities') AUC, the candidate's AUC and its standard error, the gate
verdict, the verdict the gates would give the true probabilities on the same holdout
(``oracle_gates``: does the evidence allow any model to pass?), the learner chosen on
the validation slice (``lightgbm``, ``logistic`` or ``prior``), the label window used
(widened for a sparse division) and what serves the division afterwards (a model
version or ``rule-baseline``). Everything goes through the Dagster definitions, the
same path as ``make demo``, in the ``SALESML_HOME`` of the caller.

    SALESML_HOME=/tmp/h python -m gosales_assets.world_study --size small --variant weak_signal
"""

from __future__ import annotations

import argparse
from datetime import date

import dagster as dg
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.definitions import build_defs
from gosales_assets.demo import INPUTS, TRAIN
from gosales_assets.world import SIZES
from shared.partitions import add_months, month_end
from shared.storage import read_lake


def study_config(size: str, variant: str, seed: int = 7, **overrides) -> GosalesConfig:
    """Every division, one cutoff 18 months before the world's end (room for a widened
    9-month window and its holdout), six-month windows, sparse widening to 9 months."""
    spec = SIZES[size]
    as_of = month_end(add_months(spec["start"], spec["months"] - 1))
    from gosales_assets.world import DIVISIONS

    raw = {
        "divisions": list(DIVISIONS),
        "cutoffs": [add_months(as_of, -18)],
        "window_months": 6,
        "world_size": size,
        "world_seed": seed,
        "world_variant": variant,
        "sparse": {"min_positives": 40, "max_window_months": 9},
        "training": {"snapshots": 3, "n_estimators": 200, "min_child_samples": 20},
        **overrides,
    }
    return GosalesConfig.model_validate(raw)


def _run(defs: dg.Definitions, keys: list[str], partition_key=None) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        asset_selection=[dg.AssetKey.from_user_string(k) for k in keys],
        partition_key=partition_key,
        raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
    )


def _meta(result: dg.ExecuteInProcessResult, asset: str, key: str):
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        if mat.asset_key.to_user_string() == asset and key in mat.metadata:
            return mat.metadata[key].value
    return None


def _cause(failure) -> str:
    err = failure.step_failure_data.error
    while err.cause is not None:
        err = err.cause
    return err.message.strip()


def run_study(cfg: GosalesConfig, source_uri: str | None = None) -> pl.DataFrame:
    """Materialize inputs, every division's partition at ``cfg.cutoffs[0]`` and its scores;
    one row per division (columns in the module docstring). Raises RuntimeError when a
    step other than a refused gate fails."""
    defs = build_defs(cfg, source_uri=source_uri)
    if not _run(defs, INPUTS).success:
        raise RuntimeError("gosales inputs failed")
    cutoff: date = cfg.cutoffs[0]
    rows = []
    for division in cfg.divisions:
        pk = dg.MultiPartitionKey({"cutoff": cutoff.isoformat(), "division": division})
        trained = _run(defs, TRAIN, pk)
        gate = next(
            (
                e
                for e in trained.get_asset_check_evaluations()
                if e.asset_check_key.name == "promotion_gates"
            ),
            None,
        )
        failures = trained.get_step_failure_events()
        if gate is None and not failures:
            raise RuntimeError(f"{division}: no gate verdict and no failure")
        verdict = (
            ("pass" if gate.passed else str(gate.description))
            if gate is not None
            else "not trained: " + _cause(failures[0])
        )
        scored = _run(defs, ["gosales/icp_scores"], division)
        if not scored.success:
            raise RuntimeError(f"{division}: scoring failed {scored.get_step_failure_events()}")
        rows.append(
            {
                "division": division,
                "window_months": _meta(trained, "gosales/labels", "window_months"),
                "window_widened": _meta(trained, "gosales/labels", "window_widened"),
                "learner": _meta(trained, "gosales/candidate_model", "learner"),
                "gate": verdict,
                "oracle_gates": _meta(trained, "gosales/candidate_model", "oracle_gates"),
            }
        )
    metrics = read_lake(["gosales", "holdout_metrics"])
    wide = metrics.pivot(on="model", index="division", values="auc").select(
        "division",
        pl.col("oracle").alias("oracle_auc"),
        pl.col("candidate").alias("candidate_auc"),
        pl.col("rule").alias("rule_auc"),
    )
    cand = metrics.filter(pl.col("model") == "candidate").select(
        "division",
        "n",
        "positives",
        (pl.col("positives") / pl.col("n")).alias("base_rate"),
        "auc_se",
    )
    served = (
        read_lake(["gosales", "icp_scores"])
        .group_by("division_name")
        .agg(pl.col("model_version").first().alias("served_by"))
        .rename({"division_name": "division"})
    )
    return (
        pl.DataFrame(rows)
        .join(cand, on="division", how="left")
        .join(wide, on="division", how="left")
        .with_columns(oracle_gap=pl.col("oracle_auc") - pl.col("candidate_auc"))
        .join(served, on="division", how="left")
        .select(
            "division",
            "window_months",
            "window_widened",
            "n",
            "positives",
            "base_rate",
            "oracle_auc",
            "candidate_auc",
            "rule_auc",
            "oracle_gap",
            "auc_se",
            "learner",
            "gate",
            "oracle_gates",
            "served_by",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=sorted(SIZES))
    parser.add_argument("--variant", default="weak_signal")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--divisions", nargs="*", help="default: every division")
    parser.add_argument("--min-positives", type=int, default=40, help="sparse.min_positives")
    parser.add_argument("--max-window", type=int, default=9, help="sparse.max_window_months")
    args = parser.parse_args()
    overrides: dict = {
        "sparse": {"min_positives": args.min_positives, "max_window_months": args.max_window}
    }
    if args.divisions:
        overrides["divisions"] = args.divisions
    table = run_study(study_config(args.size, args.variant, args.seed, **overrides))
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=200, tbl_width_chars=400):
        print(table)


if __name__ == "__main__":
    main()
