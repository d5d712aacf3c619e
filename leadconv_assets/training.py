"""Train and judge one target at one cutoff: the best learner vs a rules baseline.

Out-of-time split, all in first-engagement time, for a cutoff ``C`` (data as
of the end of that day) and a label window ``W``:

* labeled rows: window closed by ``C`` and not resolved before the decision time;
* holdout: first engagement in ``(C - W - holdout_days, C - W]``;
* embargo: nothing in the ``embargo`` (>= ``W``) before the holdout starts, so
  no training label window overlaps the holdout period;
* training: the ``train_days_back`` days before the embargo; its last
  ``calibration_frac`` (by time) is the validation slice that chooses the learner
  (calibrated LightGBM or regularized logistic regression, :mod:`leadconv_assets.learners`)
  and calibrates LightGBM (``shared.calibration``).

The candidate and the rules baseline (smoothed conversion rates per source × campaign,
fitted on the training rows) are scored on the same holdout. Gates: ``pr_auc_vs_baseline``
judges the paired PR-AUC difference with its bootstrap SE (:mod:`leadconv_assets.evidence`:
pass, bad model or insufficient evidence), Brier skill > ``brier_skill_min``, enough holdout
positives, not worse than the champion; lift in the top 10% is reported. The oracle (true
probabilities from a synthetic world) is scored on the same holdout when available.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import polars as pl

from leadconv_assets import evidence
from leadconv_assets.config import GateConfig, LeadconvConfig, end_of_day
from leadconv_assets.features import KEYS, feature_columns, training_categories
from leadconv_assets.labels import trainable
from leadconv_assets.learners import Choice, RulesBaseline, choose_and_fit
from shared import lifecycle
from shared.gates import Gate, GateReport, gate, metric_of, skipped_gate
from shared.metrics import (
    bootstrap_standard_error,
    brier_skill,
    calibration_bins,
    classification_summary,
    pr_auc,
)
from shared.partitions import to_date

MissingFeatures = Literal["error", "zero"]


class MissingFeaturesError(ValueError):
    """The frame lacks feature columns the model was trained with."""


def matrix(
    frame: pl.DataFrame, features: list[str], missing: MissingFeatures = "error"
) -> np.ndarray:
    """Float matrix in the order of ``features`` (nulls NaN): the one feature-matrix builder.

    A feature absent from ``frame`` raises :class:`MissingFeaturesError` naming the
    columns (``missing="error"``, the default), or is filled with zeros only when the
    policy says so explicitly (``missing="zero"``, config ``scoring.missing_features``).
    """
    absent = [f for f in features if f not in frame.columns]
    if absent and missing != "zero":
        raise MissingFeaturesError(
            f"{len(absent)} feature(s) the model was trained with are missing: {absent[:20]}; "
            "rebuild the features with the model's code version, retrain, or set "
            "scoring.missing_features: zero to score them as zeros"
        )
    cols = [
        pl.col(f).cast(pl.Float64) if f not in absent else pl.lit(0.0).alias(f) for f in features
    ]
    return frame.select(cols).to_numpy().astype(float)


@dataclass
class Split:
    holdout_start: datetime
    holdout_end: datetime
    train_start: datetime
    train_end: datetime
    embargo_days: float

    def describe(self) -> dict[str, str]:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else str(v))
            for k, v in self.__dict__.items()
        }


def make_split(cfg: LeadconvConfig, target: str, cutoff: Any) -> Split:
    as_of = end_of_day(cutoff)
    w = timedelta(days=cfg.target(target).window_days)
    holdout_end = as_of - w
    holdout_start = holdout_end - timedelta(days=cfg.split.holdout_days)
    embargo = cfg.embargo(target)
    train_end = holdout_start - embargo
    train_start = train_end - timedelta(days=cfg.split.train_days_back)
    return Split(
        holdout_start, holdout_end, train_start, train_end, embargo.total_seconds() / 86400
    )


@dataclass
class TrainResult:
    target: str
    features: list[str]
    candidate: Any
    baseline: RulesBaseline
    choice: Choice
    calibration_method: str
    split: Split
    metrics: pl.DataFrame
    holdout: pl.DataFrame  # keys, label, scores per model
    importance: pl.DataFrame
    calibration: pl.DataFrame
    train_ids: pl.DataFrame
    stats: dict[str, float] = field(default_factory=dict)
    # values of each categorical attribute among the training rows (unseen-category monitoring)
    categories: dict[str, list[str]] = field(default_factory=dict)


def periods(
    features: pl.DataFrame, labels: pl.DataFrame, cfg: LeadconvConfig, target: str, cutoff: Any
) -> tuple[Split, pl.DataFrame, pl.DataFrame]:
    """``(split, training rows, holdout rows)``: labeled feature rows in first-engagement
    order; raises when either period lacks a class."""
    split = make_split(cfg, target, cutoff)
    data = (
        trainable(labels)
        .select(*KEYS, "label")
        .join(features, on=KEYS, how="inner")
        .sort("first_engagement_at", *KEYS)
    )
    t0 = pl.col("first_engagement_at")
    train = data.filter((t0 > split.train_start) & (t0 <= split.train_end))
    holdout = data.filter((t0 > split.holdout_start) & (t0 <= split.holdout_end))
    for name, part in (("training", train), ("holdout", holdout)):
        if part.height == 0 or part["label"].n_unique() < 2:
            raise ValueError(
                f"{target} at cutoff {cutoff}: the {name} period has {part.height} labeled rows "
                f"and {int(part['label'].sum() or 0)} positives; it needs both classes. "
                f"Split: {split.describe()}. Move the cutoff later or widen split.holdout_days."
            )
    return split, train, holdout


def fit_and_evaluate(
    features: pl.DataFrame,
    labels: pl.DataFrame,
    cfg: LeadconvConfig,
    target: str,
    cutoff: Any,
    truth: pl.DataFrame | None = None,
    champion_scorer: Callable[[pl.DataFrame], np.ndarray | None] | None = None,
    champion_cutoff: Any = None,
) -> TrainResult:
    """Fit baseline and candidate on the training period, evaluate on the out-of-time holdout.

    ``champion_scorer`` (optional) scores the holdout rows (features included) with the
    model serving now; its metrics row ``champion`` feeds the beat-the-champion gate.
    It returns None when the champion cannot score these rows. ``champion_cutoff`` (the
    serving champion's training cutoff, if any) is kept in the metrics so the gate can
    refuse to replace a newer champion with an older candidate (e.g. in a backfill).
    """
    split, train, holdout = periods(features, labels, cfg, target, cutoff)
    feats = feature_columns(features)
    choice = choose_and_fit(train, feats, cfg, matrix)
    candidate = choice.model
    baseline = RulesBaseline(cfg.baseline).fit(train, train["label"].to_numpy())

    X_h, y_h = matrix(holdout, feats), holdout["label"].to_numpy()
    scores = {
        "candidate": candidate.predict_proba(X_h)[:, 1],
        "baseline": baseline.predict(holdout),
        "rule": np.full(y_h.size, float(train["label"].mean())),
    }
    if truth is not None and truth.height and f"p_{target}" in truth.columns:
        joined = holdout.select(KEYS).join(
            truth.select(*KEYS, pl.col(f"p_{target}").alias("p")), on=KEYS, how="left"
        )
        if joined["p"].null_count() == 0:
            scores["oracle"] = joined["p"].to_numpy()
    if champion_scorer is not None:
        champion = champion_scorer(holdout)
        if champion is not None:
            scores["champion"] = champion
    metrics = evaluate(y_h, scores, cfg).with_columns(
        target=pl.lit(target),
        cutoff_date=pl.lit(to_date(cutoff), pl.Date),
        calibration_method=pl.lit(choice.calibration_method),
        champion_cutoff=pl.lit(None if champion_cutoff is None else str(champion_cutoff), pl.Utf8),
        **choice_columns(choice),
    )
    importance = feature_importance(choice, feats)
    hold = holdout.select(*KEYS, "first_engagement_at", "label").with_columns(
        [pl.Series(f"score_{m}", p) for m, p in scores.items()]
    )
    method = choice.calibration_method
    return TrainResult(
        target=target,
        features=feats,
        candidate=candidate,
        baseline=baseline,
        choice=choice,
        calibration_method=method,
        split=split,
        metrics=metrics,
        holdout=hold,
        importance=importance,
        calibration=calibration_bins(y_h, scores["candidate"]),
        train_ids=train.select(KEYS),
        categories=training_categories(train),
        stats={
            "train_rows": float(train.height),
            "train_positives": float(train["label"].sum()),
            "calibration_rows": float(choice.validation_rows),
            "validation_rows": float(choice.validation_rows),
            "validation_positives": float(choice.validation_positives),
            "holdout_rows": float(holdout.height),
            "holdout_positives": float(holdout["label"].sum()),
            "embargo_days": split.embargo_days,
            "train_holdout_overlap": float(
                train.select(KEYS).join(holdout.select(KEYS), on=KEYS, how="inner").height
            ),
            "observed_gap_days": (
                holdout["first_engagement_at"].min() - train["first_engagement_at"].max()
            ).total_seconds()
            / 86400,
        },
    )


def evaluate(y: np.ndarray, scores: dict[str, np.ndarray], cfg: LeadconvConfig) -> pl.DataFrame:
    """One metrics row per scored model on the same holdout labels ``y``.

    The candidate row also carries its bootstrap PR-AUC SE (``pr_auc_se``, the champion
    gate's tolerance) and, when a ``baseline`` is scored, the paired PR-AUC difference
    candidate - baseline with its paired bootstrap SE (``pr_auc_diff``, ``pr_auc_diff_se``).
    """
    seed = cfg.training.seed
    rows = []
    for model, p in scores.items():
        s = classification_summary(y, p)
        rows.append({"model": model, **{k: float(v) for k, v in s.items()}})
        if model == "candidate":
            # PR-AUC has no closed-form error: the champion gate's tolerance is a bootstrap SE
            rows[-1]["pr_auc_se"] = bootstrap_standard_error(pr_auc, y, p, seed=seed)
            # Brier skill on a few dozen positives is noisy too: its gate allows one SE
            rows[-1]["brier_skill_se"] = bootstrap_standard_error(brier_skill, y, p, seed=seed)
            if "baseline" in scores:
                rows[-1].update(
                    evidence.paired_pr_auc_columns(y, p, scores["baseline"], cfg.gates, seed)
                )
    return pl.DataFrame(rows)


def choice_columns(choice: Choice) -> dict[str, pl.Expr]:
    """The learner that won and every learner's validation PR-AUC, as constant columns."""
    cols = {"learner": pl.lit(choice.learner, pl.Utf8)}
    for name, value in choice.validation_pr_auc.items():
        cols[f"val_pr_auc_{name}"] = pl.lit(value, pl.Float64)
    return cols


def feature_importance(choice: Choice, feats: list[str]) -> pl.DataFrame:
    """LightGBM gain per feature when LightGBM was tried, else |standardized coefficient|."""
    if choice.lgbm is not None:
        gain = choice.lgbm.booster_.feature_importance("gain").astype(float)
    else:
        gain = np.abs(choice.model[-1].coef_[0]).astype(float)
    frame = pl.DataFrame({"feature": feats, "gain": gain})
    frame = frame.with_columns(
        share=pl.col("gain") / pl.max_horizontal(pl.col("gain").sum(), 1e-12)
    )
    return frame.sort("gain", descending=True)


def metric(metrics: pl.DataFrame, model: str, name: str) -> float:
    row = metrics.filter(pl.col("model") == model)
    return float(row[name][0]) if row.height else math.nan


def champion_gate(metrics: pl.DataFrame, gates: GateConfig) -> Gate:
    """The shared champion rules on PR-AUC (one bootstrap standard error of noise allowed;
    an older candidate never replaces a newer champion)."""
    return lifecycle.champion_gate(
        metrics, "pr_auc", cutoff_col="cutoff_date", enabled=gates.beat_champion
    )


def promotion_gates(metrics: pl.DataFrame, gates: GateConfig) -> GateReport:
    """PR-AUC vs the rules baseline (noise-aware, :func:`evidence.baseline_gate`) and vs the
    champion, Brier skill, holdout positives; lift@10% reported."""
    lift = metric(metrics, "candidate", "lift_at_10")
    positives = gate(
        "holdout_positives",
        metric(metrics, "candidate", "positives"),
        ">=",
        gates.min_holdout_positives,
    )
    if not positives.passed:
        positives = dataclasses.replace(
            positives, verdict=evidence.INSUFFICIENT, detail="too few positives to judge"
        )
    return GateReport.of(
        [
            evidence.baseline_gate(metrics, gates),
            _brier_gate(metrics, gates),
            positives,
            champion_gate(metrics, gates),
            Gate(
                "lift_at_10 (reported)",
                lift,
                "report",
                math.nan,
                True,
                f"lift in the top 10%: {lift:.2f}",
                skipped=True,
            ),
        ]
    )


def _brier_gate(metrics: pl.DataFrame, gates: GateConfig) -> Gate:
    """Brier skill above ``brier_skill_min`` within one bootstrap SE of the skill on this
    holdout (a calibrated model whose skill is ~0 is not refused by noise; a model clearly
    worse than the base rate is). Without a measured SE the bare threshold applies."""
    skill = metric(metrics, "candidate", "brier_skill")
    se = metric_of(metrics, "candidate", "brier_skill_se")  # NaN when not measured
    if math.isnan(se):
        return gate("brier_skill", skill, ">", gates.brier_skill_min)
    return gate(
        "brier_skill",
        skill,
        ">",
        gates.brier_skill_min - se,
        f"floor {gates.brier_skill_min:g} minus one bootstrap SE {se:.4f}",
    )


def leakage_report(
    metrics: pl.DataFrame, stats: dict[str, float], window_days: int, oracle_tolerance: float = 0.02
) -> GateReport:
    """Leakage gauntlet: no enrollment in both training and holdout; the gap between the last
    training enrollment and the first holdout enrollment is at least the label window; the
    candidate does not beat the true probabilities (oracle) beyond noise."""
    cand = metric(metrics, "candidate", "pr_auc")
    oracle = metric(metrics, "oracle", "pr_auc")
    gates = [
        gate("train_holdout_overlap", stats.get("train_holdout_overlap", math.nan), "<=", 0),
        gate(
            "embargo_gap_days",
            stats.get("observed_gap_days", math.nan),
            ">=",
            window_days,
            "first holdout enrollment minus last training enrollment, in days",
        ),
    ]
    if math.isnan(oracle):
        gates.append(skipped_gate("not_above_oracle", "no ground truth in this source"))
    else:
        gates.append(
            gate(
                "not_above_oracle",
                cand - oracle,
                "<=",
                oracle_tolerance,
                f"candidate PR-AUC {cand:.4f} vs oracle {oracle:.4f}",
            )
        )
    return GateReport.of(gates)
