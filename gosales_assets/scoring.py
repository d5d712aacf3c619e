"""Score every customer of one division with a registered model version.

Used by the ``icp_scores`` asset (champion, at the data's latest as-of date) and by
``bench/eval_whitespace.py`` (champion, at an earlier month end whose truth is known).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from gosales_assets import features as gs_features
from gosales_assets import schemas as gs_schemas
from gosales_assets import training
from shared.lifecycle import MODEL_META
from shared.partitions import to_date
from shared.tracking import ChampionInfo, MLflowTracker

ICP_SCHEMA = {
    "run_id": pl.Utf8,
    "model_version": pl.Utf8,
    "division_name": pl.Utf8,
    "cutoff_date": pl.Date,
    "as_of_date": pl.Date,
    "prediction_window_months": pl.Int32,
    "customer_id": pl.Int64,  # or the customers' string type: see icp_schema
    "customer_name": pl.Utf8,
    "icp_score": pl.Float64,
    "calibration_method": pl.Utf8,
    "rank": pl.Int32,
}


def icp_schema(customers: pl.DataFrame) -> dict[str, pl.DataType]:
    """``ICP_SCHEMA`` with ``customer_id`` of the customers' id type (integer or string:
    string ids keep their leading zeros), e.g. for the empty frame of a division
    without a champion, so every division's rows concatenate."""
    dtype = customers.schema.get("customer_id", pl.Int64)
    return {**ICP_SCHEMA, "customer_id": dtype}


REQUIRED_META = ("features", "cutoff", "window_months", "calibration_method")


def score_division(
    tracker: MLflowTracker,
    champ: ChampionInfo,
    division: str,
    as_of: date,
    customers: pl.DataFrame,
    transactions: pl.DataFrame,
    install_base: pl.DataFrame,
    divisions: Sequence[str],
    missing_features: training.MissingFeatures = "error",
) -> pl.DataFrame:
    """``ICP_SCHEMA`` rows: every customer's calibrated probability of buying into
    ``division`` within the model's window after ``as_of`` (features strictly as of
    ``as_of``; later rows in the inputs are ignored), ``rank`` 1 = most likely.

    Raises ValueError naming the model when its ``model_meta.json`` lacks a field, and
    KeyError naming the model's features that are no longer built (unless
    ``missing_features="zero"``).
    """
    meta = tracker.load_dict(champ.run_id, MODEL_META)
    for required in REQUIRED_META:
        if required not in meta:
            raise ValueError(
                f"{champ.name} v{champ.version}: model_meta.json lacks '{required}'; re-train the division"
            )
    feats = gs_features.build_features(
        transactions, customers, install_base, as_of, divisions, target_division=division
    )
    model = tracker.load_model(champ.model_uri)
    p = model.predict_proba(training.matrix(feats, meta["features"], missing_features))[:, 1]
    names = customers.select("customer_id", "customer_name")
    return (
        feats.select("customer_id")
        .with_columns(icp_score=pl.Series(p))
        .join(names, on="customer_id", how="left")
        .with_columns(
            run_id=pl.lit(champ.run_id),
            model_version=pl.lit(champ.version),
            division_name=pl.lit(
                gs_schemas.division_display_names(transactions).get(division, division)
            ),
            cutoff_date=pl.lit(to_date(meta["cutoff"])),
            as_of_date=pl.lit(as_of),
            prediction_window_months=pl.lit(int(meta["window_months"]), pl.Int32),
            calibration_method=pl.lit(meta["calibration_method"]),
        )
        .with_columns(rank=pl.col("icp_score").rank("ordinal", descending=True).cast(pl.Int32))
        .select(list(ICP_SCHEMA))
        .sort("customer_id")
    )
