"""The win-probability model of a business unit (pure functions, no Dagster).

P(win | quote, discount): LightGBM classifier (monotone increasing in the discount) vs a
logistic baseline, on quotes with the offered discount as a feature; quote features are
the quote's size, segment, region and the customer's win history strictly before the
quote date. Frames are polars; discounts are fractions of the list price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pricing_assets.config import ModelSettings
from pricing_assets.models import lgbm_params
from shared import metrics as M

WIN_FEATURES = [
    "discount",
    "log_list_value",
    "segment_code",
    "region_code",
    "past_win_rate",
    "past_quotes",
]
SEGMENTS = ("strategic", "enterprise", "mid", "smb")
REGION_FALLBACK = -1


def win_history(events: pl.DataFrame, quotes: pl.DataFrame, date_col: str) -> pl.DataFrame:
    """Each event's customer win history from quotes *closed strictly before* its date.

    Args:
        events: rows with ``customer_id`` and ``date_col``.
        quotes: closed quotes (``customer_id, close_date, outcome``).

    Returns:
        ``events`` plus ``past_quotes`` and ``past_win_rate`` (Laplace-smoothed
        ``(wins + 1) / (quotes + 2)``).
    """
    closes = (
        quotes.select(
            "customer_id",
            pl.col("close_date").alias("_asof"),
            won=(pl.col("outcome") == "won").cast(pl.Float64),
        )
        .group_by("customer_id", "_asof")
        .agg(pl.col("won").sum().alias("w"), pl.len().cast(pl.Float64).alias("n"))
        .sort("customer_id", "_asof")
        .with_columns(
            cw=pl.col("w").cum_sum().over("customer_id"),
            cn=pl.col("n").cum_sum().over("customer_id"),
        )
        .sort("_asof")
    )
    ev = events.with_row_index("_i").with_columns(
        _asof=(pl.col(date_col) - timedelta(days=1)).cast(pl.Date)
    )
    joined = ev.sort("_asof").join_asof(
        closes.select("customer_id", "_asof", "cw", "cn"),
        on="_asof",
        by="customer_id",
        strategy="backward",
        check_sortedness=False,  # sorted by the key globally; polars cannot verify it per group
    )
    joined = joined.sort("_i").with_columns(
        past_quotes=pl.col("cn").fill_null(0.0),
        past_win_rate=(pl.col("cw").fill_null(0.0) + 1.0) / (pl.col("cn").fill_null(0.0) + 2.0),
    )
    return joined.drop("_i", "_asof", "cw", "cn")


def region_codes(values: pl.Series, known: list[str]) -> pl.Series:
    return values.replace_strict({v: i for i, v in enumerate(known)}, default=REGION_FALLBACK).cast(
        pl.Float64
    )


def segment_codes(values: pl.Series) -> pl.Series:
    return values.replace_strict({v: i for i, v in enumerate(SEGMENTS)}, default=-1).cast(
        pl.Float64
    )


def build_quote_features(
    quotes: pl.DataFrame, bu_id: str, cutoff: date, win_holdout_days: int, regions: list[str]
) -> pl.DataFrame:
    """Quote features for one business unit, with ``split`` and ``label``.

    Only quotes closed by the cutoff have a label. Train: quoted and closed on or
    before ``cutoff - win_holdout_days``; holdout: quoted after that date and
    closed by the cutoff (out of time). Others are ``open``.
    """
    split_day = cutoff - timedelta(days=win_holdout_days)
    bu = quotes.filter((pl.col("bu_id") == bu_id) & (pl.col("quote_date") <= cutoff))
    known = bu.filter(pl.col("close_date") <= cutoff)
    feats = win_history(bu, known, "quote_date")
    return feats.with_columns(
        discount=pl.col("discount_offered").cast(pl.Float64),
        log_list_value=pl.col("list_value").log(),
        segment_code=segment_codes(feats["segment"]),
        region_code=region_codes(feats["region"], regions),
        label=(pl.col("outcome") == "won").cast(pl.Int64),
        split=pl.when((pl.col("quote_date") <= split_day) & (pl.col("close_date") <= split_day))
        .then(pl.lit("train"))
        .when((pl.col("quote_date") > split_day) & (pl.col("close_date") <= cutoff))
        .then(pl.lit("holdout"))
        .otherwise(pl.lit("open")),
    )


@dataclass
class WinModel:
    """P(win | quote features, discount): LightGBM (monotone in discount) + logistic baseline."""

    lgbm: lgb.LGBMClassifier
    logistic: Pipeline
    regions: list[str]
    features: list[str] = field(default_factory=lambda: list(WIN_FEATURES))

    def _X(self, frame: pl.DataFrame) -> np.ndarray:
        return frame.select(self.features).fill_null(float("nan")).to_numpy().astype(np.float64)

    def predict_proba(self, frame: pl.DataFrame, model: str = "lightgbm") -> np.ndarray:
        X = self._X(frame)
        m = self.lgbm if model == "lightgbm" else self.logistic
        return m.predict_proba(X)[:, 1]

    def at_discounts(self, frame: pl.DataFrame, discounts: np.ndarray) -> np.ndarray:
        """``(n, k)`` P(win) of each row at each of ``k`` discounts (the row's own discount replaced)."""
        X = self._X(frame)
        j = self.features.index("discount")
        out = np.empty((len(X), len(discounts)))
        for k, d in enumerate(discounts):
            Xk = X.copy()
            Xk[:, j] = d
            out[:, k] = self.lgbm.predict_proba(Xk)[:, 1]
        return out

    def at_row_discounts(self, frame: pl.DataFrame, grid: np.ndarray) -> np.ndarray:
        """``(n, k)`` P(win) where row ``i`` is evaluated at its own ``grid[i, :]``."""
        X = self._X(frame)
        n, k = grid.shape
        j = self.features.index("discount")
        rep = np.repeat(X, k, axis=0)
        rep[:, j] = grid.reshape(-1)
        return self.lgbm.predict_proba(rep)[:, 1].reshape(n, k)


def fit_win_model(train: pl.DataFrame, settings: ModelSettings, regions: list[str]) -> WinModel:
    X = train.select(WIN_FEATURES).fill_null(float("nan")).to_numpy().astype(np.float64)
    y = train["label"].to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError(
            "win-probability training quotes hold a single outcome: need both won and lost quotes"
        )
    params = lgbm_params(settings)
    # small, regularized trees: a few thousand quotes and a nearly additive true logit
    params.update(
        n_estimators=min(settings.n_estimators, 200),
        learning_rate=0.03,
        num_leaves=7,
        min_child_samples=60,
    )
    mono = [1 if f == "discount" else 0 for f in WIN_FEATURES]
    model = lgb.LGBMClassifier(objective="binary", monotone_constraints=mono, **params).fit(X, y)
    cat = [WIN_FEATURES.index("segment_code"), WIN_FEATURES.index("region_code")]
    num = [i for i in range(len(WIN_FEATURES)) if i not in cat]
    logistic = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("cat", OneHotEncoder(handle_unknown="ignore"), cat),
                        (
                            "num",
                            Pipeline([("imp", SimpleImputer()), ("sc", StandardScaler())]),
                            num,
                        ),
                    ]
                ),
            ),
            ("lr", LogisticRegression(max_iter=1000)),
        ]
    ).fit(np.nan_to_num(X, nan=-1.0), y)
    return WinModel(model, _NanSafeClf(logistic), regions)


class _NanSafeClf:
    def __init__(self, model: Pipeline):
        self.model = model

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(np.nan_to_num(X, nan=-1.0))


def win_metrics(
    model: WinModel, holdout: pl.DataFrame, truth: np.ndarray | None = None
) -> pl.DataFrame:
    """ROC-AUC, PR-AUC, F1 (at 0.5), Brier, Brier skill, calibration MAE per model (+ oracle)."""
    from sklearn.metrics import f1_score

    y = holdout["label"].to_numpy()
    scores = {
        "lightgbm": model.predict_proba(holdout),
        "logistic": model.predict_proba(holdout, "logistic"),
    }
    if truth is not None and len(truth) == len(y) and np.isfinite(truth).all():
        scores["oracle"] = truth
    rows = []
    for name, p in scores.items():
        rows.append(
            {
                "model": name,
                "n": len(y),
                "positives": int(y.sum()),
                "roc_auc": M.roc_auc(y, p),
                "pr_auc": M.pr_auc(y, p),
                "f1": float(f1_score(y, p >= 0.5)) if len(y) else float("nan"),
                "brier": M.brier(y, p),
                "brier_skill": M.brier_skill(y, p),
                "calibration_mae": M.calibration_mae(y, p),
            }
        )
    return pl.DataFrame(rows)
