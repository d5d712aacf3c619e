"""pandera polars models for the gosales tables salesml writes (inputs live in ``schemas``)."""

from __future__ import annotations

from datetime import date

import pandera.polars as pa
import polars as pl

# Customer ids in the outputs: as in the inputs, integer or string (leading zeros kept).
ID_DTYPES = (pl.Int64, pl.Int32, pl.UInt32, pl.UInt64, pl.String)


def _customer_id_type(data) -> bool:
    return data.lazyframe.collect_schema().get("customer_id") in ID_DTYPES


class HoldoutMetricsSchema(pa.DataFrameModel):
    """One row per model evaluated on the out-of-time holdout of one partition."""

    division: str
    cutoff_date: date
    holdout_cutoff: date
    model: str = pa.Field(isin=["candidate", "baseline", "rule", "champion", "oracle"])
    n: float = pa.Field(gt=0)
    positives: float = pa.Field(ge=0)
    auc: float = pa.Field(nullable=True)
    pr_auc: float = pa.Field(nullable=True)
    brier: float = pa.Field(ge=0, le=1, nullable=True)  # null for the rule (not a probability)
    calibration_mae: float = pa.Field(ge=0, le=1, nullable=True)

    class Config:
        strict = False
        unique = ["division", "cutoff_date", "model"]


class HoldoutTrendsSchema(pa.DataFrameModel):
    """One row per division and cutoff: the candidate's holdout metrics across cutoffs."""

    division: str
    cutoff_date: date
    positives: float = pa.Field(ge=0)
    auc: float = pa.Field(nullable=True)
    rule_auc: float = pa.Field(nullable=True)
    oracle_auc: float = pa.Field(nullable=True)
    oracle_gap: float = pa.Field(nullable=True)

    class Config:
        strict = False
        unique = ["division", "cutoff_date"]


class PromotionSchema(pa.DataFrameModel):
    """The registry decision for one candidate."""

    division: str
    cutoff_date: date
    model_name: str = pa.Field(str_matches=r"^gosales_[a-z0-9_-]+$")
    promoted: bool
    reason: str

    class Config:
        strict = False


class IcpScoresSchema(pa.DataFrameModel):
    """Scores of every customer for one division at the latest as-of date."""

    run_id: str
    model_version: str
    division_name: str
    cutoff_date: date
    as_of_date: date
    prediction_window_months: pl.Int32 = pa.Field(gt=0)
    customer_name: str = pa.Field(nullable=True)
    icp_score: float = pa.Field(ge=0, le=1)
    calibration_method: str = pa.Field(isin=["sigmoid", "isotonic", "platt-on-rule"])

    class Config:
        strict = False
        unique = ["customer_id"]

    @pa.dataframe_check(error="customer_id must be an integer or a string (Int64 or Utf8)")
    @classmethod
    def customer_id_type(cls, data) -> bool:
        return _customer_id_type(data)


class WhitespaceSchema(pa.DataFrameModel):
    """The ranked whitespace list: one row per (customer, division) not bought in the lookback."""

    as_of_date: date
    rank: pl.Int32 = pa.Field(ge=1, unique=True)
    division: str
    score: float = pa.Field(ge=0, le=1)
    p_icp: float = pa.Field(ge=0, le=1)
    p_icp_pct: float = pa.Field(gt=0, lt=1)
    affinity_norm: float = pa.Field(ge=0, le=1, nullable=True)
    value_norm: float = pa.Field(gt=0, lt=1, nullable=True)
    division_rank: pl.Int32 = pa.Field(ge=1)
    rep_rank: pl.Int32 = pa.Field(ge=1)
    in_capacity: bool
    nba_reason: str = pa.Field(str_length={"min_value": 1, "max_value": 150})

    class Config:
        strict = False
        unique = ["customer_id", "division"]

    @pa.dataframe_check(error="customer_id must be an integer or a string (Int64 or Utf8)")
    @classmethod
    def customer_id_type(cls, data) -> bool:
        return _customer_id_type(data)


class PrequentialSchema(pa.DataFrameModel):
    """One row per horizon of the frozen model of one partition (``gosales.prequential``);
    metrics are null on censored horizons."""

    division: str
    cutoff_date: date
    model: str
    horizon: pl.Int32 = pa.Field(ge=1)
    score_cutoff: date
    status: str = pa.Field(isin=["measured", "censored", "no customers"])
    n: float = pa.Field(gt=0, nullable=True)
    auc: float = pa.Field(ge=0, le=1, nullable=True)
    brier: float = pa.Field(ge=0, le=1, nullable=True)

    class Config:
        strict = False
        unique = ["division", "cutoff_date", "horizon"]


class ForwardValidationSchema(pa.DataFrameModel):
    """Capacity scenarios with bootstrap CIs of one partition (``gosales.forward_validation``):
    one row per ordering x scenario x metric."""

    division: str
    cutoff_date: date
    ordering: str = pa.Field(isin=["p", "expected_gp"])
    scenario: str
    metric: str
    point: float = pa.Field(nullable=True)
    ci_low: float = pa.Field(nullable=True)
    ci_high: float = pa.Field(nullable=True)
    ci_width: float = pa.Field(ge=0, nullable=True)

    class Config:
        strict = False
        unique = ["division", "cutoff_date", "ordering", "scenario", "metric"]
