"""The one label definition for every lead-conversion target.

For target ``event`` within ``W`` days, measured from the first engagement
(the first message sent):

* ``label = 1`` if the first ``event`` outcome falls in ``[first, first + W]``,
  ``0`` otherwise — **only when the window has closed by the as-of time**
  (``first + W <= as_of``). An enrollment whose window is still open gets a
  null label (it is never a negative) and ``window_closed = False``.
* ``resolved_before_decision``: the event (or an opt-out) happened at or before
  the decision time (first engagement + feature window). Such enrollments are
  left out of training, holdout and scoring for that target: there is nothing
  left to predict.

Only outcomes dated at or before ``as_of`` are read, so labels never use the
future. Training, holdout, the recommender and monitoring all call
:func:`build_labels`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import polars as pl

from leadconv_assets.features import enrollment_times

if TYPE_CHECKING:
    from leadconv_assets.config import LeadconvConfig

LABEL_SCHEMA = {
    "org_id": pl.Utf8,
    "enrollment_id": pl.Utf8,
    "target": pl.Utf8,
    "first_engagement_at": pl.Datetime("us"),
    "decision_at": pl.Datetime("us"),
    "window_end": pl.Datetime("us"),
    "event_at": pl.Datetime("us"),
    "window_closed": pl.Boolean,
    "resolved_before_decision": pl.Boolean,
    "label": pl.Int8,
}


def build_labels(
    enrollments: pl.DataFrame,
    engagement_logs: pl.DataFrame,
    outcomes: pl.DataFrame,
    target: str,
    event: str,
    window_days: int,
    as_of: datetime,
    feature_window: timedelta = timedelta(hours=24),
) -> pl.DataFrame:
    """Labels for every enrollment whose decision time is at or before ``as_of``."""
    keys = ["org_id", "enrollment_id"]
    times = enrollment_times(enrollments, engagement_logs, feature_window, as_of).filter(
        pl.col("decision_at") <= as_of
    )
    seen = outcomes.filter(pl.col("outcome_at") <= as_of)
    first_event = (
        seen.filter(pl.col("outcome_type") == event)
        .group_by(keys)
        .agg(event_at=pl.col("outcome_at").min())
    )
    opt_out = (
        seen.filter(pl.col("outcome_type") == "opt_out")
        .group_by(keys)
        .agg(opt_out_at=pl.col("outcome_at").min())
    )
    w = timedelta(days=window_days)
    out = (
        times.join(first_event, on=keys, how="left")
        .join(opt_out, on=keys, how="left")
        .with_columns(window_end=pl.col("first_engagement_at") + w)
        .with_columns(
            window_closed=pl.col("window_end") <= as_of,
            resolved_before_decision=(
                (pl.col("event_at") <= pl.col("decision_at")).fill_null(False)
                | (pl.col("opt_out_at") <= pl.col("decision_at")).fill_null(False)
            ),
            hit=(pl.col("event_at") <= pl.col("window_end")).fill_null(False),
        )
        .with_columns(
            label=pl.when(pl.col("window_closed"))
            .then(pl.col("hit").cast(pl.Int8))
            .otherwise(pl.lit(None, pl.Int8)),
            target=pl.lit(target),
        )
    )
    return out.select(list(LABEL_SCHEMA)).cast(LABEL_SCHEMA).sort(keys)  # type: ignore[arg-type]


def trainable(labels: pl.DataFrame) -> pl.DataFrame:
    """Rows usable for training/holdout: window closed and not resolved before the decision."""
    return labels.filter(pl.col("window_closed") & ~pl.col("resolved_before_decision"))


def labels_for(
    cfg: LeadconvConfig, tables: dict[str, pl.DataFrame], target: str, as_of: datetime
) -> pl.DataFrame:
    """:func:`build_labels` for a configured ``target`` over the cleaned source ``tables``."""
    t = cfg.target(target)
    return build_labels(
        tables["enrollments"],
        tables["engagement_logs"],
        tables["outcomes"],
        target,
        t.event,
        t.window_days,
        as_of,
        cfg.feature_window,
    )


def partition_labels(
    cfg: LeadconvConfig,
    tables: dict[str, pl.DataFrame],
    target: str,
    cutoff: date,
    cutoff_at: datetime,
) -> pl.DataFrame:
    """The labels of one ``target × cutoff`` partition (``cutoff_at`` = the end of the cutoff day)."""
    return labels_for(cfg, tables, target, cutoff_at).with_columns(cutoff=pl.lit(cutoff))


def label_summary(frame: pl.DataFrame) -> dict[str, int | float]:
    """Rows, open windows, resolved-before-decision, usable rows, positives and prevalence."""
    usable = trainable(frame)
    return {
        "rows": frame.height,
        "open_windows": int((~frame["window_closed"]).sum()),
        "resolved_before_decision": int(frame["resolved_before_decision"].sum()),
        "labeled_usable": usable.height,
        "positives": int(usable["label"].sum() or 0),
        "prevalence": float(usable["label"].mean() or 0.0),
    }
