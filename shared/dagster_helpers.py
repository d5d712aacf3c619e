"""Small helpers for the Dagster wiring layer (metadata, schema checks, resources)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import polars as pl

from shared.partitions import to_date
from shared.storage import WAREHOUSE_TABLE, LakeIOManager
from shared.tracking import MLflowTracker
from shared.validation import pandera_violations

OWNERS = ["team:revenue-ml"]


def md_table(df: pl.DataFrame, max_rows: int = 30) -> str:
    """A polars frame as a markdown table (first ``max_rows`` rows)."""
    if df.height == 0:
        return "_(no rows)_"
    shown = df.head(max_rows)
    cols = shown.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in shown.iter_rows():
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("" if math.isnan(v) else f"{v:.4g}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    if df.height > max_rows:
        lines.append(f"\n_{df.height - max_rows} more rows_")
    return "\n".join(lines)


def numeric_metadata(values: Mapping[str, Any], prefix: str = "") -> dict[str, dg.MetadataValue]:
    """Finite numbers as float metadata (the UI plots them across materializations)."""
    out: dict[str, dg.MetadataValue] = {}
    for k, v in values.items():
        if isinstance(v, bool):
            out[f"{prefix}{k}"] = dg.MetadataValue.bool(v)
        elif isinstance(v, int | float) and math.isfinite(float(v)):
            out[f"{prefix}{k}"] = dg.MetadataValue.float(float(v))
    return out


def schema_check_result(
    df: pl.DataFrame,
    schema: Any,
    table: str,
    key_columns: Sequence[str] = (),
    asset_key: dg.AssetKey | None = None,
    check_name: str | None = None,
) -> dg.AssetCheckResult:
    """Run a pandera polars schema lazily; a blocking-severity result with the failure cases.

    (dagster-pandera reports pandas types for polars schemas and stores no
    failure cases, so we run pandera ourselves.)
    """
    violations = pandera_violations(df, schema, table, key_columns)
    meta: dict[str, Any] = {"rows": df.height, "violations": len(violations)}
    if violations:
        rows = pl.DataFrame(
            [
                {
                    "column": v.column,
                    "rule": v.rule,
                    "n_rows": v.n_rows,
                    "examples": "; ".join(map(str, v.examples[:3])),
                }
                for v in violations
            ]
        )
        meta["failure_cases"] = dg.MetadataValue.md(md_table(rows))
    kwargs: dict[str, Any] = {"asset_key": asset_key} if asset_key is not None else {}
    if check_name is not None:  # only needed when one function yields several checks
        kwargs["check_name"] = check_name
    return dg.AssetCheckResult(
        passed=not violations,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=meta,
        **kwargs,
    )


def warehouse_metadata(table: str) -> dict[str, str]:
    """Asset metadata that makes the lake IO manager publish ``table`` as a DuckDB view."""
    return {WAREHOUSE_TABLE: table}


def register_if_passed(
    context: dg.AssetExecutionContext,
    tracker: MLflowTracker,
    name: str,
    candidate: Mapping[str, Any],
    passed: bool,
    reason: str,
    partition_columns: Mapping[str, Any],
) -> pl.DataFrame:
    """Register ``candidate`` as a new version of ``name`` and move ``champion`` — only if ``passed``.

    In: ``candidate`` holds ``model_uri`` and ``run_id`` (the candidate asset's output);
    ``partition_columns`` are the leading columns of the decision row (e.g.
    ``{"division": ..., "cutoff_date": ...}``), also written as version tags.
    Out: one decision row (partition columns, model_name, version, promoted,
    champion_version, reason, mlflow_run_id, decided_at UTC naive). When the gate
    fails nothing is registered and the previous champion keeps serving; the reason
    goes to the asset metadata so it is plain in the UI.
    """
    version = ""
    if passed:
        tags = {
            k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in partition_columns.items()
        }
        version = tracker.register(
            name, candidate["model_uri"], tags={**tags, "dagster_run_id": context.run_id}
        )
        tracker.promote(name, version)
    champ = tracker.champion(name)
    context.add_output_metadata(
        {
            "promoted": passed,
            "model_name": name,
            "champion_version": champ.version if champ else "none",
            "reason": reason,
        }
    )
    return pl.DataFrame(
        {
            **{k: [v] for k, v in partition_columns.items()},
            "model_name": [name],
            "version": [version],
            "promoted": [passed],
            "champion_version": [champ.version if champ else ""],
            "reason": [reason],
            "mlflow_run_id": [candidate["run_id"]],
            "decided_at": [datetime.now(UTC).replace(tzinfo=None)],
        }
    )


def champion_holdout_scorer(
    tracker: MLflowTracker,
    name: str,
    cutoff: date,
    matrix: Callable[[pl.DataFrame, list[str]], Any],
) -> tuple[Callable[[pl.DataFrame], Any] | None, date | None, str]:
    """How a candidate at ``cutoff`` compares with the serving champion of ``name``.

    Out: (scorer, champion cutoff, note). The scorer maps holdout rows (with feature
    columns) to the champion's probabilities via ``matrix(frame, features)``, or None
    when it cannot score them (features no longer built). No scorer when nothing
    serves or the champion was trained at a later cutoff: its training period may
    cover this holdout, and ``shared.gates.newer_champion_gate`` refuses the older
    candidate from the returned cutoff anyway.
    """
    champ = tracker.champion(name)
    if champ is None:
        return None, None, "no champion serving yet"
    meta = tracker.load_dict(champ.run_id, "model_meta.json")
    champ_cutoff = to_date(meta["cutoff"])
    note = f"champion v{champ.version} (cutoff {champ_cutoff})"
    if champ_cutoff > cutoff:
        return None, champ_cutoff, f"{note}: trained on later data, keeps serving"

    def score(holdout: pl.DataFrame) -> Any:
        if not set(meta["features"]) <= set(holdout.columns):
            return None  # the champion uses features this code no longer builds
        model = tracker.load_model(champ.model_uri)
        return model.predict_proba(matrix(holdout, meta["features"]))[:, 1]

    return score, champ_cutoff, note


def common_resources() -> dict[str, Any]:
    """Resources every code location uses: the lake IO manager and the MLflow tracker."""
    return {"io_manager": LakeIOManager(), "tracker": MLflowTracker()}
