"""Per-line justification: the top drivers of the point prediction.

Uses the point candidate's additive feature contributions
(:meth:`pricing_assets.models.PointModels.contributions`: LightGBM's own TreeSHAP, or the
ridge's coefficient terms): for each line, ``prediction = base_value + Σ contribution_f``. The
``top_k`` features with the largest absolute contribution are reported with
their signed contribution (in discount points) and the feature's value.

:func:`model_card` is the content of the card that justifies a trained partition as a whole.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from pricing_assets.features import matrix
from pricing_assets.models import PointModels


def top_drivers(point: PointModels, frame: pl.DataFrame, top_k: int = 3) -> pl.DataFrame:
    """``order_line_id, predicted_discount, base_value, driver_<i>, contribution_<i>, value_<i>``.

    Args:
        point: the fitted point models (their chosen learner is explained).
        frame: lines with ``order_line_id`` and the model's features.
    """
    features = point.features
    X = matrix(frame, features)
    contrib = point.contributions(frame)  # (n, n_features + 1); last column = base
    base, parts = contrib[:, -1], contrib[:, :-1]
    order = np.argsort(-np.abs(parts), axis=1)[:, :top_k]
    rows = np.arange(len(X))[:, None]
    names = np.asarray(features)[order]
    cols: dict[str, object] = {
        "order_line_id": frame["order_line_id"],
        "predicted_discount": parts.sum(axis=1) + base,
        "base_value": base,
    }
    for i in range(min(top_k, len(features))):
        cols[f"driver_{i + 1}"] = names[:, i]
        cols[f"contribution_{i + 1}"] = parts[rows[:, 0], order[:, i]]
        cols[f"value_{i + 1}"] = X[rows[:, 0], order[:, i]]
    out = pl.DataFrame(cols)
    sentence = pl.concat_str(
        [
            pl.format(
                "{} ({}{} pts)",
                pl.col(f"driver_{i + 1}"),
                pl.when(pl.col(f"contribution_{i + 1}") >= 0)
                .then(pl.lit("+"))
                .otherwise(pl.lit("")),
                (pl.col(f"contribution_{i + 1}") * 100).round(1),
            )
            for i in range(min(top_k, len(features)))
        ],
        separator=", ",
    )
    return out.with_columns(explanation=sentence)


def driver_importance(drivers: pl.DataFrame) -> pl.DataFrame:
    """How often each feature is the top driver, and its mean absolute contribution there."""
    return (
        drivers.group_by(feature=pl.col("driver_1"))
        .agg(lines=pl.len(), mean_abs_contribution=pl.col("contribution_1").abs().mean())
        .sort("lines", descending=True)
    )


def justify_holdout(model, line_features: pl.DataFrame, bu: str, cutoff) -> pl.DataFrame:
    """Top drivers of the point model ``model`` (a ``PointModels``) on the holdout lines,
    stamped with the partition's ``bu_id`` and ``cutoff_date``."""
    hold = line_features.filter(pl.col("split") == "holdout")
    return top_drivers(model, hold).with_columns(bu_id=pl.lit(bu), cutoff_date=pl.lit(cutoff))


def model_card(
    metrics: pl.DataFrame,
    name: str,
    bu: str,
    cutoff: date,
    gates_markdown: str,
    link: str,
    features: list[str] | None = None,
    target: float = 0.90,
) -> dict:
    """Content of the model card of one trained partition from its ``model_metrics``;
    ``features``: the model columns (default :data:`FEATURES`, without declared extras);
    ``target``: the range's coverage target (the plot's reference line)."""
    from pricing_assets.features import FEATURES

    return {
        "title": f"{name} — cutoff {cutoff}",
        "summary": "Discount point model, conformal 90% range and win probability for one business unit.",
        "data": {
            "bu_id": bu,
            "cutoff": cutoff.isoformat(),
            "holdout_lines": int(
                metrics.filter((pl.col("component") == "range") & (pl.col("metric") == "n"))[
                    "value"
                ].max()
                or 0
            ),
        },
        "metrics": {
            r["metric"]: {r["learner"]: r["value"]}
            for r in metrics.filter(pl.col("component") != "drift").to_dicts()
        },
        "gates_markdown": gates_markdown,
        "plots": coverage_plots(metrics, target),
        "features": list(features or FEATURES),
        "links": {"mlflow": link},
    }


def coverage_plots(metrics: pl.DataFrame, target: float) -> dict[str, bytes]:
    """The range's coverage per product family (``range_family`` rows of ``model_metrics``)
    with the 99% binomial acceptance interval of its size; empty when none was measured."""
    from shared.metrics import binomial_acceptance
    from shared.plots import coverage_png

    fam = metrics.filter(pl.col("component") == "range_family").pivot(
        on="metric", index="learner", values="value"
    )
    if fam.height == 0:
        return {}
    bounds = [binomial_acceptance(target, int(n), 0.99) for n in fam["n"]]
    frame = fam.select(group="learner", coverage="coverage").with_columns(
        accept_lo=pl.Series([b[0] for b in bounds]), accept_hi=pl.Series([b[1] for b in bounds])
    )
    return {"Range coverage by product family": coverage_png(frame.sort("group"), target)}
