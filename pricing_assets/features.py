"""Line features for the discount models (polars in, polars out).

For one business unit and cutoff ``C`` every line dated ``<= C`` gets:

* the target ``discount = 1 - sell_price / list_price``;
* quantity, ``log_qty = log(quantity + 1)``, log list price, the line's and its
  deal's list value and the deal's number of lines (all known when quoting);
* stable encodings of product family, customer tier, region and product
  (integer codes in sorted order of the values seen on *training* rows; values
  not seen there get ``-1``) and smoothed target encodings of customer and
  product, fitted on training rows only (training rows themselves get
  out-of-fold values so the model cannot read its own target);
* **customer context over the trailing 30 (and 180) days** — average discount,
  average deal size, average quantity, number of lines — using only the
  customer's lines dated *strictly before* the line's date. The original plan
  pooled a customer's lines within ±30 days into a pseudo-deal; the half of that
  window after the line looks into the future (and includes the line's own
  deal, i.e. its target), so the window here is one-sided and excludes the day
  itself. :func:`build_line_features` is truncation invariant: deleting every
  row after a line's date does not change that line's features.

``split`` says where a line goes for cutoff ``C``: ``holdout`` (the last
``holdout_days`` up to C), ``calibration`` (the ``calibration_days`` before),
``train`` (earlier).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from shared.categories import UNSEEN_WARN_SHARE  # noqa: F401 - the unknown_categories check warns above it
from shared.hashing import stable_bucket

CATEGORICAL = {
    "product_family": "family_code",
    "customer_tier": "tier_code",
    "region": "region_code",
    "product_id": "product_code",
}
TARGET_ENCODED = {"customer_id": "customer_te", "product_id": "product_te"}
CONTEXT_WINDOWS = (30, 180)
FEATURES = [
    "quantity",
    "log_qty",
    "log_list_price",
    "log_line_value",
    "log_deal_value",
    "deal_lines",
    *CATEGORICAL.values(),
    *TARGET_ENCODED.values(),
    *(
        f"ctx{w}_{name}"
        for w in CONTEXT_WINDOWS
        for name in ("avg_discount", "avg_deal_value", "avg_qty", "n_lines")
    ),
]
TE_SMOOTHING = 20.0
TE_FOLDS = 5
USER_PREFIX = "user_"
DERIVED_COLUMNS = frozenset(
    {"discount", "line_value", "deal_value", "deal_lines", "split", "bu_name", *FEATURES}
    - {"quantity"}  # a contract column used as it is
)
"""Columns pricing derives from the contract columns: an input column of one of these names
would be overwritten, so validation rejects it (rename or drop it)."""


def extra_feature_names(
    extra_numeric: Sequence[str] = (), extra_categorical: Sequence[str] = ()
) -> list[str]:
    """Model columns of declared extra user columns, namespaced so they never overwrite a
    user's column: ``user_<col>`` (numeric, as given) and ``user_<col>_code`` (categorical,
    codes fitted on training lines, unseen values ``-1``)."""
    return [f"{USER_PREFIX}{c}" for c in extra_numeric] + [
        f"{USER_PREFIX}{c}_code" for c in extra_categorical
    ]


def feature_list(
    extra_numeric: Sequence[str] = (), extra_categorical: Sequence[str] = ()
) -> list[str]:
    """:data:`FEATURES` plus the declared extra user features (:func:`extra_feature_names`)."""
    return [*FEATURES, *extra_feature_names(extra_numeric, extra_categorical)]


def split_returns(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The one returns rule of pricing: ``(sales, returns)`` of validated ``order_lines``.

    A return / credit line (``quantity < 0``) is not a pricing decision: it is kept in the
    ``order_lines`` table as the data has it, but excluded from every feature (customer
    context, deal value and size), from discount training and evaluation, and from the
    recommendations. The line it gives back keeps its own discount as observed: a return
    is never netted into the original line (its price was the decision, whatever came back
    later). Zero quantities and non-positive prices never get here (validation rejects them).
    """
    returned = pl.col("quantity") < 0
    return lines.filter(~returned), lines.filter(returned)


def return_line_count(lines: pl.DataFrame, bu_id: str, cutoff: date) -> int:
    """Return lines of ``bu_id`` dated ``<= cutoff`` that :func:`split_returns` leaves out."""
    mine = lines.filter((pl.col("bu_id") == bu_id) & (pl.col("order_date") <= cutoff))
    return split_returns(mine)[1].height


def with_target(lines: pl.DataFrame) -> pl.DataFrame:
    """Add ``discount``, ``line_value`` and the deal-level columns."""
    return lines.with_columns(
        discount=1.0 - pl.col("sell_price") / pl.col("list_price"),
        line_value=pl.col("list_price") * pl.col("quantity"),
    ).with_columns(
        deal_value=pl.col("line_value").sum().over("deal_id"),
        deal_lines=pl.len().over("deal_id").cast(pl.Float64),
    )


def split_dates(cutoff: date, holdout_days: int, calibration_days: int) -> tuple[date, date]:
    """``(train_end, calibration_end)``: train ``<= train_end < calibration <= calibration_end < holdout <= cutoff``."""
    cal_end = cutoff - timedelta(days=holdout_days)
    return cal_end - timedelta(days=calibration_days), cal_end


def assign_split(
    lines: pl.DataFrame, cutoff: date, holdout_days: int, calibration_days: int
) -> pl.DataFrame:
    train_end, cal_end = split_dates(cutoff, holdout_days, calibration_days)
    return lines.with_columns(
        split=pl.when(pl.col("order_date") > cal_end)
        .then(pl.lit("holdout"))
        .when(pl.col("order_date") > train_end)
        .then(pl.lit("calibration"))
        .otherwise(pl.lit("train"))
    )


def customer_context(
    lines: pl.DataFrame, windows: tuple[int, ...] = CONTEXT_WINDOWS
) -> pl.DataFrame:
    """Trailing-window context per ``(customer_id, order_date)``, strictly before the date.

    One pass: aggregate to one row per customer-day, then a left-closed rolling
    window (``[t - w days, t)``) per customer.
    """
    daily = (
        lines.group_by("customer_id", "order_date")
        .agg(
            s_disc=pl.col("discount").sum(),
            s_qty=pl.col("quantity").sum(),
            n=pl.len().cast(pl.Float64),
            s_deal_value=pl.col("deal_value").unique().sum(),
            n_deals=pl.col("deal_id").n_unique().cast(pl.Float64),
        )
        .sort("customer_id", "order_date")
    )
    out = daily.select("customer_id", "order_date")
    for w in windows:
        rolled = daily.rolling(
            index_column="order_date", period=f"{w}d", closed="left", group_by="customer_id"
        ).agg(
            pl.col("s_disc").sum().alias("s_disc"),
            pl.col("s_qty").sum().alias("s_qty"),
            pl.col("n").sum().alias("n"),
            pl.col("s_deal_value").sum().alias("s_dv"),
            pl.col("n_deals").sum().alias("nd"),
        )
        rolled = rolled.select(
            "customer_id",
            "order_date",
            pl.when(pl.col("n") > 0)
            .then(pl.col("s_disc") / pl.col("n"))
            .otherwise(None)
            .alias(f"ctx{w}_avg_discount"),
            pl.when(pl.col("nd") > 0)
            .then((pl.col("s_dv") / pl.col("nd")).log1p())
            .otherwise(None)
            .alias(f"ctx{w}_avg_deal_value"),
            pl.when(pl.col("n") > 0)
            .then(pl.col("s_qty") / pl.col("n"))
            .otherwise(None)
            .alias(f"ctx{w}_avg_qty"),
            pl.col("n").fill_null(0.0).alias(f"ctx{w}_n_lines"),
        )
        out = out.join(rolled, on=["customer_id", "order_date"], how="left")
    return out


def _fold_of(values: pl.Series, folds: int) -> np.ndarray:
    return stable_bucket(values, 17, folds)  # same folds on every polars version


@dataclass(frozen=True)
class LineEncoders:
    """The encodings one partition fitted on its training lines, kept with its models.

    ``categories``: source column → the values seen on training rows, sorted; a value's
    code is its index, unseen values get ``-1``. ``target``: source column → value (as
    text) → smoothed mean training discount ``(sum + TE_SMOOTHING * prior) / (n +
    TE_SMOOTHING)``; unseen values get ``prior`` (the mean training discount). A champion
    applies its own encoders to another partition's lines (:meth:`apply`), so it can be
    judged on a newer holdout and serve newer deals with the codes it was trained on.
    """

    categories: dict[str, list[Any]]
    target: dict[str, dict[str, float]]
    prior: float
    extra_categorical: tuple[str, ...] = ()  # declared user columns, coded like CATEGORICAL

    def codes(self, frame: pl.DataFrame, src: str) -> pl.Series:
        mapping = {v: i for i, v in enumerate(self.categories[src])}
        return frame[src].replace_strict(mapping, default=-1, return_dtype=pl.Int32)

    def target_values(self, frame: pl.DataFrame, src: str) -> np.ndarray:
        table = self.target[src]
        keys = frame[src].cast(pl.Utf8).to_numpy()
        return np.asarray([table.get(k, self.prior) for k in keys], dtype=np.float64)

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with every encoded feature (``CATEGORICAL`` and ``TARGET_ENCODED``
        destinations, Float64) recomputed from these encoders (no out-of-fold values:
        for lines the encoders were not fitted on)."""
        return frame.with_columns(
            *[
                self.codes(frame, src).cast(pl.Float64).alias(dst)
                for src, dst in CATEGORICAL.items()
            ],
            *[
                pl.Series(dst, self.target_values(frame, src))
                for src, dst in TARGET_ENCODED.items()
            ],
            *[
                self.codes(frame, src).cast(pl.Float64).alias(dst)
                for src, dst in zip(
                    self.extra_categorical,
                    extra_feature_names((), self.extra_categorical),
                    strict=True,
                )
            ],
        )


def _fold_of(values: pl.Series, folds: int) -> np.ndarray:
    return stable_bucket(values, 17, folds)  # same folds on every polars version


def _smoothed_means(
    keys: np.ndarray, y: np.ndarray, n_ids: int, prior: float, smoothing: float
) -> np.ndarray:
    s = np.bincount(keys, weights=y, minlength=n_ids)
    n = np.bincount(keys, minlength=n_ids)
    return (s + smoothing * prior) / (n + smoothing)


def fit_encoders(
    frame: pl.DataFrame, train_mask: np.ndarray, extra_categorical: Sequence[str] = ()
) -> LineEncoders:
    """:class:`LineEncoders` from the rows of ``frame`` (with ``discount``) where
    ``train_mask`` holds; ``extra_categorical``: declared user columns coded too."""
    train = frame.filter(pl.Series(train_mask))
    y = train["discount"].to_numpy()
    prior = float(y.mean()) if y.size else float(np.nanmean(frame["discount"].to_numpy()))
    categories = {
        src: sorted(set(train[src].drop_nulls().to_list()))
        if src in extra_categorical
        else sorted(set(train[src].to_list()))
        for src in [*CATEGORICAL, *extra_categorical]
    }
    target: dict[str, dict[str, float]] = {}
    for src in TARGET_ENCODED:
        values, ids = np.unique(train[src].cast(pl.Utf8).to_numpy(), return_inverse=True)
        means = _smoothed_means(ids.astype(np.int64), y, values.size, prior, TE_SMOOTHING)
        target[src] = dict(zip(values.tolist(), means.tolist(), strict=True))
    return LineEncoders(categories, target, prior, tuple(extra_categorical))


def target_encode(
    frame: pl.DataFrame, column: str, train_mask: np.ndarray, encoders: LineEncoders
) -> np.ndarray:
    """Smoothed mean discount per value of ``column`` fitted on training rows only.

    Non-training rows get the full-training-set encoding (``encoders``); training rows
    get an out-of-fold encoding (folds by row hash) so their own target is not used.
    """
    y = frame["discount"].to_numpy()
    out = encoders.target_values(frame, column)
    _, ids = np.unique(frame[column].cast(pl.Utf8).to_numpy(), return_inverse=True)
    ids = ids.astype(np.int64)
    n_ids = int(ids.max()) + 1 if ids.size else 0
    folds = _fold_of(frame["order_line_id"], TE_FOLDS)
    for f in range(TE_FOLDS):
        in_fold = train_mask & (folds == f)
        if in_fold.any():
            fit = train_mask & (folds != f)
            means = _smoothed_means(ids[fit], y[fit], n_ids, encoders.prior, TE_SMOOTHING)
            out[in_fold] = means[ids[in_fold]]
    return out


def build_line_features(
    lines: pl.DataFrame,
    bu_id: str,
    cutoff: date,
    holdout_days: int = 30,
    calibration_days: int = 60,
    extra_numeric: Sequence[str] = (),
    extra_categorical: Sequence[str] = (),
) -> pl.DataFrame:
    """Features of every sale line of ``bu_id`` dated ``<= cutoff`` (see the module
    docstring; return lines are left out by :func:`split_returns`).

    Args:
        lines: validated ``order_lines`` (any business units).
        bu_id: the business unit of this partition.
        cutoff: the partition's cutoff; later lines are ignored.
        extra_numeric, extra_categorical: declared user columns (config ``features``),
            added as :func:`extra_feature_names` (the user's columns are kept as they are).

    Returns:
        The input columns plus ``discount``, ``split`` and :func:`feature_list`,
        sorted by ``order_date, order_line_id``.
    """
    bu, _ = split_returns(
        lines.filter((pl.col("bu_id") == bu_id) & (pl.col("order_date") <= cutoff))
    )
    if bu.height == 0:
        raise ValueError(
            f"no sale lines for bu_id {bu_id!r} on or before {cutoff}: check the source "
            "and the configured cutoffs"
        )
    bu = with_target(bu).sort("order_date", "order_line_id")
    bu = assign_split(bu, cutoff, holdout_days, calibration_days)
    train_mask = (bu["split"] == "train").to_numpy()
    if not train_mask.any():
        raise ValueError(
            f"bu_id {bu_id!r}, cutoff {cutoff}: no training lines before the calibration and "
            f"holdout windows ({calibration_days} + {holdout_days} days); choose a later cutoff"
        )
    ctx = customer_context(bu)
    bu = bu.join(ctx, on=["customer_id", "order_date"], how="left", maintain_order="left")
    encoders = fit_encoders(bu, train_mask, extra_categorical)
    cols = {dst: encoders.codes(bu, src) for src, dst in CATEGORICAL.items()}
    user = extra_feature_names(extra_numeric, extra_categorical)
    for src, dst in zip([*extra_numeric, *extra_categorical], user, strict=True):
        cols[dst] = bu[src] if src in extra_numeric else encoders.codes(bu, src)
    for src, dst in TARGET_ENCODED.items():
        cols[dst] = pl.Series(dst, target_encode(bu, src, train_mask, encoders))
    return bu.with_columns(
        **cols,
        log_qty=pl.col("quantity").log1p(),
        log_list_price=pl.col("list_price").log(),
        log_line_value=pl.col("line_value").log1p(),
        log_deal_value=pl.col("deal_value").log1p(),
    ).with_columns(pl.col(c).cast(pl.Float64) for c in [*FEATURES, *user])


def matrix(frame: pl.DataFrame, features: list[str] | None = None) -> np.ndarray:
    """The model matrix (float64, NaN for missing context)."""
    return frame.select(features or FEATURES).fill_null(float("nan")).to_numpy().astype(np.float64)


def truncation_differences(
    lines: pl.DataFrame,
    bu_id: str,
    cutoff: date,
    holdout_days: int = 30,
    calibration_days: int = 60,
    probe: date | None = None,
) -> list[str]:
    """Leakage probe: features of lines dated ``<= probe`` built from all the data
    must equal those built after deleting every row dated after ``probe``.

    ``probe`` defaults to the middle of the holdout window. Returns the names of
    the feature columns that differ (empty when invariant).
    """
    probe = probe or cutoff - timedelta(days=holdout_days // 2)
    full = build_line_features(lines, bu_id, cutoff, holdout_days, calibration_days)
    cut = build_line_features(
        lines.filter(pl.col("order_date") <= probe), bu_id, cutoff, holdout_days, calibration_days
    )
    left = full.filter(pl.col("order_date") <= probe).sort("order_line_id")
    right = cut.sort("order_line_id")
    if left.height != right.height:
        return ["<row count>"]
    return [c for c in [*FEATURES, "split"] if not left[c].equals(right[c], null_equal=True)]


def unseen_categories(frame: pl.DataFrame) -> pl.DataFrame:
    """Per encoded category column: holdout and calibration lines whose value was not seen on
    training lines (code ``-1``; the models see them as one "unknown" value, and the
    target encodings fall back to the prior). Out: ``column, split, lines, unseen, share,
    examples`` (up to 5 unseen values)."""
    rows = []
    for src, dst in CATEGORICAL.items():
        for split in ("calibration", "holdout"):
            part = frame.filter(pl.col("split") == split)
            unseen = part.filter(pl.col(dst) == -1)
            rows.append(
                {
                    "column": src,
                    "split": split,
                    "lines": part.height,
                    "unseen": unseen.height,
                    "share": unseen.height / part.height if part.height else 0.0,
                    "examples": ", ".join(
                        str(v) for v in unseen[src].unique(maintain_order=True).head(5).to_list()
                    ),
                }
            )
    return pl.DataFrame(rows)


def split_row_counts(frame: pl.DataFrame) -> dict[str, int]:
    """``rows`` and ``<split>_rows`` of a ``line_features`` frame."""
    counts = dict(frame.group_by("split").len().iter_rows())
    return {"rows": frame.height, **{f"{k}_rows": int(v) for k, v in counts.items()}}
