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
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from leadconv_assets import scores_db
from leadconv_assets.schemas import LeadScoresSchema
from shared.drift import psi_label
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
