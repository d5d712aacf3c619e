"""Daily lead scoring without Dagster: validate before writing, judge score drift.

``lead_scores`` rows are checked against :data:`leadconv_assets.schemas.LeadScoresSchema`
*before* anything reaches the SQL table: a frame that breaks it raises
:class:`shared.validation.DataContractError` (naming the table, the column and the
offending rows) and writes nothing, neither to the table nor to its history.

Score drift is a PSI per target of today's scores against the champion's holdout
scores. A target that could not be measured (no champion, no leads, no stored
holdout scores) is reported as such; a drift check that measured nothing does not
pass.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from leadconv_assets import features as lc_features
from leadconv_assets import labels as lc_labels
from leadconv_assets import scores_db, training
from leadconv_assets.config import LeadconvConfig
from leadconv_assets.schemas import LeadScoresSchema
from shared import lifecycle
from shared.drift import psi, psi_label
from shared.validation import validate_frame

SCORES_SCHEMA = {
    "org_id": pl.Utf8,
    "enrollment_id": pl.Utf8,
    "label_col": pl.Utf8,
    "score": pl.Float64,
    "model_name": pl.Utf8,
    "model_version": pl.Utf8,
    "run_id": pl.Utf8,
    "scored_at": pl.Datetime("us"),
    "split": pl.Utf8,
    "window_closed": pl.Boolean,
}
PSI_RETRAIN = 0.25  # > 0.25: significant shift


def validated_scores(frame: pl.DataFrame, table: str = "lead_scores") -> pl.DataFrame:
    """``frame`` in the lead_scores layout, or :class:`DataContractError` naming ``table``."""
    out = frame.select(list(SCORES_SCHEMA)).cast(SCORES_SCHEMA)  # type: ignore[arg-type]
    validate_frame(out, LeadScoresSchema, table, scores_db.KEY)
    return out


def write_scores(
    url: str | None, frame: pl.DataFrame, *, table: str = "lead_scores", **options: Any
) -> tuple[pl.DataFrame, scores_db.UpsertResult]:
    """Validate ``frame``, then upsert it (``options`` go to :func:`scores_db.upsert_scores`);
    nothing is written when validation fails."""
    out = validated_scores(frame, table)
    return out, scores_db.upsert_scores(url, out, table=table, **options)


@dataclass(frozen=True)
class DriftVerdict:
    """Outcome of the score-drift check; ``measured`` is False when no PSI could be computed."""

    passed: bool
    measured: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def drift_verdict(
    psis: dict[str, float], not_measured: dict[str, str], threshold: float = PSI_RETRAIN
) -> DriftVerdict:
    """Judge score drift from the PSI per measured target and the reason per unmeasured one.

    Passes only when at least one target was measured, every measured PSI is at most
    ``threshold``, and no scored target lacked its champion's holdout scores.
    """
    measured = {t: v for t, v in psis.items() if not math.isnan(v)}
    missing = {**not_measured, **{t: "PSI is NaN" for t in psis if t not in measured}}
    meta: dict[str, object] = {f"psi_{t}": float(v) for t, v in measured.items()}
    meta["measured"] = bool(measured)
    if missing:
        meta["not_measured"] = "; ".join(f"{t}: {r}" for t, r in sorted(missing.items()))
    if not measured:
        reason = "; ".join(f"{t}: {r}" for t, r in sorted(missing.items())) or "no target"
        return DriftVerdict(False, False, f"not measured — {reason}", meta)
    worst = max(measured.values())
    no_baseline = [t for t, r in missing.items() if "holdout" in r]
    passed = worst <= threshold and not no_baseline
    text = f"max PSI {worst:.3f} ({psi_label(worst)})"
    if no_baseline:
        text += f"; not measured for {', '.join(sorted(no_baseline))} (no champion holdout scores)"
    return DriftVerdict(passed, True, text, meta)


SCORES_URL_ENV = "SALESML_LEADCONV_SCORES_URL"


def scores_url(*urls: str | None) -> str:
    """The first of ``urls`` that is set, else ``$SALESML_LEADCONV_SCORES_URL``, else the
    default DuckDB file under the home (read when a run starts, never at import)."""
    return (
        next((u for u in urls if u), None)
        or os.environ.get(SCORES_URL_ENV)
        or scores_db.default_url()
    )


@dataclass
class Scored:
    """Today's scores of every target with a champion, and what happened per target."""

    scores: pl.DataFrame
    notes: dict[str, str] = field(default_factory=dict)  # champion version or why not scored
    drift: dict[str, float] = field(default_factory=dict)  # PSI per measured target
    unmeasured: dict[str, str] = field(default_factory=dict)  # why a target's drift is unknown


def _score_target(
    cfg, tracker, tables, feats, target: str, name: str, as_of: datetime, out: Scored
):
    champ = tracker.champion(name)
    if champ is None:
        out.notes[target] = out.unmeasured[target] = "no champion"
        return None
    meta = tracker.load_dict(champ.run_id, lifecycle.MODEL_META)
    train_keys = tracker.load_dict(champ.run_id, "train_ids.json")["keys"]
    lbl = lc_labels.labels_for(cfg, tables, target, as_of).filter(
        ~pl.col("resolved_before_decision")
    )
    rows = feats.join(
        lbl.select("org_id", "enrollment_id", "window_closed"), on=["org_id", "enrollment_id"]
    )
    if rows.height == 0:
        out.notes[target] = out.unmeasured[target] = "no leads to score"
        return None
    model = tracker.load_model(champ.model_uri)
    p = model.predict_proba(training.matrix(rows, meta["features"], cfg.scoring.missing_features))[
        :, 1
    ]
    trained = pl.DataFrame(
        train_keys, schema={"org_id": pl.Utf8, "enrollment_id": pl.Utf8}, orient="row"
    ).with_columns(_trained=pl.lit(True))
    frame = (
        rows.select("org_id", "enrollment_id", "window_closed")
        .with_columns(
            label_col=pl.lit(target),
            score=pl.Series(p).clip(0, 1),
            model_name=pl.lit(name),
            model_version=pl.lit(champ.version),
            run_id=pl.lit(champ.run_id),
            scored_at=pl.lit(as_of),
        )
        .join(trained, on=["org_id", "enrollment_id"], how="left")
        .with_columns(
            split=pl.when(pl.col("_trained")).then(pl.lit("train")).otherwise(pl.lit("test"))
        )
        .drop("_trained")
    )
    out.notes[target] = f"v{champ.version}"
    base = tracker.holdout_scores(champ.run_id)
    if base is None:
        out.unmeasured[target] = "no champion holdout scores"
    else:
        out.drift[target] = psi(base, p)
    return frame


def score_leads(
    cfg: LeadconvConfig,
    tracker: Any,
    tables: dict[str, pl.DataFrame],
    as_of: datetime,
    days_back: int,
    model_name: Any,
) -> Scored:
    """Score the enrollments first engaged in the ``days_back`` days before ``as_of`` (not
    resolved before their decision time) with each target's champion (``model_name(target)``)."""
    feats = lc_features.build_features(tables, as_of, cfg.feature_window).filter(
        pl.col("first_engagement_at") > as_of - timedelta(days=days_back)
    )
    out = Scored(pl.DataFrame(schema=SCORES_SCHEMA))
    frames = [
        f
        for t in cfg.targets
        if (f := _score_target(cfg, tracker, tables, feats, t, model_name(t), as_of, out))
        is not None
    ]
    if frames:
        out.scores = pl.concat(frames)
    return out
