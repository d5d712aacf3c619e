"""One business unit × cutoff end to end, as pure functions the assets wrap.

:func:`fit_partition` trains the point, range and win models of a partition
and evaluates them out of time (and against the world's ground truth when
present); :func:`promotion_gates` turns the metrics into gates;
:func:`pricing_assets.serving.recommend_partition` then produces the line and deal
recommendations by the serving bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from pricing_assets import models as pm
from pricing_assets import recommend as rec
from pricing_assets import win as pwin
from pricing_assets.config import BUConfig
from pricing_assets.features import LineEncoders, feature_list, fit_encoders
from pricing_assets.serving import PricingBundle, champion_point_comparison
from shared import metrics as M
from shared.drift import psi_frame
from shared.gates import (
    Gate,
    GateReport,
    champion_gate,
    coverage_tolerance,
    gate,
    paired_gate,
    within_gate,
)

DRIFT_FEATURES = [
    "log_qty",
    "log_list_price",
    "log_deal_value",
    "customer_te",
    "ctx30_avg_discount",
]
METRIC_SCHEMA = {
    "bu_id": pl.Utf8,
    "cutoff_date": pl.Date,
    "component": pl.Utf8,
    "model": pl.Utf8,  # the role, as in every location: candidate / baseline / rule / champion / oracle
    "learner": pl.Utf8,  # what the row is about: the learner, or the feature / family measured
    "metric": pl.Utf8,
    "value": pl.Float64,
}
ROLES = {
    "lightgbm": "candidate",
    "cqr_lightgbm": "candidate",
    "ridge": "baseline",  # unless chosen as the point candidate (fit_partition)
    "random_forest": "baseline",
    "logistic": "baseline",
    "segment_median": "rule",
    "champion": "champion",
    "oracle": "oracle",
}
"""Role of each learner in ``model_metrics.model``; drift and per-family rows measure the
candidate (their ``learner`` names the feature or family)."""


def metric_value(metrics: pl.DataFrame, component: str, name: str, metric: str) -> float:
    """``value`` of one row of a long metrics frame, the row found by ``component``,
    ``metric`` and ``name`` as its ``learner`` (``"lightgbm"``, a family) or, failing
    that, its role ``model`` (``"oracle"``); NaN when there is no such row."""
    rows = metrics.filter((pl.col("component") == component) & (pl.col("metric") == metric))
    if "learner" in rows.columns:
        by_learner = rows.filter(pl.col("learner") == name)
        rows = by_learner if by_learner.height else rows.filter(pl.col("model") == name)
    else:
        rows = rows.filter(pl.col("model") == name)
    return float(rows["value"][0]) if rows.height else float("nan")


@dataclass
class PartitionResult:
    """Everything trained and measured for one ``bu_id × cutoff``."""

    bu_id: str
    cutoff: date
    point: pm.PointModels
    range: pm.RangeModel
    win: pwin.WinModel
    rho: float
    regions: list[str]
    metrics: pl.DataFrame  # long: component, model (role), learner, metric, value
    coverage: pl.DataFrame  # per family, with the binomial acceptance interval
    holdout: pl.DataFrame  # holdout lines with model ranges (and truth when known)
    drift: pl.DataFrame
    encoders: LineEncoders

    def bundle(self) -> PricingBundle:
        """The partition's one servable artifact (encoders and every model)."""
        return PricingBundle(
            self.bu_id, self.cutoff, self.encoders, self.point, self.range, self.win, self.rho
        )

    def metric(self, component: str, model: str, metric: str) -> float:
        """:func:`metric_value` of this partition's metrics."""
        return metric_value(self.metrics, component, model, metric)


def _rows(
    bu: str, cutoff: date, component: str, learner: str, values: dict, role: str | None = None
) -> list[dict]:
    """Long metric rows of one learner (or feature / family: those measure the candidate);
    ``role`` overrides :data:`ROLES` (the point learner chosen on validation is the candidate)."""
    return [
        {
            "bu_id": bu,
            "cutoff_date": cutoff,
            "component": component,
            "model": role or ROLES.get(learner, "candidate"),
            "learner": learner,
            "metric": k,
            "value": float(v),
        }
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]


def fit_partition(
    features: pl.DataFrame,
    quotes: pl.DataFrame,
    cfg: BUConfig,
    cutoff: date,
    line_truth: pl.DataFrame | None = None,
    quote_truth: pl.DataFrame | None = None,
    champion: PricingBundle | None = None,
) -> PartitionResult:
    """Train and evaluate every model of one partition.

    Args:
        features: :func:`pricing_assets.features.build_line_features` output.
        quotes: validated quotes (any business unit; filtered here).
        cfg: the business unit's configuration.
        line_truth, quote_truth: the synthetic world's ground truth (None or
            empty for real data: truth metrics are then skipped).
        champion: the serving champion when it was trained at an earlier cutoff; its
            point model is scored on this holdout (rows ``point / champion / mae`` and
            ``point / lightgbm / mse_diff_se``) for the beat-the-champion gate.
    """
    bu = cfg.bu_id
    train, cal, hold = (
        features.filter(pl.col("split") == s) for s in ("train", "calibration", "holdout")
    )
    if hold.height == 0 or cal.height == 0:
        raise ValueError(
            f"bu_id {bu!r}, cutoff {cutoff}: {cal.height} calibration and {hold.height} holdout "
            "lines; the cutoff must leave data in both windows"
        )
    s = cfg.model
    rows: list[dict] = []
    # point
    model_columns = feature_list(cfg.features.extra_numeric, cfg.features.extra_categorical)
    point = pm.fit_point_models(train, s, model_columns, validation=cal)
    for r in pm.point_metrics(point, hold).to_dicts():
        values = {k: v for k, v in r.items() if v is not None}
        # the learner chosen on validation is the candidate, the other point learner a baseline
        role = (
            ("candidate" if r["model"] == point.learner else "baseline")
            if r["model"] in pm.POINT_LEARNERS
            else None
        )
        rows += _rows(bu, cutoff, "point", r["model"], values, role)
    if champion is not None:
        vs = champion_point_comparison(hold, point.predict(hold), champion)
        rows += _rows(bu, cutoff, "point", "champion", {"n": hold.height, **vs["champion"]})
        rows += _rows(
            bu, cutoff, "point", point.learner, {"mse_diff_se": vs["mse_diff_se"]}, "candidate"
        )
    # range
    rng_model = pm.fit_range_model(
        train, cal, s, cfg.coverage.target, cfg.coverage.mondrian_min_rows, model_columns
    )
    ranges = rng_model.predict(hold)
    hold_r = pl.concat([hold, ranges], how="horizontal")
    coverage = pm.coverage_table(hold_r, target=cfg.coverage.target)
    covered = (
        (hold_r["discount"] >= hold_r["lower_discount"])
        & (hold_r["discount"] <= hold_r["upper_discount"])
    ).to_numpy()
    deff = design_effect(hold_r["deal_id"].to_numpy(), covered)
    n_eff = hold.height / deff
    lo_tol, hi_tol = coverage_tolerance(
        int(n_eff), cfg.coverage.target, cfg.coverage.base_tolerance
    )
    raw = rng_model.raw_quantiles(hold)
    y = hold["discount"].to_numpy()
    rows += _rows(
        bu,
        cutoff,
        "range",
        "cqr_lightgbm",
        {
            "n": hold.height,
            "n_effective": n_eff,
            "design_effect": deff,
            "coverage": float(coverage.filter(pl.col("group") == "ALL")["coverage"][0]),
            "coverage_raw_quantiles": M.interval_coverage(y, raw[:, 0], raw[:, 1]),
            "coverage_lo": lo_tol,
            "coverage_hi": hi_tol,
            "mean_width": float((ranges["upper_discount"] - ranges["lower_discount"]).mean()),
            "crossing": pm.crossing_count(ranges),
            **pm.crossing_stats(rng_model.unrepaired_bounds(hold)),
            "raw_crossing": int(((raw[:, 0] > raw[:, 2]) | (raw[:, 2] > raw[:, 1])).sum()),
            "pinball_median": M.pinball(y, ranges["median_discount"].to_numpy(), 0.5),
            "mondrian_groups": len(rng_model.mapie) - 1,
        },
    )
    for r in coverage.filter(pl.col("group") != "ALL").to_dicts():
        rows += _rows(
            bu, cutoff, "range_family", r["group"], {"n": r["n"], "coverage": r["coverage"]}
        )
    # within-deal correlation on the calibration slice
    cal_r = pl.concat([cal, rng_model.predict(cal).drop("calibration_group")], how="horizontal")
    rho = rec.estimate_within_deal_correlation(cal_r)
    rows += _rows(bu, cutoff, "range", "cqr_lightgbm", {"within_deal_correlation": rho})
    # truth
    if line_truth is not None and line_truth.height:
        hold_r = hold_r.join(line_truth, on="order_line_id", how="left")
        if hold_r["q50"].null_count() == 0:
            rows += _rows(bu, cutoff, "truth", "cqr_lightgbm", truth_metrics(hold_r, cfg))
    # win probability
    regions = sorted(set(train["region"].to_list()))
    qf = pwin.build_quote_features(quotes, bu, cutoff, cfg.horizons.win_holdout_days, regions)
    q_train, q_hold = qf.filter(pl.col("split") == "train"), qf.filter(pl.col("split") == "holdout")
    win = pwin.fit_win_model(q_train, s, regions)
    truth = None
    if quote_truth is not None and quote_truth.height:
        q_hold = q_hold.join(
            quote_truth.select("quote_id", "true_win_prob"), on="quote_id", how="left"
        )
        if q_hold["true_win_prob"].null_count() == 0:
            truth = q_hold["true_win_prob"].to_numpy()
    for r in pwin.win_metrics(win, q_hold, truth).to_dicts():
        rows += _rows(bu, cutoff, "win", r.pop("model"), r)
    # drift: holdout vs training baseline (features and the predicted discount)
    base = train.with_columns(predicted_discount=pl.Series(point.predict(train)))
    cur = hold.with_columns(predicted_discount=pl.Series(point.predict(hold)))
    drift = psi_frame(base, cur, [*DRIFT_FEATURES, "predicted_discount"])
    for r in drift.to_dicts():
        rows += _rows(bu, cutoff, "drift", r["feature"], {"psi": r["psi"], "p_value": r["p_value"]})
    metrics = pl.DataFrame(rows, schema=METRIC_SCHEMA)
    encoders = fit_encoders(
        features, (features["split"] == "train").to_numpy(), cfg.features.extra_categorical
    )
    return PartitionResult(
        bu, cutoff, point, rng_model, win, rho, regions, metrics, coverage, hold_r, drift, encoders
    )


def design_effect(groups: np.ndarray, hits: np.ndarray) -> float:
    """Kish design effect ``1 + (m - 1) × icc`` of a 0/1 outcome clustered in deals.

    ``m`` is the size-weighted mean deal size and ``icc`` the within-deal
    correlation of the outcome (pairwise estimator), clipped to ``[0, 1]``; the
    binomial tolerance of the coverage gate uses ``n / design_effect`` rows.
    """
    frame = pl.DataFrame({"g": groups, "z": hits.astype(float) - float(hits.mean())})
    per = frame.group_by("g").agg(s=pl.col("z").sum(), ss=(pl.col("z") ** 2).sum(), n=pl.len())
    pairs = float((per["n"] * (per["n"] - 1)).sum())
    var = float((frame["z"] ** 2).mean())
    if pairs == 0 or var == 0:
        return 1.0
    icc = float(np.clip(float((per["s"] ** 2 - per["ss"]).sum()) / pairs / var, 0.0, 1.0))
    m = float((per["n"] ** 2).sum() / per["n"].sum())
    return 1.0 + (m - 1.0) * icc


def truth_metrics(hold: pl.DataFrame, cfg: BUConfig) -> dict[str, float]:
    """Model range vs the true quantiles the range targets (and the 10/50/90 % ones)."""
    a = (1 - cfg.coverage.target) / 2
    lo_q, hi_q = f"q{round(a * 100):02d}", f"q{round((1 - a) * 100):02d}"
    out = {
        "median_mae_vs_true_q50": (hold["median_discount"] - hold["q50"]).abs().mean(),
        "oracle_mae_of_true_q50": (hold["discount"] - hold["q50"]).abs().mean(),
    }
    if lo_q in hold.columns and hi_q in hold.columns:
        out["true_range_coverage"] = float(
            ((hold["discount"] >= hold[lo_q]) & (hold["discount"] <= hold[hi_q])).mean()
        )
        out[f"lower_mae_vs_true_{lo_q}"] = (hold["lower_discount"] - hold[lo_q]).abs().mean()
        out[f"upper_mae_vs_true_{hi_q}"] = (hold["upper_discount"] - hold[hi_q]).abs().mean()
        out["mean_width_true"] = (hold[hi_q] - hold[lo_q]).mean()
    if "q10" in hold.columns:
        out["lower_mae_vs_true_q10"] = (hold["lower_discount"] - hold["q10"]).abs().mean()
        out["upper_mae_vs_true_q90"] = (hold["upper_discount"] - hold["q90"]).abs().mean()
    return {k: float(v) for k, v in out.items()}


def promotion_gates(
    result_metrics: pl.DataFrame, cfg: BUConfig, champion_cutoff: date | str | None = None
) -> GateReport:
    """The gates of a candidate: coverage within tolerance, LightGBM beats the segment-median
    rule within the paired noise, no crossing, and the champion rules (``mse_vs_champion``).

    ``champion_cutoff``: the serving champion's cutoff, known at promotion time; with it an
    older candidate is refused whatever its metrics. Without it (the gate checks) only the
    beat-the-champion half is judged, from the ``point / champion`` rows the champion
    scored on this holdout (skipped, visibly, when no comparable champion served).
    """

    def val(component: str, model: str, metric: str) -> float:
        return metric_value(result_metrics, component, model, metric)

    n = int(val("range", "cqr_lightgbm", "n_effective"))
    lo, hi = coverage_tolerance(n, cfg.coverage.target, cfg.coverage.base_tolerance)
    return GateReport.of(
        [
            within_gate(
                "holdout_coverage",
                val("range", "cqr_lightgbm", "coverage"),
                lo,
                hi,
                f"target {cfg.coverage.target:.2f} ± {cfg.coverage.base_tolerance}, widened to the 99% binomial interval for the effective holdout size {n} (lines of one deal are correlated)",
            ),
            paired_gate(
                "point_vs_rule",
                val("point", "candidate", "mse_vs_rule_diff"),
                val("point", "candidate", "mse_vs_rule_se"),
                "the segment-median rule (holdout MSE, deal-clustered paired SE)",
                higher_is_better=False,
            ),
            gate(
                "no_crossing",
                val("range", "cqr_lightgbm", "crossing_share"),
                "<=",
                cfg.coverage.max_crossing_share,
                f"share of holdout rows whose conformal range crossed (lower > median or "
                f"median > upper) before the per-row sort repaired it: "
                f"{val('range', 'cqr_lightgbm', 'crossing_rows'):.0f} rows",
            ),
            champion_gate(
                _champion_frame(result_metrics, val, champion_cutoff),
                "mse",
                higher_is_better=False,
                se_col="mse_diff_se",
            ),
        ]
    )


def _champion_frame(metrics: pl.DataFrame, val, champion_cutoff: date | str | None) -> pl.DataFrame:
    """The candidate and champion point MSE in the shape :func:`champion_gate` reads."""
    cutoff = str(metrics["cutoff_date"][0])[:10] if metrics.height else None
    return pl.DataFrame(
        {
            "model": ["candidate", "champion"],
            "mse": [val("point", "candidate", "mse"), val("point", "champion", "mse")],
            "mse_diff_se": [val("point", "candidate", "mse_diff_se"), None],
            "cutoff_date": [cutoff, cutoff],
            "champion_cutoff": [None if champion_cutoff is None else str(champion_cutoff)[:10]] * 2,
        },
        schema_overrides={"mse_diff_se": pl.Float64, "champion_cutoff": pl.Utf8},
    ).fill_nan(None)


def oracle_gap(metrics: pl.DataFrame) -> float:
    """Oracle AUC minus the LightGBM win model's AUC (NaN without truth)."""
    return metric_value(metrics, "win", "oracle", "roc_auc") - metric_value(
        metrics, "win", "lightgbm", "roc_auc"
    )


def newer_champion_rule(cutoff: date, champion_cutoff: date | str | None) -> Gate:
    """The newer-champion rule of :func:`shared.gates.champion_gate` for one candidate.

    Fails when the serving champion was trained at a later cutoff than ``cutoff`` (a
    backfill of an older cutoff never takes ``champion`` from a newer model). The
    beat-the-champion half needs the champion re-applied to this holdout, which the
    pricing artifacts cannot do yet (encoders are not stored with the model): until
    then that half is reported as skipped, visibly.
    """
    frame = pl.DataFrame(
        {
            "model": ["candidate"],
            "cutoff_date": [cutoff.isoformat()],
            "champion_cutoff": [None if champion_cutoff is None else str(champion_cutoff)[:10]],
        }
    )
    return champion_gate(frame, "mae", higher_is_better=False)


WIN_CALIBRATION_MAE_MAX = 0.10


def win_calibration_verdict(y: np.ndarray, p: np.ndarray) -> GateReport:
    """Whether predicted win probabilities are calibrated on ``len(y)`` out-of-time quotes,
    allowing for how few they are: calibration MAE (5 equal-mass bins) <= 0.10 + 2.5 x
    :func:`shared.metrics.calibration_mae_noise` (the MAE the true probabilities show on
    this sample by chance), and Brier score not worse than the base rate's beyond the
    paired bootstrap SE. On ~50 quotes the true probabilities have a calibration MAE of
    ~0.08 and a bare 0.10 / skill > 0 test fires on noise."""
    noise = M.calibration_mae_noise(p, 5)
    base = np.full(len(y), float(np.mean(y)))
    diff, se = M.paired_bootstrap_difference(M.brier, y, base, p, n_boot=200)
    return GateReport.of(
        [
            gate(
                "win_calibration_mae",
                M.calibration_mae(y, p, 5),
                "<=",
                WIN_CALIBRATION_MAE_MAX + 2.5 * noise,
                f"0.10 + 2.5 x chance MAE {noise:.3f} on {len(y)} quotes",
            ),
            paired_gate("win_brier_vs_base_rate", diff, se, "the base rate (Brier, paired SE)"),
        ]
    )


def win_holdout_predictions(
    quotes: pl.DataFrame, win: pwin.WinModel, bu: str, cutoff: date, win_holdout_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, predicted win probabilities)`` on the out-of-time quotes of a partition."""
    qf = pwin.build_quote_features(quotes, bu, cutoff, win_holdout_days, win.regions).filter(
        pl.col("split") == "holdout"
    )
    return qf["label"].to_numpy(), win.predict_proba(qf)
