"""GoSales candidate training, holdout evaluation and promotion gates (pure logic).

Time semantics. A candidate for cutoff ``C`` and window ``W`` months trains on
feature snapshots at ``C, C - step, C - 2·step, …`` with labels in
``(snapshot, snapshot + W]`` — every label window closes by ``C + W``. It is
evaluated out of time at ``H = C + W`` (features as of ``H``, labels in
``(H, H + W]``) on customers that were never in training (zero overlap).

Customer groups are assigned by a seeded hash of ``customer_id``: ``holdout``
(never trained on), and among the rest ``fit``, ``early_stop`` (LightGBM early
stopping) and ``calibration`` (Platt/isotonic on rows the booster never saw).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from gosales_assets.config import GateConfig, TrainingConfig
from shared.calibration import fit_calibrator
from shared.gates import (
    INSUFFICIENT,
    Gate,
    GateReport,
    champion_gate,
    evidence_gates,
    gate,
    metric_of,
    paired_gate,
    skipped_gate,
)
from shared.hashing import stable_unit_hash
from shared.metrics import (
    auc_standard_error,
    classification_summary,
    paired_bootstrap_difference,
    roc_auc,
)

GROUPS = ("fit", "early_stop", "calibration", "holdout")
# The simple rule the candidate must beat: target-division purchase frequency
# first, recency as the tie-break (the "call whoever bought most recently" list).
RULE_FREQUENCY = "tgt_tx_count_24m"
RULE_RECENCY = "tgt_recency_decay_90"
RANKING_ONLY = ("rule",)  # scores that rank but are not probabilities


def customer_groups(customer_ids: Any, cfg: TrainingConfig) -> pl.DataFrame:
    """Deterministic group per customer from a seeded hash of the id.

    Returns ``customer_id``, ``group`` (one of :data:`GROUPS`). A customer is in
    the same group at every cutoff, so holdout customers are never trained on.
    """
    ids = pl.Series("customer_id", customer_ids).unique().sort()
    u = pl.Series("u", stable_unit_hash(ids, cfg.seed))  # same split on every polars version
    h, c, e = cfg.holdout_customer_frac, cfg.calibration_frac, cfg.early_stopping_frac
    rest = 1 - h
    group = (
        pl.when(u < h)
        .then(pl.lit("holdout"))
        .when(u < h + rest * c)
        .then(pl.lit("calibration"))
        .when(u < h + rest * (c + e))
        .then(pl.lit("early_stop"))
        .otherwise(pl.lit("fit"))
    )
    return pl.DataFrame({"customer_id": ids, "u": u}).select("customer_id", group.alias("group"))


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """``sign(x) · log(1 + |x|)``: tames heavy-tailed money features for the logistic baseline."""
    return np.sign(x) * np.log1p(np.abs(x))


def make_baseline(seed: int) -> Pipeline:
    """Logistic-regression baseline; the transformers are stored inside the pipeline."""
    return Pipeline(
        [
            ("signed_log", FunctionTransformer(signed_log1p)),
            ("scale", StandardScaler()),
            ("logit", LogisticRegression(C=0.5, max_iter=3000, random_state=seed)),
        ]
    )


MissingFeatures = Literal["error", "zero"]
"""What :func:`matrix` does with a model feature the frame lacks."""


def matrix(
    frame: pl.DataFrame, features: list[str], missing: MissingFeatures = "error"
) -> np.ndarray:
    """Feature matrix ``(n, len(features))`` float64 in the given column order.

    The one feature-matrix builder (training, evaluation and scoring). One-hot
    category columns (``cat_*``) absent from ``frame`` are zeros by definition: a
    category seen in training has no customer now. Any other feature absent from
    ``frame`` raises ``KeyError`` naming every such column, unless ``missing="zero"``
    (config ``training.missing_features``) explicitly asks to score it as 0.
    """
    absent_cats = [f for f in features if f.startswith("cat_") and f not in frame.columns]
    missing_cols = [f for f in features if f not in frame.columns and f not in absent_cats]
    if missing_cols and missing != "zero":
        raise KeyError(
            f"{len(missing_cols)} feature columns the model needs are missing from the frame: "
            f"{missing_cols} (set training.missing_features: zero to score them as 0)"
        )
    fill = [*absent_cats, *missing_cols]
    if fill:
        frame = frame.with_columns([pl.lit(0.0).alias(f) for f in fill])
    return frame.select(features).cast(pl.Float64).fill_null(0.0).to_numpy()


@dataclass
class Candidate:
    """A trained candidate: the calibrated chosen learner, the logistic baseline and what they
    need to score."""

    model: Any
    baseline: Any
    features: list[str]
    calibration_method: str
    best_iteration: int
    importance: pl.DataFrame
    train_stats: dict[str, float] = field(default_factory=dict)  # counts are ints
    learner: str = "lightgbm"
    """The learner chosen on the calibration slice (``lightgbm`` or ``logistic``); for the
    logistic, ``importance.gain`` holds |coefficient| on the standardized features."""

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Calibrated purchase probability per row of ``frame``."""
        return self.model.predict_proba(matrix(frame, self.features))[:, 1]

    def predict_baseline(self, frame: pl.DataFrame) -> np.ndarray:
        return self.baseline.predict_proba(matrix(frame, self.features))[:, 1]


def bound_isotonic(calibrated: Any, n_cal: int) -> float:
    """Keep an isotonic calibrator's outputs strictly inside (0, 1); returns ``eps``.

    Isotonic regression maps a score block with no (or only) positives in the
    calibration set to exactly 0 (or 1), a certainty ``n_cal`` rows cannot support.
    Each fitted step is clipped to ``[eps, 1 - eps]`` with ``eps = 1 / (2 (n_cal + 1))``
    (half the smallest non-zero rate the set can show). Only steps at exactly 0 or 1
    move, by at most ``eps``, so ranks and calibration MAE change by at most ``eps``.
    Sigmoid calibrators are left alone. Modifies ``calibrated`` in place (sklearn's
    ``CalibratedClassifierCV`` around ``IsotonicRegression``; no new type to serialize).
    """
    from sklearn.isotonic import IsotonicRegression

    eps = 1.0 / (2.0 * (n_cal + 1))
    for fold in getattr(calibrated, "calibrated_classifiers_", []):
        for cal in fold.calibrators:
            if isinstance(cal, IsotonicRegression):
                cal.y_thresholds_ = np.clip(cal.y_thresholds_, eps, 1.0 - eps)
                cal._build_f(cal.X_thresholds_, cal.y_thresholds_)
    return eps


class PriorRate:
    """The honest stand-in when no model can be fitted: every customer gets the training
    prevalence, add-one smoothed ``(positives + 1) / (rows + 2)`` so it stays inside (0, 1).

    Written here rather than ``sklearn.dummy.DummyClassifier``: a division whose training
    rows hold no positive at all has one class, and the dummy's ``predict_proba`` then has one
    column; this one always returns ``(n, 2)`` like every other model we serve."""

    def __init__(self, rate: float) -> None:
        self.rate = float(rate)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.full(np.asarray(X).shape[0], self.rate)
        return np.column_stack([1.0 - p, p])


NO_MODEL = "prior"
"""``Candidate.learner`` when a training group had no positive: the prior rate, no model."""


def prior_candidate(
    train: pl.DataFrame, features: list[str], positives: dict[str, int]
) -> Candidate:
    """The candidate of a division too sparse to fit: :class:`PriorRate` as model and baseline.

    ``train_stats["training_min_group_positives"]`` = 0 tells :func:`promotion_gates` to
    refuse it as "insufficient evidence" (the previous champion keeps serving)."""
    y = train["label"].to_numpy() if train.height else np.zeros(0)
    prior = PriorRate((float(y.sum()) + 1.0) / (y.size + 2.0))
    stats = {
        "train_rows": int(y.size),
        "train_positives": int(y.sum()),
        **{f"{name}_positives": int(v) for name, v in positives.items()},
        "training_min_group_positives": int(min(positives.values())),
        "n_features": len(features),
    }
    importance = pl.DataFrame({"feature": features, "gain": [0.0] * len(features)})
    return Candidate(prior, prior, features, "none", 0, importance, stats, NO_MODEL)


def train_candidate(train: pl.DataFrame, features: list[str], cfg: TrainingConfig) -> Candidate:
    """Fit LightGBM (early stopping on its own customer group), calibrate it, fit the baseline.

    Args:
        train: rows of non-holdout customers with ``group``, ``label`` and ``features``
            (one row per customer × snapshot).
        features: feature columns, in model order.
        cfg: seeds and hyper-parameters.
    """
    import lightgbm as lgb

    parts = {g: train.filter(pl.col("group") == g) for g in ("fit", "early_stop", "calibration")}
    positives = {
        name: int(part["label"].sum()) if part.height else 0 for name, part in parts.items()
    }
    if min(positives.values()) == 0:
        return prior_candidate(train, features, positives)
    X_fit, y_fit = matrix(parts["fit"], features), parts["fit"]["label"].to_numpy()
    X_es, y_es = matrix(parts["early_stop"], features), parts["early_stop"]["label"].to_numpy()
    X_cal, y_cal = matrix(parts["calibration"], features), parts["calibration"]["label"].to_numpy()
    booster = cfg.classifier()
    booster.fit(
        X_fit,
        y_fit,
        eval_set=[(X_es, y_es)],
        eval_metric="binary_logloss",
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    baseline = make_baseline(cfg.seed).fit(np.vstack([X_fit, X_es]), np.concatenate([y_fit, y_es]))
    # Model choice is part of training: the better of LightGBM and the regularized logistic
    # regression on the calibration slice (neither was fitted on it; calibration is monotone,
    # so the AUC it is chosen on is the uncalibrated one). A tie keeps LightGBM.
    val_auc = {
        "lightgbm": roc_auc(y_cal, booster.predict_proba(X_cal)[:, 1]),
        "logistic": roc_auc(y_cal, baseline.predict_proba(X_cal)[:, 1]),
    }
    learner = "logistic" if val_auc["logistic"] > val_auc["lightgbm"] else "lightgbm"
    chosen = baseline if learner == "logistic" else booster
    calibrated, method = fit_calibrator(
        chosen, X_cal, y_cal, method="auto", isotonic_min_positives=cfg.isotonic_min_positives
    )
    bound_isotonic(calibrated, X_cal.shape[0])
    if learner == "lightgbm":
        weight = booster.booster_.feature_importance(importance_type="gain").astype(float)
    else:  # |coefficient| on the standardized signed-log features: the logistic's own weight
        weight = np.abs(baseline.named_steps["logit"].coef_.ravel()).astype(float)
    importance = pl.DataFrame({"feature": features, "gain": weight}).sort("gain", descending=True)
    stats = {
        "train_rows": int(X_fit.shape[0]),
        "train_positives": int(y_fit.sum()),
        "early_stop_rows": int(X_es.shape[0]),
        "calibration_rows": int(X_cal.shape[0]),
        "calibration_positives": int(y_cal.sum()),
        "training_min_group_positives": int(min(positives.values())),
        "n_features": len(features),
        **{f"validation_auc_{k}": float(v) for k, v in val_auc.items()},
    }
    best = int(booster.best_iteration_ or cfg.n_estimators)
    return Candidate(calibrated, baseline, features, method, best, importance, stats, learner)


PAIRED_WITH = ("rule", "champion")  # models the candidate is compared with, paired


def rule_score(frame: pl.DataFrame) -> np.ndarray:
    """The simple recency/frequency rule: target-division frequency, recency as tie-break."""
    freq = frame[RULE_FREQUENCY].cast(pl.Float64).fill_null(0).to_numpy()
    rec = frame[RULE_RECENCY].cast(pl.Float64).fill_null(0).to_numpy()
    return freq + rec / (1.0 + rec.max(initial=0.0))


def evaluate(
    holdout: pl.DataFrame,
    scores: dict[str, np.ndarray],
) -> pl.DataFrame:
    """Holdout metrics, one row per model (``model`` column plus every metric).

    Args:
        holdout: rows with ``label`` (one per holdout customer at the holdout cutoff).
        scores: model name → score per holdout row (``candidate``, ``baseline``,
            ``rule``, optionally ``champion`` and ``oracle`` = true probability).
    """
    y = holdout["label"].to_numpy()
    rows = []
    for name, p in scores.items():
        m = classification_summary(y, p, probabilistic=name not in RANKING_ONLY)
        m["auc_se"] = auc_standard_error(m["auc"], int(y.sum()), int(y.size - y.sum()))
        if name == "candidate":
            # the noise of the comparisons the gates make, paired on these same rows
            for other in PAIRED_WITH:
                if other in scores:
                    _, se = paired_bootstrap_difference(roc_auc, y, p, scores[other], n_boot=200)
                    m[f"auc_vs_{other}_se"] = se
        rows.append({"model": name, **m})
    return pl.DataFrame(rows).fill_nan(None)  # a rule has no Brier/calibration: null, not NaN


def oracle_gate_report(
    holdout: pl.DataFrame, scores: dict[str, np.ndarray], cfg: GateConfig, division: str
) -> GateReport | None:
    """The verdict the gates would give the true probabilities (``scores["oracle"]``) in
    the candidate's place, on the same holdout rows against the same rule (no champion):
    whether the evidence allows *any* model to pass, so a refusal can be told apart from a
    bad model. None when there is no oracle (real data): not measured."""
    if "oracle" not in scores:
        return None
    as_candidate = {"candidate": scores["oracle"], "rule": scores["rule"]}
    return promotion_gates(evaluate(holdout, as_candidate), cfg, division)


def calibration_allowance(prevalence: float, n: int, n_bins: int = 10) -> float:
    """Sampling noise of a per-bin observed rate: ``sqrt(p(1-p) / (n / n_bins))``.

    Added to the calibration-MAE ceiling so a small holdout does not fail a
    well-calibrated model by chance.
    """
    if n <= 0:
        return math.inf
    return math.sqrt(max(prevalence * (1 - prevalence), 1e-12) / max(n / n_bins, 1.0))


def training_evidence_gate(min_group_positives: float) -> Gate:
    """Whether a model could be fitted at all: every training group (fit, early stop,
    calibration) needs a positive. Failing, the candidate is the prior rate
    (:func:`prior_candidate`) and the verdict is "insufficient evidence", not a bad model."""
    ok = min_group_positives >= 1
    return replace(
        gate(
            "training_positives",
            min_group_positives,
            ">=",
            1,
            "fewest positives in a training group (fit / early stop / calibration)"
            + ("" if ok else "; no model fitted, the prior rate stands in"),
        ),
        verdict="" if ok else INSUFFICIENT,
    )


def promotion_gates(metrics: pl.DataFrame, cfg: GateConfig, division: str) -> GateReport:
    """The gate verdict for a candidate, from its holdout metrics table.

    Evidence first (enough positives, AUC standard error small enough to judge: else
    "insufficient evidence", not a bad model); calibration within its ceiling plus the
    holdout's sampling allowance; the candidate not worse than the recency/frequency
    rule by more than the paired standard error of the AUC difference; the champion
    rules (older never replaces newer; not worse than the champion beyond the paired
    SE). The seed's absolute floors (AUC 0.70, lift@10% 2.0) are business floors:
    advisory (WARN) by default, blocking with ``floors: block``, absent with ``off``.
    """
    floors = cfg.floors_for(division)
    n = int(metric_of(metrics, "candidate", "n"))
    pos = int(metric_of(metrics, "candidate", "positives"))
    auc = metric_of(metrics, "candidate", "auc")
    gates: list[Gate] = evidence_gates(
        pos, cfg.min_holdout_positives, metric_of(metrics, "candidate", "auc_se"), cfg.max_auc_se
    )
    if "training_min_group_positives" in metrics.columns:  # absent for the oracle's report
        fitted = training_evidence_gate(
            metric_of(metrics, "candidate", "training_min_group_positives")
        )
        if not fitted.passed:  # no model to compare: the rest would judge the prior rate
            return GateReport([fitted, *gates])
        gates.insert(0, fitted)
    if cfg.floors != "off":
        advisory = cfg.floors == "warn"
        gates += [
            replace(gate("auc", auc, ">=", floors["auc_min"], "business floor"), advisory=advisory),
            replace(
                gate(
                    "lift_at_10",
                    metric_of(metrics, "candidate", "lift_at_10"),
                    ">=",
                    floors["lift10_min"],
                    "business floor",
                ),
                advisory=advisory,
            ),
        ]
    allowance = calibration_allowance(pos / max(n, 1), n)
    gates.append(
        gate(
            "calibration_mae",
            metric_of(metrics, "candidate", "calibration_mae"),
            "<=",
            floors["calibration_mae_max"] + allowance,
            f"ceiling {floors['calibration_mae_max']:.3f} + sample allowance {allowance:.3f}",
        )
    )
    if cfg.beat_rule:
        gates.append(
            paired_gate(
                "auc_vs_rule",
                auc - metric_of(metrics, "rule", "auc"),
                metric_of(metrics, "candidate", "auc_vs_rule_se"),
                "the recency/frequency rule",
            )
        )
    gates.append(
        champion_gate(
            metrics,
            "auc",
            cutoff_col="cutoff_date",
            enabled=cfg.beat_champion,
            se_col="auc_vs_champion_se",
        )
    )
    return GateReport(gates)


def candidate_verdict(
    metrics: pl.DataFrame, cfg: GateConfig, division: str, overlap: int
) -> GateReport:
    """Everything that decides promotion: the promotion gates and the leakage gauntlet, in
    one report (the two asset checks show them separately; ``promoted_model`` acts on this)."""
    return GateReport.of(
        [*promotion_gates(metrics, cfg, division).gates, *leakage_report(metrics, overlap).gates]
    )


def leakage_report(metrics: pl.DataFrame, overlap: int) -> GateReport:
    """Leakage gauntlet verdict from the holdout.

    * zero customer overlap between training and holdout;
    * the candidate may not beat the oracle (the true probabilities) by more
      than two standard errors: no honest model can, so a bigger gap means
      the features see the label window.
    """
    gates = [gate("train_holdout_customer_overlap", overlap, "<=", 0)]
    oracle = metric_of(metrics, "oracle", "auc")
    if math.isnan(oracle):
        gates.append(skipped_gate("auc_above_oracle", "no ground truth for this source"))
    else:
        se = metric_of(metrics, "candidate", "auc_se")
        gates.append(
            gate(
                "auc_above_oracle",
                metric_of(metrics, "candidate", "auc"),
                "<=",
                oracle + 2 * se,
                f"oracle AUC {oracle:.4f} + 2 SE",
            )
        )
    return GateReport(gates)


@dataclass
class TrainingFrames:
    """The rows a candidate of one ``division × cutoff`` is trained and judged on.

    ``train``: one row per non-holdout customer × snapshot (``snapshot`` = the feature
    cutoff, labels in ``(snapshot, snapshot + W]``), sorted by ``snapshot, customer_id``,
    with ``group`` (fit / early_stop / calibration) and ``label``. ``holdout``: one row per
    holdout customer at ``holdout_cutoff = cutoff + W`` (labels in ``(H, H + W]``), sorted by
    ``customer_id``. ``features``: model columns in order. ``overlap``: holdout customers
    also in ``train`` (0 by construction)."""

    train: pl.DataFrame
    holdout: pl.DataFrame
    features: list[str]
    overlap: int
    snapshots: list[Any]
    holdout_cutoff: Any


def training_frames(
    *,
    customers: pl.DataFrame,
    transactions: pl.DataFrame,
    install_base: pl.DataFrame,
    cutoff: Any,
    division: str,
    divisions: list[str],
    window_months: int,
    cfg: TrainingConfig,
    feature_matrix: pl.DataFrame | None = None,
    labels: pl.DataFrame | None = None,
) -> TrainingFrames:
    """The pooled training snapshots and the out-of-time holdout of one candidate (see the
    module docstring for the time semantics); what :func:`fit_and_evaluate` trains on and
    the leakage gauntlet (:mod:`gosales_assets.gauntlet`) re-examines.

    Raises:
        ValueError: when the holdout label window is not closed by the data's last date.
    """
    from gosales_assets import features as gs_features
    from gosales_assets import labels as gs_labels
    from shared.partitions import add_months

    as_of = transactions["order_date"].max()
    holdout_cutoff = add_months(cutoff, window_months)
    if add_months(holdout_cutoff, window_months) > as_of:
        raise ValueError(
            f"cutoff {cutoff} for division {division}: the holdout window ends "
            f"{add_months(holdout_cutoff, window_months)}, after the data's as-of date {as_of}; "
            "choose an earlier cutoff in the gosales config"
        )

    def snapshot(at: Any) -> pl.DataFrame:
        reuse = at == cutoff
        feats = (
            feature_matrix
            if reuse and feature_matrix is not None
            else gs_features.build_features(
                transactions, customers, install_base, at, divisions, target_division=division
            )
        )
        labs = (
            labels
            if reuse and labels is not None
            else gs_labels.build_labels(transactions, customers, division, at, window_months)
        )
        return feats.join(labs, on="customer_id", how="inner").with_columns(snapshot=pl.lit(at))

    groups = customer_groups(customers["customer_id"], cfg)
    snaps = [add_months(cutoff, -k * cfg.snapshot_step_months) for k in range(cfg.snapshots)]
    first = snapshot(snaps[0])
    features = gs_features.feature_columns(first)
    train = pl.concat([first, *[snapshot(s) for s in snaps[1:]]], how="diagonal_relaxed").join(
        groups, on="customer_id"
    )
    # joins return rows in no guaranteed order and LightGBM's bagging samples rows by
    # position: sort, so one seed gives one model
    train = train.filter(pl.col("group") != "holdout").sort("snapshot", "customer_id")
    holdout = (
        snapshot(holdout_cutoff)
        .join(groups, on="customer_id")
        .filter(pl.col("group") == "holdout")
        .sort("customer_id")
    )
    overlap = holdout.join(train.select("customer_id").unique(), on="customer_id").height
    return TrainingFrames(train, holdout, features, overlap, snaps, holdout_cutoff)


@dataclass
class Evaluation:
    """Everything one candidate fit produced: the model, its holdout and the metrics."""

    candidate: Candidate
    metrics: pl.DataFrame
    holdout: pl.DataFrame
    scores: dict[str, np.ndarray]
    overlap: int
    snapshots: list[Any]
    holdout_cutoff: Any


def fit_and_evaluate(
    *,
    customers: pl.DataFrame,
    transactions: pl.DataFrame,
    install_base: pl.DataFrame,
    ground_truth: pl.DataFrame | None,
    cutoff: Any,
    division: str,
    divisions: list[str],
    window_months: int,
    cfg: TrainingConfig,
    feature_matrix: pl.DataFrame | None = None,
    labels: pl.DataFrame | None = None,
    champion_scorer: Any = None,
) -> Evaluation:
    """Train a candidate for ``division`` at ``cutoff`` and evaluate it out of time.

    Args:
        customers, transactions, install_base: validated input tables.
        ground_truth: ``customer_id, division, cutoff_date, true_prob`` or None;
            adds an ``oracle`` row to the metrics when it covers the holdout.
        cutoff: training cutoff (month end); holdout cutoff is ``cutoff + window``.
        feature_matrix, labels: the partition's already-built frames at ``cutoff``
            (rebuilt when None).
        champion_scorer: ``f(holdout_frame) -> probabilities`` of the serving
            champion, or None.

    Returns:
        An :class:`Evaluation`; ``metrics`` has one row per model with
        ``division``, ``cutoff_date``, ``holdout_cutoff`` key columns.

    Raises:
        ValueError: when the holdout label window is not closed by the data's last date.
    """
    frames = training_frames(
        customers=customers,
        transactions=transactions,
        install_base=install_base,
        cutoff=cutoff,
        division=division,
        divisions=divisions,
        window_months=window_months,
        cfg=cfg,
        feature_matrix=feature_matrix,
        labels=labels,
    )
    train, holdout, features = frames.train, frames.holdout, frames.features
    holdout_cutoff = frames.holdout_cutoff
    cand = train_candidate(train, features, cfg)

    scores = {
        "candidate": cand.predict(holdout),
        "baseline": cand.predict_baseline(holdout),
        "rule": rule_score(holdout),
    }
    if champion_scorer is not None:
        champ = champion_scorer(holdout)
        if champ is not None:
            scores["champion"] = champ
    if ground_truth is not None and ground_truth.height:
        same = (pl.col("division") == division) & (pl.col("cutoff_date") == holdout_cutoff)
        if "window_months" in ground_truth.columns:  # truth for another window is not truth
            same = same & (pl.col("window_months") == window_months)
        truth = ground_truth.filter(same).select("customer_id", "true_prob")
        joined = holdout.select("customer_id").join(truth, on="customer_id", how="left")
        if joined.height and joined["true_prob"].null_count() == 0:
            scores["oracle"] = joined["true_prob"].to_numpy()

    metrics = evaluate(holdout, scores).with_columns(
        training_min_group_positives=pl.when(pl.col("model") == "candidate").then(
            pl.lit(float(cand.train_stats["training_min_group_positives"]))
        )
    )
    metrics = metrics.select(
        pl.lit(division).alias("division"),
        pl.lit(cutoff).cast(pl.Date).alias("cutoff_date"),
        pl.lit(holdout_cutoff).cast(pl.Date).alias("holdout_cutoff"),
        *metrics.columns,
    )
    return Evaluation(
        cand, metrics, holdout, scores, frames.overlap, frames.snapshots, holdout_cutoff
    )
