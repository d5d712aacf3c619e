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
from leadconv_assets.learners import RulesBaseline
from leadconv_assets.schemas import LeadScoresSchema
from shared import lifecycle
from shared.categories import unseen_categories
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


RULES_BASELINE = "rules-baseline"
"""``model_version`` (and ``run_id``) of rows served by the rules baseline: a target without a
model champion (every candidate refused) is scored by :class:`learners.RulesBaseline`."""


@dataclass
class Scored:
    """Today's scores of every target served, and what happened per target."""

    scores: pl.DataFrame
    notes: dict[str, str] = field(default_factory=dict)  # champion version or why not scored
    drift: dict[str, float] = field(default_factory=dict)  # PSI per measured target
    unmeasured: dict[str, str] = field(default_factory=dict)  # why a target's drift is unknown
    # targets without a model champion: how they were served (rules baseline or not at all)
    no_champion: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # scored rows per target
    # unseen category values per target and column (shared.categories.unseen_categories rows)
    unseen: list[pl.DataFrame] = field(default_factory=list)
    unseen_unmeasured: dict[str, str] = field(default_factory=dict)

    def note_unseen(self, target: str, known: dict[str, list[str]], rows: pl.DataFrame) -> None:
        """Count the category values of ``rows`` (scored leads) not in ``known`` (training)."""
        table = unseen_categories(known, lc_features.category_values(rows))
        self.unseen.append(table.select(pl.lit(target).alias("target"), pl.all()))


def _leads(cfg, tables, feats, target: str, as_of: datetime) -> pl.DataFrame:
    """Today's leads of ``target``: ``feats`` rows not resolved before their decision time."""
    lbl = lc_labels.labels_for(cfg, tables, target, as_of).filter(
        ~pl.col("resolved_before_decision")
    )
    return feats.join(
        lbl.select("org_id", "enrollment_id", "window_closed"), on=["org_id", "enrollment_id"]
    )


def _frame(rows: pl.DataFrame, p, target: str, name: str, version: str, run_id: str, as_of,
           trained: pl.DataFrame) -> pl.DataFrame:  # fmt: skip
    """``SCORES_SCHEMA`` rows for the scores ``p`` of ``rows``; ``split`` is ``train`` for the
    keys in ``trained`` (rows the scorer was fitted on), else ``test``."""
    marked = trained.select(
        pl.col("org_id").cast(pl.Utf8), pl.col("enrollment_id").cast(pl.Utf8)
    ).with_columns(_trained=pl.lit(True))
    return (
        rows.select("org_id", "enrollment_id", "window_closed")
        .with_columns(
            label_col=pl.lit(target),
            score=pl.Series(p, dtype=pl.Float64).clip(0, 1),
            model_name=pl.lit(name),
            model_version=pl.lit(version),
            run_id=pl.lit(run_id),
            scored_at=pl.lit(as_of),
        )
        .join(marked.unique(), on=["org_id", "enrollment_id"], how="left")
        .with_columns(
            split=pl.when(pl.col("_trained")).then(pl.lit("train")).otherwise(pl.lit("test"))
        )
        .drop("_trained")
    )


def rules_baseline_training_rows(
    cfg: LeadconvConfig, tables, all_feats: pl.DataFrame, target: str, as_of: datetime
) -> pl.DataFrame:
    """Labeled rows the serving rules baseline is fitted on: leads whose label window closed by
    ``as_of`` (not resolved before the decision), first engaged in the ``split.train_days_back``
    days before ``as_of - window`` (the candidate's training length, ending at the newest closed
    window)."""
    end = as_of - timedelta(days=cfg.target(target).window_days)
    start = end - timedelta(days=cfg.split.train_days_back)
    lbl = lc_labels.trainable(lc_labels.labels_for(cfg, tables, target, as_of))
    t0 = pl.col("first_engagement_at")
    return (
        lbl.select("org_id", "enrollment_id", "label")
        .join(all_feats, on=["org_id", "enrollment_id"], how="inner")
        .filter((t0 > start) & (t0 <= end))
    )


def _serve_rules_baseline(cfg, tables, all_feats, rows, target, name, as_of, out: Scored):
    """Score ``rows`` with the rules baseline fitted on the newest closed windows; None (and
    the reason in ``out``) when those windows lack a class."""
    train = rules_baseline_training_rows(cfg, tables, all_feats, target, as_of)
    positives = int(train["label"].sum() or 0)
    if train.height == 0 or positives in (0, train.height):
        why = (
            f"no model champion, and the rules baseline has {train.height} closed-window rows "
            f"with {positives} positives to fit on: not scored"
        )
        out.notes[target] = out.unmeasured[target] = out.no_champion[target] = why
        return None
    base = RulesBaseline(cfg.baseline).fit(train, train["label"].to_numpy())
    out.note_unseen(target, lc_features.training_categories(train), rows)
    frame = _frame(
        rows, base.predict(rows), target, name, RULES_BASELINE, RULES_BASELINE, as_of,
        train.select("org_id", "enrollment_id"),
    )  # fmt: skip
    out.notes[target] = RULES_BASELINE
    out.no_champion[target] = (
        f"no model champion: served by the rules baseline ({' x '.join(cfg.baseline.by)}, "
        f"fitted on {train.height} closed-window leads, {positives} positives)"
    )
    out.unmeasured[target] = "served by the rules baseline (no model champion to compare with)"
    return frame


def _score_target(
    cfg, tracker, tables, feats, all_feats, target: str, name: str, as_of: datetime, out: Scored
):
    rows = _leads(cfg, tables, feats, target, as_of)
    champ = tracker.champion(name)
    if rows.height == 0:
        out.notes[target] = out.unmeasured[target] = "no leads to score"
        if champ is None:
            out.no_champion[target] = "no model champion (and no leads to score)"
        return None
    if champ is None:
        return _serve_rules_baseline(cfg, tables, all_feats, rows, target, name, as_of, out)
    meta = tracker.load_dict(champ.run_id, lifecycle.MODEL_META)
    train_keys = tracker.load_dict(champ.run_id, "train_ids.json")["keys"]
    model = tracker.load_model(champ.model_uri)
    p = model.predict_proba(training.matrix(rows, meta["features"], cfg.scoring.missing_features))[
        :, 1
    ]
    trained = pl.DataFrame(
        train_keys, schema={"org_id": pl.Utf8, "enrollment_id": pl.Utf8}, orient="row"
    )
    frame = _frame(rows, p, target, name, champ.version, champ.run_id, as_of, trained)
    out.notes[target] = f"v{champ.version}"
    if "categories" in meta:
        out.note_unseen(target, meta["categories"], rows)
    else:
        out.unseen_unmeasured[target] = (
            f"champion v{champ.version} kept no training categories (trained before they "
            "were recorded): retrain to measure"
        )
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
    resolved before their decision time) with each target's champion (``model_name(target)``);
    a target without one is served by the rules baseline (``model_version = RULES_BASELINE``)."""
    all_feats = lc_features.build_features(tables, as_of, cfg.feature_window, cfg.extra_features)
    feats = all_feats.filter(pl.col("first_engagement_at") > as_of - timedelta(days=days_back))
    out = Scored(pl.DataFrame(schema=SCORES_SCHEMA))
    frames = []
    for t in cfg.targets:
        f = _score_target(cfg, tracker, tables, feats, all_feats, t, model_name(t), as_of, out)
        if f is not None:
            frames.append(f)
            out.rows[t] = f.height
    if frames:
        out.scores = pl.concat(frames)
    return out


def champion_verdict(scored: Scored, targets: list[str]) -> DriftVerdict:
    """The ``model_champion`` WARN check: passes only when every target is served by a model
    champion; names each target served by the rules baseline (or not served) and why."""
    served = {t: scored.notes.get(t, "not scored") for t in targets}
    meta: dict[str, object] = {
        "served_by": "; ".join(f"{t}: {v}" for t, v in served.items()),
        **{f"rows_{t}": scored.rows.get(t, 0) for t in targets},
        "rules_baseline_targets": sorted(
            t for t in targets if scored.notes.get(t) == RULES_BASELINE
        ),
    }
    missing = {t: r for t, r in scored.no_champion.items() if t in targets}
    if not missing:
        return DriftVerdict(True, True, "every target served by its model champion", meta)
    text = "; ".join(f"{t}: {r}" for t, r in sorted(missing.items()))
    return DriftVerdict(False, True, text, meta)


def unseen_verdict(scored: Scored, max_share: float) -> tuple[DriftVerdict, pl.DataFrame]:
    """The ``unseen_categories`` WARN check and its table (target, column, rows, unseen, share,
    examples): passes when every served target was measured and no column's share of scored
    leads with a value its scorer never saw in training exceeds ``max_share``."""
    table = pl.concat(scored.unseen) if scored.unseen else pl.DataFrame()
    meta: dict[str, object] = {"max_share": max_share, "measured": bool(scored.unseen)}
    if scored.unseen_unmeasured:
        meta["not_measured"] = "; ".join(
            f"{t}: {r}" for t, r in sorted(scored.unseen_unmeasured.items())
        )
    if not scored.unseen:
        reason = meta.get("not_measured") or "nothing scored"
        return DriftVerdict(False, False, f"not measured — {reason}", meta), table
    worst = table.sort("share", descending=True).row(0, named=True)
    over = table.filter(pl.col("share") > max_share)
    meta.update(
        worst_target=worst["target"],
        worst_column=worst["column"],
        worst_share=float(worst["share"]),
        unseen_rows=int(table["unseen"].sum()),
    )
    for r in table.iter_rows(named=True):
        meta[f"unseen_{r['target']}__{r['column']}"] = (
            f"{r['unseen']} of {r['rows']} ({r['share']:.1%})"
            + (f": {r['examples']}" if r["examples"] else "")
        )
    text = (
        f"{worst['unseen']} of {worst['rows']} scored {worst['target']} leads have a "
        f"{worst['column']} never seen in training ({worst['share']:.1%}; warn above "
        f"{max_share:.0%})"
    )
    if over.height:
        text = f"{over.height} column(s) above {max_share:.0%}; worst: " + text
    if scored.unseen_unmeasured:
        text += f"; not measured for {', '.join(sorted(scored.unseen_unmeasured))}"
    passed = over.height == 0 and not scored.unseen_unmeasured
    return DriftVerdict(passed, True, text, meta), table
