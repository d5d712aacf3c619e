"""The learners a lead candidate is chosen from, and the rules baseline it must beat.

* :func:`logistic` — L2-regularized logistic regression on standardized features (a plain
  scikit-learn pipeline, so MLflow/skops store it like any estimator);
* calibrated LightGBM (``shared.lgbm`` settings, ``shared.calibration``);
* :func:`choose_and_fit` — model choice is part of training: every configured learner is fitted
  on the early part of the training period and scored on its last ``calibration_frac`` by time
  (the validation slice: inside the training period, before the embargo and the holdout, never
  the holdout); the best validation PR-AUC wins (the first listed on ties or when the slice has
  no positives). The winner is then fitted for serving: LightGBM keeps its fit and is calibrated
  on the validation slice, logistic regression is refitted on the whole training period;
* :class:`RulesBaseline` — the "current campaign comparator" of the seed: the training
  conversion rate per segment (source channel × campaign by default), smoothed towards the
  parent segment, the coarsest towards the training prevalence.

No Dagster here: frames in, fitted estimators and arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from leadconv_assets.features import segment_of
from shared.calibration import fit_calibrator
from shared.metrics import pr_auc

if TYPE_CHECKING:
    from leadconv_assets.config import BaselineConfig, LeadconvConfig

MatrixFn = Any  # training.matrix(frame, features) -> np.ndarray


def logistic(c: float = 0.1, seed: int = 42) -> Any:
    """Unfitted pipeline: missing values as 0, standardized, L2 logistic regression (``C=c``)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=c, max_iter=2000, random_state=seed),
    )


@dataclass
class Choice:
    """The chosen learner, its serving model and what the choice was based on."""

    learner: str
    model: Any  # fitted, predict_proba
    calibration_method: str
    validation_pr_auc: dict[str, float]
    validation_rows: int
    validation_positives: int
    lgbm: Any = None  # the fitted LightGBM (feature importance), when tried
    notes: list[str] = field(default_factory=list)


def choose_and_fit(
    train: pl.DataFrame, feats: list[str], cfg: LeadconvConfig, matrix: MatrixFn
) -> Choice:
    """Fit every configured learner on the early training rows, choose on the validation slice
    (the last ``split.calibration_frac`` of training, by time) and fit the winner for serving."""
    n_val = max(int(train.height * cfg.split.calibration_frac), 1)
    fit_part, val_part = train.head(train.height - n_val), train.tail(n_val)
    notes = []
    if val_part["label"].n_unique() < 2 or fit_part["label"].n_unique() < 2:
        fit_part, val_part = train, train  # tiny data: choose and calibrate in-sample
        notes.append("validation slice has one class: learners compared in-sample")
    X_fit, y_fit = matrix(fit_part, feats), fit_part["label"].to_numpy()
    X_val, y_val = matrix(val_part, feats), val_part["label"].to_numpy()
    fitted: dict[str, Any] = {}
    val_scores: dict[str, float] = {}
    for name in cfg.training.learners:
        if name == "lightgbm":
            model = cfg.training.classifier().fit(X_fit, y_fit)
        else:
            model = logistic(cfg.training.logistic_c, cfg.training.seed).fit(X_fit, y_fit)
        fitted[name] = model
        val_scores[name] = pr_auc(y_val, model.predict_proba(X_val)[:, 1])
    finite = {k: v for k, v in val_scores.items() if not math.isnan(v)}
    best = cfg.training.learners[0]
    if finite:
        best = max(finite, key=lambda k: (finite[k], -cfg.training.learners.index(k)))
    if best == "lightgbm":
        model, method = fit_calibrator(
            fitted["lightgbm"],
            X_val,
            y_val,
            isotonic_min_positives=cfg.training.isotonic_min_positives,
        )
    else:
        model = logistic(cfg.training.logistic_c, cfg.training.seed)
        model.fit(matrix(train, feats), train["label"].to_numpy())
        method = "none (logistic regression)"
    return Choice(
        learner=best,
        model=model,
        calibration_method=method,
        validation_pr_auc=val_scores,
        validation_rows=val_part.height,
        validation_positives=int(y_val.sum()),
        lgbm=fitted.get("lightgbm"),
        notes=notes,
    )


class RulesBaseline:
    """Smoothed training conversion rates per nested segment (``baseline.by``).

    Level ``j`` groups by the first ``j`` attributes; its rate is
    ``(positives + m * parent) / (rows + m)`` with ``m = smoothing`` and ``parent`` the row's
    level ``j - 1`` rate (level 0: the training prevalence). A segment not seen in training
    gets its parent's rate. Probabilities, not only a ranking.
    """

    def __init__(self, cfg: BaselineConfig):
        self.by = list(cfg.by)
        self.m = float(cfg.smoothing)
        self.prior = math.nan
        self.tables: list[pl.DataFrame] = []

    def _segments(self, frame: pl.DataFrame) -> pl.DataFrame:
        return pl.DataFrame([segment_of(frame, a) for a in self.by])

    def fit(self, frame: pl.DataFrame, y: np.ndarray) -> RulesBaseline:
        seg = self._segments(frame).with_columns(y=pl.Series(np.asarray(y, dtype=float)))
        self.prior = float(seg["y"].mean())
        parent = pl.lit(self.prior)
        self.tables = []
        work = seg.with_columns(rate_0=parent)
        for j in range(1, len(self.by) + 1):
            keys = self.by[:j]
            table = work.group_by(keys).agg(
                n=pl.len(), k=pl.col("y").sum(), parent=pl.col(f"rate_{j - 1}").first()
            )
            table = table.select(
                *keys,
                ((pl.col("k") + self.m * pl.col("parent")) / (pl.col("n") + self.m)).alias(
                    f"rate_{j}"
                ),
            )
            self.tables.append(table)
            work = work.join(table, on=keys, how="left")
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Probability per row of ``frame`` (a features frame)."""
        work = self._segments(frame).with_columns(rate_0=pl.lit(self.prior))
        work = work.with_row_index("_row")
        for j, table in enumerate(self.tables, start=1):
            work = work.join(table, on=self.by[:j], how="left").with_columns(
                pl.col(f"rate_{j}").fill_null(pl.col(f"rate_{j - 1}"))
            )
        work = work.sort("_row")
        return work[f"rate_{len(self.tables)}"].to_numpy().astype(float)
