"""The one model lifecycle of every location: champion rules, promotion, decisions.

A candidate is trained and logged by its location (``MLflowTracker.partition_run``,
``log_model``, ``log_holdout_scores``, a ``model_meta.json`` with its ``cutoff`` and
``features``). From there every location follows the same path, written here once:

1. :func:`champion_holdout_scorer` loads the serving champion so it can score the
   candidate's own holdout (paired comparison on the same rows);
2. :func:`shared.gates.champion_gate` (pure, re-exported here) applies the two champion rules: an older candidate never
   replaces a newer champion, and a candidate must not lose to the champion by more
   than one standard error of its metric on that holdout;
3. :func:`decide` registers the candidate and moves ``champion`` only when every
   gate passed, and records the decision (promoted or refused, with its reasons) in
   the location's append-only decision history, published as
   ``<location>.model_decisions`` in the warehouse.

Everything but :func:`decide` is pure (no Dagster context needed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import polars as pl

from shared.gates import champion_gate, metric_of, newer_champion_gate
from shared.partitions import to_date
from shared.storage import lake_path, publish_view, write_object
from shared.sweep import reconcile_model, unrecorded_champions
from shared.tracking import ChampionInfo, MLflowTracker

__all__ = [
    "MODEL_META",
    "champion_gate",
    "champion_holdout_scorer",
    "decide",
    "decision_row",
    "decisions_table",
    "metric_of",
    "newer_champion_gate",
    "record_decision",
    "record_unrecorded_promotions",
    "serving_champion",
]

MODEL_META = "model_meta.json"
"""Artifact every candidate run logs: ``{"cutoff": ISO date, "features": [...], ...}``."""


def serving_champion(
    tracker: MLflowTracker, name: str, cutoff: date
) -> tuple[ChampionInfo | None, dict[str, Any] | None, date | None, str]:
    """The champion of ``name`` a candidate at ``cutoff`` is compared with.

    Out: (champion or None, its ``model_meta.json`` or None, its cutoff or None, note).
    The champion is None when nothing serves or when it was trained at a later cutoff
    (its training period may cover this holdout; :func:`champion_gate` refuses the
    older candidate from the returned cutoff anyway). An unreachable registry raises
    (it is not "no champion").
    """
    champ = tracker.champion(name)
    if champ is None:
        return None, None, None, "no champion serving yet"
    meta = tracker.load_dict(champ.run_id, MODEL_META)
    champ_cutoff = to_date(meta["cutoff"])
    note = f"champion v{champ.version} (cutoff {champ_cutoff})"
    if champ_cutoff > cutoff:
        return None, meta, champ_cutoff, f"{note}: trained on later data, keeps serving"
    return champ, meta, champ_cutoff, note


def champion_holdout_scorer(
    tracker: MLflowTracker,
    name: str,
    cutoff: date,
    matrix: Callable[[pl.DataFrame, list[str]], Any],
) -> tuple[Callable[[pl.DataFrame], Any] | None, date | None, str]:
    """How a classifier candidate at ``cutoff`` compares with the serving champion.

    Out: (scorer, champion cutoff, note) from :func:`serving_champion`. The scorer maps
    holdout rows (with feature columns) to the champion's probabilities via
    ``matrix(frame, features)``, or None when it cannot score them (features no longer
    built); no scorer when there is no comparable champion.
    """
    champ, meta, champ_cutoff, note = serving_champion(tracker, name, cutoff)
    if champ is None or meta is None:
        return None, champ_cutoff, note

    def score(holdout: pl.DataFrame) -> Any:
        if not set(meta["features"]) <= set(holdout.columns):
            return None  # the champion uses features this code no longer builds
        model = tracker.load_model(champ.model_uri)
        return model.predict_proba(matrix(holdout, meta["features"]))[:, 1]

    return score, champ_cutoff, note


def decisions_table(location: str) -> str:
    """Warehouse name of a location's decision history: ``<location>.model_decisions``."""
    return f"{location}.model_decisions"


def record_decision(location: str, row: pl.DataFrame) -> None:
    """Append one decision row to ``<location>``'s history (never replaced, never lost).

    Each decision is its own Parquet file, so parallel partitions never contend for a
    file; the warehouse view ``<location>.model_decisions`` unions them all.
    """
    stamp = row["decided_at"][0].strftime("%Y%m%dT%H%M%S%f")
    run = str(row["dagster_run_id"][0])[:8] if "dagster_run_id" in row.columns else "norun"
    asset_path = [location, "model_decisions"]
    write_object(lake_path(asset_path, f"{stamp}_{run}_{row['model_name'][0]}"), row)
    publish_view(decisions_table(location), asset_path)


def decide(
    context: Any,
    tracker: MLflowTracker,
    location: str,
    name: str,
    candidate: Mapping[str, Any],
    passed: bool,
    reason: str,
    partition_columns: Mapping[str, Any],
    gates_markdown: str = "",
) -> pl.DataFrame:
    """Register ``candidate`` as a new version of ``name`` and move ``champion`` only if
    ``passed``; record the decision either way.

    In: ``candidate`` holds ``model_uri`` and ``run_id`` (the candidate asset's output);
    ``partition_columns`` are the leading columns of the decision row (e.g.
    ``{"division": ..., "cutoff_date": ...}``), also written as version tags.
    Out: one decision row (partition columns, model_name, version, promoted,
    champion_version, reason, mlflow_run_id, dagster_run_id, decided_at UTC naive),
    also appended to ``<location>.model_decisions``. When a gate fails nothing is
    registered and the previous champion keeps serving; the reason goes to the asset
    metadata so it is plain in the UI: the decision sentence and reason first, then the
    gate table ``gates_markdown`` (when given), the decision history and the links.
    """
    # debris of a killed earlier run of this model (registered, never promoted nor
    # recorded) is reconciled here, before this run registers anything
    instance = getattr(context, "instance", None)
    reconciled = reconcile_model(tracker, instance, location, name) if instance else []
    if reconciled:
        context.log.warning(
            f"deleted half-registered versions left by a killed run: {', '.join(reconciled)}"
        )
    recorded, unrecorded = (
        record_unrecorded_promotions(tracker, instance, location, name, partition_columns, context)
        if instance
        else ([], [])
    )
    if recorded or unrecorded:
        context.log.warning(
            "champion versions promoted by a killed run that never recorded its decision: "
            f"recorded now {recorded or 'none'}, cannot record {unrecorded or 'none'}"
        )
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
    links = {"registered_model": dg.MetadataValue.url(tracker.model_link(name))}
    if champ:
        links["champion_link"] = dg.MetadataValue.url(tracker.model_link(name, champ.version))
    if version:
        links["version_link"] = dg.MetadataValue.url(tracker.model_link(name, version))
    context.add_output_metadata(
        {
            "promoted": passed,
            "decision": decision_sentence(passed, version, champ.version if champ else ""),
            "model_name": name,
            "champion_version": champ.version if champ else "none",
            "reason": reason,
            **({"gates": dg.MetadataValue.md(gates_markdown)} if gates_markdown else {}),
            "decision_history": decisions_table(location),
            **links,
            **({"reconciled_versions": ", ".join(reconciled)} if reconciled else {}),
            **({"reconciled_promotions": ", ".join(recorded)} if recorded else {}),
            **({"unrecorded_promotions": ", ".join(unrecorded)} if unrecorded else {}),
        }
    )
    row = decision_row(
        name,
        partition_columns,
        version=version,
        promoted=passed,
        champion_version=champ.version if champ else "",
        reason=reason,
        mlflow_run_id=str(candidate["run_id"]),
        dagster_run_id=str(context.run_id),
    )
    record_decision(location, row)
    return row


def decision_sentence(promoted: bool, version: str, champion_version: str) -> str:
    """What a decision means for serving, in one line for the UI."""
    if promoted:
        return f"promoted: version {version} is the champion and serves"
    if champion_version:
        return f"refused: champion version {champion_version} keeps serving"
    return "refused: no model champion yet; the labelled rule baseline serves"


def _typed_like(text: str, like: Any) -> Any:
    """A version tag (a string) back in the type of this run's partition column."""
    if isinstance(like, datetime):
        return datetime.fromisoformat(text)
    if isinstance(like, date):
        return date.fromisoformat(text)
    if isinstance(like, bool):
        return text == "True"
    if isinstance(like, int):
        return int(text)
    return text


def record_unrecorded_promotions(
    tracker: MLflowTracker,
    instance: Any,
    location: str,
    name: str,
    partition_columns: Mapping[str, Any],
    context: Any,
) -> tuple[list[str], list[str]]:
    """Record the missing decision row of every version of ``name`` a killed run promoted
    and never recorded (:func:`shared.sweep.unrecorded_champions`), so the history says
    which model serves and why.

    The row is rebuilt from the version's tags (written by :func:`decide` at register:
    the partition columns and ``dagster_run_id``), typed like this run's
    ``partition_columns``; ``promoted`` is true (``champion`` moves only after every gate
    passed) and ``reason`` says it was recorded by reconciliation, by which run.
    Out: (``name vN`` recorded, ``name vN`` that cannot be rebuilt: a partition tag is
    missing or unreadable; reported, not invented)."""
    from shared.tracking import is_missing

    client = tracker.client()
    try:
        models = [client.get_registered_model(name)]
    except Exception as err:
        if is_missing(err):
            return [], []
        raise
    recorded: list[str] = []
    unrecorded: list[str] = []
    for mv in unrecorded_champions(client, instance, location, models):
        tags, label = dict(mv.tags or {}), f"{name} v{mv.version}"
        try:
            cols = {k: _typed_like(tags[k], v) for k, v in partition_columns.items()}
        except (KeyError, ValueError):
            unrecorded.append(label)
            continue
        killed = tags.get("dagster_run_id", "")
        row = decision_row(
            name,
            cols,
            version=str(mv.version),
            promoted=True,
            champion_version=str(mv.version),
            reason=(
                f"recorded by reconciliation in run {context.run_id}: run {killed} promoted "
                f"v{mv.version} (all gates passed) and stopped before recording its decision"
            ),
            mlflow_run_id=str(mv.run_id or ""),
            dagster_run_id=killed,
        )
        record_decision(location, row)
        recorded.append(label)
    return recorded, unrecorded


def decision_row(
    name: str,
    partition_columns: Mapping[str, Any],
    *,
    version: str,
    promoted: bool,
    champion_version: str,
    reason: str,
    mlflow_run_id: str,
    dagster_run_id: str,
) -> pl.DataFrame:
    """One decision as a one-row frame (the columns of ``<location>.model_decisions``)."""
    return pl.DataFrame(
        {
            **{k: [v] for k, v in partition_columns.items()},
            "model_name": [name],
            "version": [version],
            "promoted": [promoted],
            "champion_version": [champion_version],
            "reason": [reason],
            "mlflow_run_id": [mlflow_run_id],
            "dagster_run_id": [dagster_run_id],
            "decided_at": [datetime.now(UTC).replace(tzinfo=None)],
        }
    )
