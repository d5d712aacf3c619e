"""Discount point and range models, and the win-probability model (pure functions).

* Point: the better of LightGBM (L2) and ridge on the calibration slice, vs a
  RandomForest baseline vs a segment-median rule (median training discount per
  product family × customer tier).
* Range: LightGBM quantile models at ``(1 - target) / 2``, ``1/2`` and
  ``(1 + target) / 2`` (5/50/95 % for a 90 % range) fitted on training rows,
  conformalized with MAPIE's :class:`ConformalizedQuantileRegressor` on the
  time-ordered calibration slice (the ``calibration_days`` just before the
  holdout; no shuffling). Mondrian: a family with at least
  ``mondrian_min_rows`` calibration rows gets its own conformalization,
  smaller families share the pooled one. Outputs are sorted per row so the
  range never crosses (``lower <= median <= upper``).
* Win probability: :mod:`pricing_assets.win`.

Shapes: frames are polars with the columns of :mod:`pricing_assets.features`;
discounts are fractions of the list price (0.25 = 25 % off).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.ensemble import RandomForestRegressor

from pricing_assets.config import ModelSettings
from pricing_assets.features import FEATURES, matrix
from shared import metrics as M

RULE_KEYS = ("product_family", "customer_tier")


def lgbm_params(s: ModelSettings) -> dict[str, Any]:
    return {
        "n_estimators": s.n_estimators,
        "learning_rate": s.learning_rate,
        "num_leaves": s.num_leaves,
        "min_child_samples": s.min_child_samples,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "random_state": s.seed,
        "deterministic": True,
        "force_row_wise": True,
        "n_jobs": s.num_threads,
        "verbose": -1,
    }


# --- point ---------------------------------------------------------------------


@dataclass
class SegmentMedianRule:
    """Median training discount per product family × customer tier (global median fallback)."""

    table: pl.DataFrame
    fallback: float

    @classmethod
    def fit(cls, train: pl.DataFrame) -> SegmentMedianRule:
        table = train.group_by(list(RULE_KEYS)).agg(rule_discount=pl.col("discount").median())
        return cls(table, float(train["discount"].median()))

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        out = frame.select(RULE_KEYS).join(
            self.table, on=list(RULE_KEYS), how="left", maintain_order="left"
        )
        return out["rule_discount"].fill_null(self.fallback).to_numpy()


@dataclass
class SegmentRangeRule:
    """The rule baseline's 90 % range: the segment-median rule (the rule the gates compare
    the candidate against) as the median, and per product family × customer tier the
    empirical ``(1 - target) / 2`` and ``(1 + target) / 2`` quantiles of the fitting lines'
    discounts as the bounds. Segments with fewer than ``min_rows`` lines (and unseen ones)
    use the pooled quantiles. No model, no conformal correction: what it covers is measured
    on the holdout (``covered_*`` columns of the recommendations)."""

    median: SegmentMedianRule
    bounds: pl.DataFrame
    fallback: tuple[float, float]

    @classmethod
    def fit(cls, lines: pl.DataFrame, target: float = 0.90, min_rows: int = 20) -> SegmentRangeRule:
        """Fit on ``lines`` (``product_family, customer_tier, discount``)."""
        a = (1 - target) / 2
        d = pl.col("discount")
        bounds = (
            lines.group_by(list(RULE_KEYS))
            .agg(n=pl.len(), rule_lower=d.quantile(a), rule_upper=d.quantile(1 - a))
            .filter(pl.col("n") >= min_rows)
            .drop("n")
        )
        pooled = (float(lines["discount"].quantile(a)), float(lines["discount"].quantile(1 - a)))
        return cls(SegmentMedianRule.fit(lines), bounds, pooled)

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``lower/median/upper_discount, calibration_group`` per row of ``frame`` (never crossing)."""
        b = frame.select(RULE_KEYS).join(
            self.bounds, on=list(RULE_KEYS), how="left", maintain_order="left"
        )
        own = b["rule_lower"].is_not_null().to_numpy()
        groups = np.where(own, "rule:segment", "rule:pooled")
        lo = b["rule_lower"].fill_null(self.fallback[0]).to_numpy()
        hi = b["rule_upper"].fill_null(self.fallback[1]).to_numpy()
        return _ordered(lo, self.median.predict(frame), hi, groups)


POINT_LEARNERS = ("lightgbm", "ridge")
"""The point learners tried; the candidate is the one with the lower validation MSE."""


def make_ridge() -> Any:
    """The regularized linear point learner: median imputation with missing indicators
    (missing customer context), standardization, ridge with its penalty chosen by
    efficient leave-one-out (``RidgeCV``). Category codes enter as numbers: a linear model
    cannot use them well, and validation then prefers LightGBM, as it should."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        RidgeCV(alphas=np.logspace(-3, 3, 13)),
    )


@dataclass
class PointModels:
    """The point candidate (the better of LightGBM and ridge on the validation slice), the
    RandomForest baseline and the segment-median rule.

    ``linear`` and ``learner`` default at class level, so a bundle pickled before the
    learner choice existed still loads (and serves its LightGBM)."""

    lgbm: lgb.LGBMRegressor
    rf: RandomForestRegressor
    rule: SegmentMedianRule
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    linear: Any = None
    learner: str = "lightgbm"
    validation_mse: Any = None  # {learner: MSE on the validation slice}, or None (not chosen)

    def _learners(self) -> dict[str, Any]:
        return {
            "lightgbm": self.lgbm,
            **({"ridge": self.linear} if self.linear is not None else {}),
        }

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Discount (fraction of list price) per row by the chosen learner."""
        return self._learners()[self.learner].predict(matrix(frame, self.features))

    def contributions(self, frame: pl.DataFrame) -> np.ndarray:
        """Additive explanation of :meth:`predict`: ``(n, n_features + 1)``, the last column
        the base value, each row summing to the prediction.

        LightGBM: its own TreeSHAP (``pred_contrib=True``). Ridge: ``coef · z`` per
        standardized column, a missing-value indicator folded into the feature it flags;
        the base is the intercept (the mean training discount, the features being centred)."""
        X = matrix(frame, self.features)
        if self.learner == "lightgbm":
            return self.lgbm.predict(X, pred_contrib=True)
        imputer, scaler, ridge = (step for _, step in self.linear.steps)
        terms = scaler.transform(imputer.transform(X)) * ridge.coef_
        parts = terms[:, : len(self.features)].copy()
        if imputer.indicator_ is not None:
            flagged = imputer.indicator_.features_
            parts[:, flagged] += terms[:, len(self.features) :]
        return np.column_stack([parts, np.full(len(X), ridge.intercept_)])

    def predict_all(self, frame: pl.DataFrame) -> dict[str, np.ndarray]:
        """Every point model's predictions by learner name (the chosen one first)."""
        X = matrix(frame, self.features)
        learners = self._learners()
        order = [self.learner, *(k for k in learners if k != self.learner)]
        return {
            **{k: learners[k].predict(X) for k in order},
            "random_forest": self.rf.predict(X),
            "segment_median": self.rule.predict(frame),
        }


def fit_point_models(
    train: pl.DataFrame,
    settings: ModelSettings,
    features: list[str] | None = None,
    validation: pl.DataFrame | None = None,
) -> PointModels:
    """Fit LightGBM, ridge, the RandomForest baseline and the rule on training rows, on
    ``features`` (default :data:`FEATURES`; with declared user features, ``feature_list``).

    Model choice is part of training: the candidate is the learner with the lower mean
    squared error (the L2 loss both are trained for) on ``validation`` (rows neither was
    fitted on: the time-ordered calibration slice); a tie, or no validation rows, keeps
    LightGBM."""
    features = list(features or FEATURES)
    X, y = matrix(train, features), train["discount"].to_numpy()
    model = lgb.LGBMRegressor(objective="regression", **lgbm_params(settings)).fit(X, y)
    linear = make_ridge().fit(X, y)  # deterministic: no seed
    rf = RandomForestRegressor(
        n_estimators=settings.rf_estimators,
        min_samples_leaf=10,
        max_features=0.5,
        max_samples=min(1.0, 10_000 / max(len(y), 1)),
        n_jobs=settings.num_threads,
        random_state=settings.seed,
    ).fit(np.nan_to_num(X, nan=-1.0), y)
    point = PointModels(model, _NanSafe(rf), SegmentMedianRule.fit(train), features, linear)
    if validation is not None and validation.height:
        Xv, yv = matrix(validation, features), validation["discount"].to_numpy()
        point.validation_mse = {
            name: float(np.mean((m.predict(Xv) - yv) ** 2)) for name, m in point._learners().items()
        }
        if point.validation_mse["ridge"] < point.validation_mse["lightgbm"]:
            point.learner = "ridge"
    return point


class _NanSafe:
    """RandomForest with missing context encoded as -1 (the rows are also flagged by n_lines = 0)."""

    def __init__(self, model: RandomForestRegressor):
        self.model = model

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(np.nan_to_num(X, nan=-1.0))


def point_metrics(models: PointModels, holdout: pl.DataFrame) -> pl.DataFrame:
    """Errors of each point model on the holdout: ``model, n, mae, rmse, mse`` (``model`` =
    learner name, the chosen learner first), and for the chosen learner ``mse_vs_rule_diff``
    / ``mse_vs_rule_se``: its mean squared error minus the segment-median rule's on the same
    lines, with the deal-clustered paired standard error (squared error: the loss the point
    learners are trained for), and ``validation_mse`` per learner when one was chosen."""
    y = holdout["discount"].to_numpy()
    preds = models.predict_all(holdout)
    rows = [
        {
            "model": name,
            "n": len(y),
            "mae": M.mae(y, p),
            "rmse": M.rmse(y, p),
            "mse": M.rmse(y, p) ** 2,
            **(
                {"validation_mse": models.validation_mse[name]}
                if name in (models.validation_mse or {})
                else {}
            ),
        }
        for name, p in preds.items()
    ]
    diff, se = M.paired_loss_difference(
        (preds[models.learner] - y) ** 2,
        (preds["segment_median"] - y) ** 2,
        holdout["deal_id"].to_numpy(),
    )
    rows[0].update(mse_vs_rule_diff=diff, mse_vs_rule_se=se)
    return pl.DataFrame(rows, strict=False)


# --- range ----------------------------------------------------------------------


@dataclass
class RangeModel:
    """Conformalized quantile regression (CQR) with per-family (Mondrian) calibration.

    ``estimators`` is ``[lower, upper, median]`` (MAPIE's order). ``mapie`` maps
    a calibration group (``"*"`` pooled, or a product family) to its fitted
    MAPIE regressor; ``residuals`` keeps each group's calibration conformity
    scores ``(lower - y, y - upper)`` so :meth:`get_confidence_interval` can
    serve any confidence level.
    """

    estimators: list[lgb.LGBMRegressor]
    confidence: float
    mapie: dict[str, Any]
    residuals: dict[str, tuple[np.ndarray, np.ndarray]]
    features: list[str]
    group_column: str = "product_family"

    def group_of(self, frame: pl.DataFrame) -> np.ndarray:
        fam = frame[self.group_column].to_numpy().astype(str)
        return np.where(np.isin(fam, [g for g in self.mapie if g != "*"]), fam, "*")

    def raw_quantiles(self, frame: pl.DataFrame) -> np.ndarray:
        """``(n, 3)`` raw quantile predictions ``[lower, upper, median]`` before conformalization."""
        X = matrix(frame, self.features)
        return np.column_stack([e.predict(X) for e in self.estimators])

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``lower_discount, median_discount, upper_discount, calibration_group`` at the fitted confidence."""
        X = matrix(frame, self.features)
        groups = self.group_of(frame)
        lo, med, hi = np.empty(len(X)), np.empty(len(X)), np.empty(len(X))
        for g in np.unique(groups):
            idx = groups == g
            point, iv = self.mapie[g].predict_interval(X[idx])
            lo[idx], hi[idx], med[idx] = iv[:, 0, 0], iv[:, 1, 0], point
        return _ordered(lo, med, hi, groups)

    def get_confidence_interval(self, frame: pl.DataFrame, alpha: float = 0.1) -> pl.DataFrame:
        """Range with nominal coverage ``1 - alpha`` (split-conformal CQR, by hand).

        Same columns as :meth:`predict`. Each side is corrected by the
        ``ceil((n + 1)(1 - alpha / 2)) / n`` empirical quantile of its group's
        calibration scores (MAPIE's asymmetric CQR); ``alpha = 1 - confidence``
        reproduces :meth:`predict`.
        """
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        bounds = self.unrepaired_bounds(frame, alpha)
        return _ordered(bounds[:, 0], bounds[:, 1], bounds[:, 2], self.group_of(frame))

    def unrepaired_bounds(self, frame: pl.DataFrame, alpha: float | None = None) -> np.ndarray:
        """``(n, 3)`` conformalized ``[lower, median, upper]`` *before* the per-row sort
        (nominal coverage ``1 - alpha``; default the fitted confidence).

        The range the model really produced: :meth:`predict` sorts each row so the
        served range never crosses, which would hide a crossing model.
        """
        raw = self.raw_quantiles(frame)
        groups = self.group_of(frame)
        lo, hi = raw[:, 0].copy(), raw[:, 1].copy()
        level = 1 - (1 - self.confidence if alpha is None else alpha) / 2
        for g in np.unique(groups):
            idx = groups == g
            r_lo, r_hi = self.residuals[g]
            lo[idx] -= _conformal_quantile(r_lo, level)
            hi[idx] += _conformal_quantile(r_hi, level)
        return np.column_stack([lo, raw[:, 2], hi])


def crossing_stats(bounds: np.ndarray) -> dict[str, float]:
    """Rows of ``(n, 3)`` ``[lower, median, upper]`` that cross, i.e. the rows the sort repairs.

    Out: ``crossing_rows`` (count) and ``crossing_share`` (of all rows; NaN for no rows).
    """
    lo, med, hi = bounds[:, 0], bounds[:, 1], bounds[:, 2]
    n = int(((lo > med) | (med > hi)).sum())
    return {"crossing_rows": n, "crossing_share": n / len(bounds) if len(bounds) else math.nan}


def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    n = len(scores)
    if n == 0:
        return math.inf
    q = min(1.0, math.ceil((n + 1) * level) / n)
    return float(np.quantile(scores, q, method="higher"))


def _ordered(lo: np.ndarray, med: np.ndarray, hi: np.ndarray, groups: np.ndarray) -> pl.DataFrame:
    stacked = np.sort(np.column_stack([lo, med, hi]), axis=1)  # no crossing
    return pl.DataFrame(
        {
            "lower_discount": stacked[:, 0],
            "median_discount": stacked[:, 1],
            "upper_discount": stacked[:, 2],
            "calibration_group": groups,
        }
    )


def fit_range_model(
    train: pl.DataFrame,
    calibration: pl.DataFrame,
    settings: ModelSettings,
    confidence: float = 0.90,
    mondrian_min_rows: int = 200,
    features: list[str] | None = None,
) -> RangeModel:
    """Quantile LightGBMs on ``train``, conformalized on the time-ordered ``calibration`` slice
    (model columns ``features``, default :data:`FEATURES`)."""
    features = list(features or FEATURES)
    from mapie.regression import ConformalizedQuantileRegressor

    if calibration.height < 20:
        raise ValueError(
            f"only {calibration.height} calibration rows: widen calibration_days so the "
            "conformal correction is estimable"
        )
    a = (1 - confidence) / 2
    X, y = matrix(train, features), train["discount"].to_numpy()
    params = lgbm_params(settings)
    estimators = [
        lgb.LGBMRegressor(objective="quantile", alpha=q, **params).fit(X, y)
        for q in (a, 1 - a, 0.5)
    ]
    Xc, yc = matrix(calibration, features), calibration["discount"].to_numpy()
    fam = calibration["product_family"].to_numpy().astype(str)
    groups: dict[str, np.ndarray] = {"*": np.ones(len(yc), dtype=bool)}
    for g in np.unique(fam):
        if (fam == g).sum() >= mondrian_min_rows:
            groups[g] = fam == g
    raw = np.column_stack([e.predict(Xc) for e in estimators])
    mapie, residuals = {}, {}
    for g, idx in groups.items():
        mapie[g] = ConformalizedQuantileRegressor(
            estimators, confidence_level=confidence, prefit=True
        ).conformalize(Xc[idx], yc[idx])
        residuals[g] = (raw[idx, 0] - yc[idx], yc[idx] - raw[idx, 1])
    return RangeModel(estimators, confidence, mapie, residuals, features)


def coverage_table(
    frame: pl.DataFrame,
    lower: str = "lower_discount",
    upper: str = "upper_discount",
    by: str = "product_family",
    target: float = 0.90,
    conf: float = 0.99,
) -> pl.DataFrame:
    """Coverage overall and per ``by`` group with the ``conf`` binomial acceptance interval around ``target``.

    Columns: ``group, n, covered, coverage, accept_lo, accept_hi, within, mean_width``.
    """
    inside = (
        (pl.col("discount") >= pl.col(lower) - 1e-12)
        & (pl.col("discount") <= pl.col(upper) + 1e-12)
    ).cast(pl.Int64)
    width = pl.col(upper) - pl.col(lower)
    per = (
        frame.group_by(by)
        .agg(n=pl.len(), covered=inside.sum(), mean_width=width.mean())
        .rename({by: "group"})
        .sort("group")
    )
    total = frame.select(
        group=pl.lit("ALL"), n=pl.len(), covered=inside.sum(), mean_width=width.mean()
    )
    out = pl.concat([total, per], how="vertical_relaxed")
    rows = []
    for r in out.to_dicts():
        lo, hi = M.binomial_acceptance(target, int(r["n"]), conf)
        cov = r["covered"] / r["n"] if r["n"] else float("nan")
        rows.append(
            {**r, "coverage": cov, "accept_lo": lo, "accept_hi": hi, "within": lo <= cov <= hi}
        )
    return pl.DataFrame(rows).select(
        "group", "n", "covered", "coverage", "accept_lo", "accept_hi", "within", "mean_width"
    )


def crossing_count(ranges: pl.DataFrame) -> int:
    """Rows whose range crosses (should always be 0)."""
    return int(
        ranges.select(
            (
                (pl.col("lower_discount") > pl.col("median_discount"))
                | (pl.col("median_discount") > pl.col("upper_discount"))
            ).sum()
        ).item()
    )
