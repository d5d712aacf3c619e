"""The one servable pricing artifact of a business unit × cutoff (no Dagster here).

A :class:`PricingBundle` holds everything a recommendation needs: the encoders fitted on
the partition's training lines, the point models, the conformal range model, the
win-probability model and the within-deal correlation. It is logged to MLflow as one
model and registered as one version of ``pricing_recs_<bu_id>``; the ``champion`` alias
points at it. Because the encoders travel with the models, a champion can score lines of
any later partition with the codes it was trained on: that is how it is judged on a
newer candidate's holdout (:func:`champion_point_comparison`) and how it serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from pricing_assets import models as pm
from pricing_assets.features import LineEncoders
from shared.metrics import mae, paired_loss_difference, rmse


@dataclass
class PricingBundle:
    """Encoders + point, range and win models of one partition (see the module docstring)."""

    bu_id: str
    cutoff: date
    encoders: LineEncoders
    point: pm.PointModels
    range: pm.RangeModel
    win: pm.WinModel
    rho: float

    def prepare(self, lines: pl.DataFrame) -> pl.DataFrame:
        """``line_features`` rows (any partition) re-encoded with this bundle's encoders."""
        return self.encoders.apply(lines)

    def predict_discount(self, lines: pl.DataFrame) -> np.ndarray:
        """Point discount per line (fraction of list price) by the LightGBM point model."""
        return self.point.predict(self.prepare(lines))

    def predict_range(self, lines: pl.DataFrame) -> pl.DataFrame:
        """``lower/median/upper_discount, calibration_group`` per line (conformal range)."""
        return self.range.predict(self.prepare(lines))


def champion_point_comparison(
    holdout: pl.DataFrame, candidate: np.ndarray, champion: PricingBundle
) -> dict[str, Any]:
    """The serving champion's point model on a candidate's own holdout lines.

    In: holdout ``line_features`` rows (with ``discount`` and ``deal_id``), the
    candidate's point predictions on them. Out: ``champion`` (its ``mae``, ``mse`` there)
    and ``mse_diff_se``, the cluster-robust (by deal) standard error of the paired
    difference of squared errors (the loss the point model is trained for) — the noise
    of this holdout for the beat-the-champion gate.
    """
    y = holdout["discount"].to_numpy()
    champ = champion.predict_discount(holdout)
    _, se = paired_loss_difference(
        (candidate - y) ** 2, (champ - y) ** 2, holdout["deal_id"].to_numpy()
    )
    return {
        "champion": {"mae": mae(y, champ), "mse": rmse(y, champ) ** 2},
        "mse_diff_se": se,
    }
