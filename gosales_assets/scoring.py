"""Score every customer of one division with a registered model version.

Used by the ``icp_scores`` asset (champion, at the data's latest as-of date; the
calibrated rule baseline, labelled as such, while no model has passed the gates) and by
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
    served_by = {
        "run_id": champ.run_id,
        "model_version": champ.version,
        "cutoff_date": to_date(meta["cutoff"]),
        "prediction_window_months": int(meta["window_months"]),
        "calibration_method": meta["calibration_method"],
    }
    return _score_rows(feats, p, customers, transactions, division, as_of, served_by)


def champion_unseen_categories(
    tracker: MLflowTracker, champ: ChampionInfo, customers: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """:func:`gosales_assets.features.unseen_categories` of today's customers against the
    features the champion was trained with (its ``model_meta.json``)."""
    meta = tracker.load_dict(champ.run_id, MODEL_META)
    return gs_features.unseen_categories(customers, as_of, list(meta.get("features", [])))


RULE_BASELINE = "rule-baseline"
"""``model_version`` of rows served by :func:`score_rule_baseline` (no model champion)."""


def score_rule_baseline(
    division: str,
    as_of: date,
    window_months: int,
    customers: pl.DataFrame,
    transactions: pl.DataFrame,
    install_base: pl.DataFrame,
    divisions: Sequence[str],
) -> pl.DataFrame:
    """``ICP_SCHEMA`` rows from the recency/frequency rule, calibrated: what serves a division
    no model has passed the gates for yet, labelled ``model_version = "rule-baseline"``.

    Calibration (Platt, one feature): the rule's score at ``as_of - window`` against who
    bought in the window that has since closed, ``(as_of - window, as_of]``; the fitted
    map turns today's rule scores into probabilities of buying within ``window_months``.
    Raises ValueError when that window has no buyer (nothing to calibrate on).
    """
    from sklearn.linear_model import LogisticRegression

    from gosales_assets import labels as gs_labels
    from shared.partitions import add_months

    past = add_months(as_of, -window_months)
    then = gs_features.build_features(
        transactions, customers, install_base, past, divisions, target_division=division
    )
    y = (
        then.select("customer_id")
        .join(
            gs_labels.build_labels(transactions, customers, division, past, window_months),
            on="customer_id",
            how="left",
        )["label"]
        .fill_null(0)
    )
    if y.sum() == 0 or y.sum() == y.len():
        raise ValueError(
            f"gosales.icp_scores {division}: no model champion and the last closed window "
            f"({past}, {as_of}] has {int(y.sum())} buyers of {y.len()}: no baseline to serve"
        )
    x_then = training.signed_log1p(training.rule_score(then)).reshape(-1, 1)
    platt = LogisticRegression(C=1e4).fit(x_then, y.to_numpy())
    now = gs_features.build_features(
        transactions, customers, install_base, as_of, divisions, target_division=division
    )
    p = platt.predict_proba(training.signed_log1p(training.rule_score(now)).reshape(-1, 1))[:, 1]
    served_by = {
        "run_id": "",
        "model_version": RULE_BASELINE,
        "cutoff_date": past,
        "prediction_window_months": window_months,
        "calibration_method": "platt-on-rule",
    }
    return _score_rows(now, p, customers, transactions, division, as_of, served_by)


def _score_rows(
    feats: pl.DataFrame,
    p,
    customers: pl.DataFrame,
    transactions: pl.DataFrame,
    division: str,
    as_of: date,
    served_by: dict,
) -> pl.DataFrame:
    """``ICP_SCHEMA`` rows for the scores ``p`` of ``feats``' customers, ranked (1 = most
    likely), with the columns saying what served them (``served_by``)."""
    names = customers.select("customer_id", "customer_name")
    return (
        feats.select("customer_id")
        .with_columns(icp_score=pl.Series(p))
        .join(names, on="customer_id", how="left")
        .with_columns(
            division_name=pl.lit(
                gs_schemas.division_display_names(transactions).get(division, division)
            ),
            as_of_date=pl.lit(as_of),
            run_id=pl.lit(served_by["run_id"]),
            model_version=pl.lit(served_by["model_version"]),
            cutoff_date=pl.lit(served_by["cutoff_date"]),
            prediction_window_months=pl.lit(served_by["prediction_window_months"], pl.Int32),
            calibration_method=pl.lit(served_by["calibration_method"]),
        )
        .with_columns(rank=pl.col("icp_score").rank("ordinal", descending=True).cast(pl.Int32))
        .select(list(ICP_SCHEMA))
        .sort("customer_id")
    )
